import BulkheadConfig
import BulkheadModel
import Foundation
import Glibc
import Testing

/// `linux.cgroupsPath` against the real kernel (issue 13): a config.json author (the engine's
/// caller) cannot place a container inside bulkhead's own cgroup tree, in a cgroup that exists
/// (the host's, another container's), or below a cgroup holding processes; `create` refuses it
/// naming the field and the fix, and makes, joins and removes nothing. Run against main's
/// binaries (BULKHEAD_TEST_BINARY=/var/tmp/s10-main/bulkhead) every test here fails.
@Suite(.serialized, .enabled(if: Gate.root, Gate.rootReason))
struct OCICgroupsPathRuntimeTests {
    typealias B = OCIRuntimeTests.Bundle
    static func rt(_ args: [String], root: String) throws -> Bulkhead.Result { try OCIRuntimeTests.rt(args, root: root) }

    static func bundle(_ path: String, args: [String] = ["/bin/sleep", "100"]) throws -> B {
        try B(args: args) { config in
            var l = config["linux"] as! [String: Any]
            l["resources"] = ["pids": ["limit": 50]]
            l["cgroupsPath"] = path
            config["linux"] = l
        }
    }

    /// The hierarchies a container's cgroup is made in here: cgroup2 and the v1 ones with a
    /// controller (the named systemd hierarchy is not bulkhead's).
    static let hierarchies: [String] = {
        let names = (try? FileManager.default.contentsOfDirectory(atPath: "/sys/fs/cgroup")) ?? []
        if names.contains("cgroup.controllers") { return ["/sys/fs/cgroup"] }
        return names.filter { $0 != "systemd" }.sorted().map { "/sys/fs/cgroup/" + $0 }
    }()

    /// Inside bulkhead's own tree (the cgroup2 base is /bulkhead at the root as root; a tenant's
    /// directory, a leaf-shaped name there): refused by name, and nothing made there. main put
    /// the container's cgroup at /bulkhead/default/<name>, counted against the default tenant's
    /// quota, and a leaf-shaped one (then `pause`d) was judged by every later launch's walk.
    @Test(arguments: ["/bulkhead/default/cgp-TOKEN", "/bulkhead/default/c-999999-1-TOKEN", "/bulkhead/oci/cgp-TOKEN"])
    func bulkheadsOwnTreeIsRefused(_ shape: String) throws {
        let t = String(token().dropFirst(2))
        let path = shape.replacingOccurrences(of: "TOKEN", with: t)
        let b = try Self.bundle(path)
        let r = try Self.rt(["create", "--bundle", b.dir, b.id], root: b.stateRoot)
        defer { _ = try? Self.rt(["delete", "--force", b.id], root: b.stateRoot) }
        #expect(r.status == 1 && r.stderr.contains("linux.cgroupsPath") && r.stderr.contains("bulkhead's own cgroups"), "\(r.stderr)")
        for h in Self.hierarchies {
            #expect(!FileManager.default.fileExists(atPath: h + path), "made \(h + path)")
        }
        #expect(!FileManager.default.fileExists(atPath: b.stateRoot + "/" + b.id), "no state left")
    }

