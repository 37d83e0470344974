import BulkheadModel
import Foundation
import Glibc
import Testing

/// Red team of `linux.cgroupsPath` (issue 13, session 10): what a config.json author can still
/// do to cgroups the runtime did not make for this container once the path's names are confined.
@Suite(.serialized, .enabled(if: Gate.root, Gate.rootReason))
struct RedTeamOCICgroupsPathTests {
    typealias Runtime = OCICgroupsPathRuntimeTests
    static var hierarchies: [String] { Runtime.hierarchies }

    /// `create` of `b` (expected to be refused), then `delete --force` whatever it left.
    static func create(_ b: OCIRuntimeTests.Bundle) throws -> Bulkhead.Result {
        let r = try OCIRuntimeTests.rt(["create", "--bundle", b.dir, b.id], root: b.stateRoot)
        _ = try? OCIRuntimeTests.rt(["delete", "--force", b.id], root: b.stateRoot)
        return r
    }

    /// A cgroup that exists and is empty (an admin's prepared cgroup, a kubelet pod cgroup
    /// between its containers, a stopped container's leaf) is an ancestor of the path; `create`
    /// then fails after the leaves exist (a throttle for a device the host lacks: ENODEV at the
    /// write). The rollback must remove only what this create made: the branch pruned every
    /// empty ancestor up to the hierarchy's root, so the existing cgroup went too (in each v1
    /// hierarchy; the cgroup2 leaf is removed without pruning).
    @Test func failedCreateKeepsAnExistingAncestor() throws {
        let name = "bh-rtcg-\(token())"
        for h in Self.hierarchies { #expect(mkdir(h + "/" + name, 0o755) == 0, "mkdir \(h)/\(name): \(errno)") }
        defer { for h in Self.hierarchies { rmdir(h + "/" + name + "/mid/c"); rmdir(h + "/" + name + "/mid"); rmdir(h + "/" + name) } }
        let b = try OCIRuntimeTests.Bundle(args: ["/bin/sleep", "100"]) { config in
            var l = config["linux"] as! [String: Any]
            l["resources"] = ["blockIO": ["throttleReadBpsDevice": [["major": 250, "minor": 99, "rate": 1_048_576]]]]
            l["cgroupsPath"] = "/\(name)/mid/c"
            config["linux"] = l
        }
        let r = try Self.create(b)
        #expect(r.status == 1, "a throttle for a missing device fails the create: \(r.stderr)")
        for h in Self.hierarchies {
            #expect(FileManager.default.fileExists(atPath: h + "/" + name), "the existing cgroup \(h)/\(name) was removed by the failed create")
            #expect(!FileManager.default.fileExists(atPath: h + "/" + name + "/mid/c"), "left the leaf \(h)/\(name)/mid/c behind")
        }
    }

    /// Each name within 255 bytes and 16 levels, but the whole path (4096 bytes) longer than the
    /// kernel takes below a mount point (PATH_MAX): the branch accepted it at decoding, `create`
    /// made 15 levels of 255-byte directories in the first hierarchy, failed at the 16th
    /// (ENAMETOOLONG) and left the 15 behind. Refused naming the field, nothing made.
    @Test func overlongWholePathLeavesNothingBehind() throws {
        let first = "bh-rtcg-\(token())"
        let name = { (i: Int) in String((first + "-\(i)-" + String(repeating: "a", count: 255)).prefix(255)) }
        let path = "/" + (0..<16).map(name).joined(separator: "/")
        defer {
            // Depth first, relative to each level (the whole path is over PATH_MAX).
            for h in Self.hierarchies {
                var made: [String] = []
                for i in 0..<16 where FileManager.default.fileExists(atPath: h + "/" + (0...i).map(name).joined(separator: "/")) { made.append(name(i)) }
                while !made.isEmpty {
                    let dir = h + "/" + made.dropLast().joined(separator: "/")
                    let fd = open(dir, O_RDONLY | O_DIRECTORY)
                    if fd >= 0 { unlinkat(fd, made.last!, AT_REMOVEDIR); close(fd) }
                    made.removeLast()
                }
            }
        }
        let b = try Runtime.bundle(path)
        let r = try Self.create(b)
        #expect(r.status == 1 && r.stderr.contains("linux.cgroupsPath"), "\(r.stderr.prefix(300))")
        #expect(!r.stderr.contains(first), "the path is not echoed")
        for h in Self.hierarchies {
            #expect(!FileManager.default.fileExists(atPath: h + "/" + name(0)), "left \(h)/\(name(0))/… behind")
        }
    }

    /// The last name is a control file of the new parent (`cpu.stat` is in every cgroup2 and v1
    /// cpu cgroup): the new parent is made, then the leaf's mkdir fails (EEXIST, the file). The
    /// branch left the parent behind in the first hierarchy; a failed mkdir -p removes what it made.
    @Test func controlFileNamedLeafLeavesNothingBehind() throws {
        let name = "bh-rtcg-\(token())"
        defer { for h in Self.hierarchies { rmdir(h + "/" + name) } }
        let b = try Runtime.bundle("/\(name)/cpu.stat")
        let r = try Self.create(b)
        #expect(r.status == 1, "\(r.stderr)")
        for h in Self.hierarchies {
            #expect(!FileManager.default.fileExists(atPath: h + "/" + name), "left \(h)/\(name) behind")
        }
    }

    /// A stopped container's cgroup is empty but still the container's until `delete`: a new
    /// container placed below it would be killed and its cgroups removed by that `delete`
    /// (which takes the tree below the container's cgroup), and counts against its limits.
    /// The branch accepted it (the check looked only for processes above the new cgroup).
    @Test func belowAStoppedContainersCgroupIsRefused() throws {
        let parent = "bh-rtcg-\(token())"
        let a = try Runtime.bundle("/\(parent)/a", args: ["/bin/true"])
        defer { for h in Self.hierarchies { rmdir(h + "/\(parent)/a/b"); rmdir(h + "/\(parent)/a"); rmdir(h + "/\(parent)") } }
        let c = try OCIRuntimeTests.rt(["create", "--bundle", a.dir, a.id], root: a.stateRoot)
        #expect(c.status == 0, "\(c.stderr)")
        defer { _ = try? OCIRuntimeTests.rt(["delete", "--force", a.id], root: a.stateRoot) }
        #expect(try OCIRuntimeTests.rt(["start", a.id], root: a.stateRoot).status == 0)
        for _ in 0..<400 where (try? OCIRuntimeTests.state(a.id, root: a.stateRoot))??["status"] as? String != "stopped" { usleep(25_000) }
        #expect((try OCIRuntimeTests.state(a.id, root: a.stateRoot))?["status"] as? String == "stopped")
        let b = try Runtime.bundle("/\(parent)/a/b")
        // Looked at before B's own delete could remove what its create made.
        let r = try OCIRuntimeTests.rt(["create", "--bundle", b.dir, b.id], root: b.stateRoot)
        let nested = Self.hierarchies.filter { FileManager.default.fileExists(atPath: $0 + "/\(parent)/a/b") }
        _ = try? OCIRuntimeTests.rt(["delete", "--force", b.id], root: b.stateRoot)
        #expect(nested.isEmpty, "made \(parent)/a/b below the stopped container's cgroup in \(nested)")
        #expect(r.status == 1 && r.stderr.contains("linux.cgroupsPath") && r.stderr.contains("another container's"), "\(r.stderr)")
        // A's delete still removes exactly A's cgroup.
        #expect(try OCIRuntimeTests.rt(["delete", a.id], root: a.stateRoot).status == 0)
        for h in Self.hierarchies { #expect(!FileManager.default.fileExists(atPath: h + "/\(parent)/a")) }
    }
}
