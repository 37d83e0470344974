import BulkheadModel
import BulkheadSystem
import Foundation
import Glibc
import Testing

/// Bind and tmpfs targets that the root filesystem lacks are made, as docker, podman, bwrap and
/// the kubelet make them: inside the sandbox's root only, through fds, never through a symlink,
/// and never by writing into a read-only root (its directory is covered by a read-only tmpfs
/// copy of itself that holds the new mount point).
@Suite(.enabled(if: Gate.root, Gate.rootReason))
struct MountPointTests {
    /// A directory of the host to bind, holding `marker`, readable by the sandbox's ids.
    static func source() throws -> String {
        let d = NSTemporaryDirectory() + "bh-mpsrc-\(token())"
        try FileManager.default.createDirectory(atPath: d, withIntermediateDirectories: false)
        chmod(d, 0o755)
        try "bound-marker\n".write(toFile: d + "/marker", atomically: true, encoding: .utf8)
        chmod(d + "/marker", 0o644)
        return d
    }

    /// The busybox rootfs of RootfsTests, with grep and mkdir as well.
    static func rootfs() throws -> String {
        let root = try RootfsTests.makeRootfs()
        for tool in ["grep", "mkdir", "test"] { symlink("busybox", "\(root)/bin/\(tool)") }
        return root
    }

    static func names(_ dir: String) -> Set<String> { Set(FileIO.listDirectory(dir)) }

    /// The mountinfo lines whose mount point is `path`.
    static let showMount = "grep -c \" $0 \" /proc/self/mountinfo"

    @Test("--bind onto a path the host's root lacks: made inside the sandbox, the root's entries still visible, nothing made on the host")
    func missingTargetOnTheHostRoot() throws {
        let src = try Self.source()
        defer { try? FileManager.default.removeItem(atPath: src) }
        let name = "/bhmp-\(token())"
        let etcBefore = Self.names("/etc"), rootBefore = Self.names("/")
        let script = "cat \(name)/marker; grep -c ' \(name) ' /proc/self/mountinfo; test -e /usr/bin && echo usr-visible; cat /etc/hostname; stat -c owner:%u /; touch /new-at-root 2>&1; true"
        let r = try Bulkhead.run(["run", "--bind", "\(src):\(name):ro", "--", "/bin/sh", "-c", script], report: true)
        #expect(r.status == 0, "\(r.status) \(r.stderr)")
        #expect(r.stdout.contains("bound-marker"), "\(r.stdout)")
        #expect(r.stdout.contains("\n1\n"), "mountinfo shows the bind at \(name): \(r.stdout)")
        #expect(r.stdout.contains("usr-visible"), "the root's own entries are bound back: \(r.stdout)")
        let hostname = (try? String(contentsOfFile: "/etc/hostname", encoding: .utf8)) ?? ""
        #expect(hostname.isEmpty || r.stdout.contains(hostname), "\(r.stdout)")
        #expect(r.stdout.contains("Read-only file system"), "the root stays read-only: \(r.stdout)")
        #expect(r.stdout.contains("owner:0\n"), "the tmpfs copy of / is the sandbox root's, not the overflow id's: \(r.stdout)")
        #expect(r.report?.reason == .exited)
        #expect(access(name, F_OK) != 0, "\(name) was made on the host")
        #expect(Self.names("/") == rootBefore && Self.names("/etc") == etcBefore, "the host's / or /etc changed")
    }