    /// A cgroup that exists already (made here with mkdir, in every hierarchy or in one only):
    /// never joined, its limits never written, and left as it was after the refusal.
    @Test(arguments: [true, false])
    func existingCgroupIsNeitherJoinedNorRemoved(_ everywhere: Bool) throws {
        let name = "bh-cgp-\(token())"
        let made = everywhere ? Self.hierarchies : [Self.hierarchies.first { $0.hasSuffix("/pids") } ?? Self.hierarchies[0]]
        for h in made { #expect(mkdir(h + "/" + name, 0o755) == 0) }
        defer { for h in made { rmdir(h + "/" + name) } }
        let b = try Self.bundle("/" + name)
        let r = try Self.rt(["create", "--bundle", b.dir, b.id], root: b.stateRoot)
        defer { _ = try? Self.rt(["delete", "--force", b.id], root: b.stateRoot) }
        #expect(r.status == 1 && r.stderr.contains("linux.cgroupsPath") && r.stderr.contains("exists already"), "\(r.stderr)")
        for h in made {
            #expect(FileManager.default.fileExists(atPath: h + "/" + name), "the existing cgroup \(h)/\(name) was removed")
            let procs = (try? String(contentsOfFile: h + "/" + name + "/cgroup.procs", encoding: .utf8)) ?? "?"
            #expect(procs.isEmpty, "joined: \(procs)")
        }
        for h in Self.hierarchies where !made.contains(h) {
            #expect(!FileManager.default.fileExists(atPath: h + "/" + name), "left \(h)/\(name) behind")
        }
    }

    /// Below another container's cgroup: B's cgroupsPath under A's is refused (A's init is a
    /// member there), so A's limits do not count B and A's `delete --force` cannot reach B's
    /// tasks. main created B there.
    @Test func belowAnotherContainersCgroupIsRefused() throws {
        let parent = "bh-cgp-\(token())"
        let a = try Self.bundle("/\(parent)/a")
        #expect(try Self.rt(["create", "--bundle", a.dir, a.id], root: a.stateRoot).status == 0)
        defer {
            _ = try? Self.rt(["delete", "--force", a.id], root: a.stateRoot)
            for h in Self.hierarchies { rmdir(h + "/\(parent)/a/b"); rmdir(h + "/\(parent)/a"); rmdir(h + "/\(parent)") }
        }
        let b = try Self.bundle("/\(parent)/a/b")
        let r = try Self.rt(["create", "--bundle", b.dir, b.id], root: b.stateRoot)
        defer { _ = try? Self.rt(["delete", "--force", b.id], root: b.stateRoot) }
        #expect(r.status == 1 && r.stderr.contains("linux.cgroupsPath") && r.stderr.contains("holds processes"), "\(r.stderr)")
        for h in Self.hierarchies {
            #expect(!FileManager.default.fileExists(atPath: h + "/\(parent)/a/b"), "made \(h)/\(parent)/a/b")
        }
        // A is untouched and still deletes cleanly.
        let s = try #require(try OCIRuntimeTests.state(a.id, root: a.stateRoot))
        #expect(s["status"] as? String == "created")
    }

    /// A host cgroup holding processes (a test-made one with a sleeping member, standing for
    /// a session scope or a service's cgroup): nothing is made below it.
    @Test func belowAHostCgroupWithProcessesIsRefused() throws {
        let name = "bh-cgp-\(token())"
        let pidsH = Self.hierarchies.first { $0.hasSuffix("/pids") } ?? Self.hierarchies[0]
        #expect(mkdir(pidsH + "/" + name, 0o755) == 0)
        let sleeper = Process()
        sleeper.executableURL = URL(fileURLWithPath: "/bin/sleep")
        sleeper.arguments = ["100"]
        try sleeper.run()
        defer {
            kill(sleeper.processIdentifier, SIGKILL); sleeper.waitUntilExit()
            rmdir(pidsH + "/" + name + "/x"); rmdir(pidsH + "/" + name)
            for h in Self.hierarchies where h != pidsH { rmdir(h + "/" + name + "/x"); rmdir(h + "/" + name) }
        }
        try "\(sleeper.processIdentifier)\n".write(toFile: pidsH + "/" + name + "/cgroup.procs", atomically: false, encoding: .utf8)
        let b = try Self.bundle("/\(name)/x")
        let r = try Self.rt(["create", "--bundle", b.dir, b.id], root: b.stateRoot)
        defer { _ = try? Self.rt(["delete", "--force", b.id], root: b.stateRoot) }
        #expect(r.status == 1 && r.stderr.contains("holds processes"), "\(r.stderr)")
        #expect(!FileManager.default.fileExists(atPath: pidsH + "/" + name + "/x"))
    }

    /// What engines send still works: a fresh /<namespace>/<id> (containerd's shape), made,
    /// limited, and removed by `delete` (its parent, made by the engine's first container, is
    /// the engine's and stays).
    @Test func engineShapeIsMadeAndRemoved() throws {
        let ns = "bh-cgp-\(token())"
        let b = try Self.bundle("/\(ns)/c1")
        defer { for h in Self.hierarchies { rmdir(h + "/" + ns) } }
        let pidFile = b.dir + "/pid"
        let c = try Self.rt(["create", "--bundle", b.dir, "--pid-file", pidFile, b.id], root: b.stateRoot)
        #expect(c.status == 0, "\(c.stderr)")
        let pid = Int32((try? String(contentsOfFile: pidFile, encoding: .utf8)) ?? "") ?? 0
        let dirs = OCIRuntimeTests.cgroupDirs(of: pid, under: "/\(ns)/c1")
        #expect(!dirs.isEmpty)
        #expect(try Self.rt(["delete", "--force", b.id], root: b.stateRoot).status == 0)
        for d in dirs { #expect(!FileManager.default.fileExists(atPath: d)) }
    }
}