    @Test("A deep target (/x/a/b/c/d), a --tmpfs target and a file bind under /etc are made; the host is untouched")
    func deepTmpfsAndFileTargets() throws {
        let src = try Self.source()
        defer { try? FileManager.default.removeItem(atPath: src) }
        let t = token()
        let deep = "/bhmp-\(t)/a/b/c/d", scratch = "/bhmp-tmp-\(t)", file = "/etc/bhmp-\(t).conf"
        let etcBefore = Self.names("/etc"), rootBefore = Self.names("/")
        let script = """
            cat \(deep)/marker; cat \(file); echo x > \(scratch)/w && cat \(scratch)/w
            for p in \(deep) \(scratch) \(file); do grep -c " $p " /proc/self/mountinfo; done
            test -f \(file) && echo file-point; cat /etc/passwd | grep -c '^root:'
            """
        let r = try Bulkhead.run(["run", "--bind", "\(src):\(deep):ro", "--tmpfs", scratch, "--bind", "\(src)/marker:\(file):ro",
                                  "--", "/bin/sh", "-c", script])
        #expect(r.status == 0, "\(r.status) \(r.stderr)")
        #expect(r.stdout.components(separatedBy: "bound-marker").count == 3, "\(r.stdout)")
        #expect(r.stdout.contains("x\n1\n1\n1\nfile-point\n1\n"), "each target is a mount point; /etc/passwd still there: \(r.stdout)")
        for p in ["/bhmp-\(t)", scratch, file] { #expect(access(p, F_OK) != 0, "\(p) was made on the host") }
        #expect(Self.names("/") == rootBefore && Self.names("/etc") == etcBefore, "the host's / or /etc changed")
    }

    @Test("--rootfs without /data: the bind works, the read-only rootfs on disk is not written")
    func missingTargetInARootfs() throws {
        let root = try Self.rootfs(), src = try Self.source()
        defer { for d in [root, src] { try? FileManager.default.removeItem(atPath: d) } }
        let before = Self.names(root)
        let r = try Bulkhead.run(["run", "--rootfs", root, "--env", "PATH=/bin", "--bind", "\(src):/data/in/here:ro", "--",
                                  "/bin/sh", "-c", "cat /data/in/here/marker; grep -c ' /data/in/here ' /proc/self/mountinfo; cat /etc/marker; ls /"])
        #expect(r.status == 0, "\(r.status) \(r.stderr)")
        #expect(r.stdout.contains("bound-marker\n1\nrootfs-marker\n"), "\(r.stdout)")
        #expect(r.stdout.contains("bin") && r.stdout.contains("data"), "\(r.stdout)")
        #expect(Self.names(root) == before, "the rootfs on disk changed: \(Self.names(root).subtracting(before))")
    }

    @Test("A target whose parent is a bind of its own: made in a tmpfs copy of that read-only bind, not in its host directory")
    func targetBelowAnotherBind() throws {
        let outer = try Self.source(), inner = try Self.source()
        defer { for d in [outer, inner] { try? FileManager.default.removeItem(atPath: d) } }
        let name = "/bhmp-\(token())"
        let r = try Bulkhead.run(["run", "--bind", "\(outer):\(name):ro", "--bind", "\(inner):\(name)/sub:ro", "--",
                                  "/bin/sh", "-c", "cat \(name)/marker \(name)/sub/marker; grep -c ' \(name)/sub ' /proc/self/mountinfo"])
        #expect(r.status == 0, "\(r.status) \(r.stderr)")
        #expect(r.stdout == "bound-marker\nbound-marker\n1\n", "\(r.stdout)")
        #expect(Self.names(outer) == ["marker"], "the outer bind's host directory was written: \(Self.names(outer))")
        #expect(access(name, F_OK) != 0)
    }

    @Test("A writable rootfs: a directory the sandbox may write gets the mount point itself (as with docker), a root-owned / gets the tmpfs copy; both stay as they were")
    func writableRootfs() throws {
        let root = try Self.rootfs(), src = try Self.source()
        defer { for d in [root, src] { try? FileManager.default.removeItem(atPath: d) } }
        try FileManager.default.createDirectory(atPath: root + "/w", withIntermediateDirectories: false)
        // The sandbox's root on the host: the plan's uid_map ("# uid_map: 0 HOST COUNT ...").
        let plan = try Bulkhead.run(["profile", "show", "container", "--plan"]).stdout
        let mapLine = try #require(plan.split(separator: "\n").first { $0.hasPrefix("# uid_map: ") }, "\(plan)")
        let hostRoot = try #require(mapLine.split(separator: " ").dropFirst(3).first.flatMap { UInt32($0) }, "\(mapLine)")
        chown(root + "/w", hostRoot, hostRoot)
        let (profile, dir) = try RootProfileFile.write("securityContext:\n  readOnlyRootFilesystem: false\n", name: "rw")
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let r = try Bulkhead.run(["run", "--profile", profile, "--rootfs", root, "--env", "PATH=/bin", "--bind", "\(src):/data/x:ro",
                                  "--bind", "\(src):/w/y:ro", "--", "/bin/sh", "-c", "cat /data/x/marker /w/y/marker; touch /w/z && echo wrote"])
        #expect(r.status == 0, "\(r.status) \(r.stderr)")
        #expect(r.stdout == "bound-marker\nbound-marker\nwrote\n", "\(r.stdout)")
        #expect(access(root + "/data", F_OK) != 0, "root's own / was written")
        #expect(Self.names(root + "/w") == ["y", "z"], "\(Self.names(root + "/w"))")
    }

    /// A rootfs whose owner plants links: each must be refused (ELOOP) with nothing made where it points.
    @Test("A rootfs whose target or a component of it is a symlink (to /etc, to ../../host, via /opt) is refused; nothing is made outside",
          arguments: ["abs-etc", "relative-escape", "oldroot", "oldroot-relative", "component", "target-itself"])
    func symlinkInTheRootfsIsRefused(_ kind: String) throws {
        let root = try Self.rootfs(), src = try Self.source()
        let victim = NSTemporaryDirectory() + "bh-mpvictim-\(token())"
        try FileManager.default.createDirectory(atPath: victim, withIntermediateDirectories: false)
        chmod(victim, 0o777)
        defer { for d in [root, src, victim] { try? FileManager.default.removeItem(atPath: d) } }
        let etcBefore = Self.names("/etc")
        let target: String
        switch kind {
        case "abs-etc": symlink("/etc", "\(root)/data"); target = "/data/x"
        case "relative-escape": symlink("../../../../../../../../.." + victim, "\(root)/data"); target = "/data/x"
        // While the init builds the root, the host's tree is at /oldroot: links that lead there.
        case "oldroot": symlink(LaunchPlanner.oldRoot + victim, "\(root)/data"); target = "/data/x"
        case "oldroot-relative": symlink("../../../../.." + LaunchPlanner.oldRoot + victim, "\(root)/data"); target = "/data/x/y"
        case "component": symlink("/etc", "\(root)/opt"); target = "/opt/app/data"
        default: symlink(victim, "\(root)/data"); target = "/data"
        }
        let r = try Bulkhead.run(["run", "--rootfs", root, "--env", "PATH=/bin", "--bind", "\(src):\(target):ro", "--", "/bin/echo", "RAN"])
        #expect(r.status == 125, "\(r.status) \(r.stderr)")
        #expect(r.stderr.contains("ELOOP") && r.stderr.contains("symlink"), "\(r.stderr)")
        #expect(!r.stdout.contains("RAN"))
        #expect(FileIO.listDirectory(victim).isEmpty, "made through the link: \(FileIO.listDirectory(victim))")
        #expect(Self.names("/etc") == etcBefore, "the host's /etc changed")
        #expect(access("/etc/x", F_OK) != 0 && access("/etc/app", F_OK) != 0)
    }

    @Test("No mount point is made under /proc, /sys or /dev: refused with the reason", arguments: ["/proc/bhmp", "/sys/bhmp", "/dev/bhmp/x"])
    func kernelTreesAreRefused(_ target: String) throws {
        let src = try Self.source()
        defer { try? FileManager.default.removeItem(atPath: src) }
        let r = try Bulkhead.run(["run", "--bind", "\(src):\(target):ro", "--", "/bin/echo", "RAN"])
        #expect(r.status == 125, "\(r.status) \(r.stderr)")
        // /proc and /dev are refused as bind targets by the profile's rules already; /sys here.
        #expect(r.stderr.contains("makes no mount points under") || r.stderr.contains("bulkhead owns"), "\(r.stderr)")
        #expect(!r.stdout.contains("RAN"))
    }

    @Test("A directory target where the rootfs has a file (or below one) is refused (ENOTDIR); a file bind onto a directory (EISDIR)")
    func wrongTypeIsRefused() throws {
        let root = try Self.rootfs(), src = try Self.source()
        defer { for d in [root, src] { try? FileManager.default.removeItem(atPath: d) } }
        for (bind, errno) in [("\(src):/etc/marker", "ENOTDIR"), ("\(src):/etc/marker/sub", "ENOTDIR"), ("\(src)/marker:/etc", "EISDIR")] {
            let r = try Bulkhead.run(["run", "--rootfs", root, "--env", "PATH=/bin", "--bind", bind + ":ro", "--", "/bin/echo", "RAN"])
            #expect(r.status == 125, "\(bind): \(r.status) \(r.stderr)")
            #expect(r.stderr.contains(errno), "\(bind): \(r.stderr)")
            #expect(!r.stdout.contains("RAN"))
        }
        #expect(try String(contentsOfFile: "\(root)/etc/marker", encoding: .utf8) == "rootfs-marker\n")
    }

    @Test("`..` in a target is refused before anything runs; nothing is made")
    func dotDotIsRefused() throws {
        let src = try Self.source()
        defer { try? FileManager.default.removeItem(atPath: src) }
        let name = "bhmp-\(token())"
        let r = try Bulkhead.run(["run", "--bind", "\(src):/\(name)/../etc/\(name):ro", "--", "/bin/echo", "RAN"])
        #expect(r.status != 0, "\(r.stderr)")
        #expect(r.stderr.contains("\"..\""), "\(r.stderr)")
        #expect(!r.stdout.contains("RAN"))
        #expect(access("/\(name)", F_OK) != 0 && access("/etc/\(name)", F_OK) != 0)
    }
}
