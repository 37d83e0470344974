import BulkheadConfig
import BulkheadModel
@testable import BulkheadSystem
import CShims
import Foundation
import Glibc
import Testing

/// Issue 12, the fd part: no fd of the launcher reaches the sandbox, the working directory is
/// resolved inside the new root with no magic link (the CVE-2024-21626 class), and masked and
/// read-only paths are mounted through an fd, never a path a rootfs can swap for a symlink.
/// Each attack plants a host file with a random token: it must never appear in the output.
@Suite(.enabled(if: Gate.root, Gate.rootReason), .serialized)
struct TrustFDTests {
    /// A host file the attacks try to read, and the `cat` that reaches it from an escaped cwd
    /// (enough `..` to climb from any host directory to /).
    struct Bait {
        let path: String
        let token: String
        init() throws {
            token = "trustfd-\(UUID().uuidString)"
            path = "/tmp/bh-bait-\(token)"
            try token.write(toFile: path, atomically: true, encoding: .utf8)
        }
        var script: String { "cat " + String(repeating: "../", count: 24) + "tmp/bh-bait-\(token) 2>/dev/null; echo; pwd" }
        func remove() { unlink(path) }
    }

    static func profileFile(_ body: String) throws -> (path: String, dir: String) { try RootProfileFile.write(body, name: "attack") }

    @Test("--workdir /proc/self/fd/N (N = 3...64) never reaches a host file: refused, naming --workdir")
    func workdirFlagThroughInheritedFD() throws {
        let bait = try Bait()
        defer { bait.remove() }
        for n in 3...64 {
            let r = try Bulkhead.run(["run", "--workdir", "/proc/self/fd/\(n)", "--", "/bin/sh", "-c", bait.script])
            #expect(!r.stdout.contains(bait.token), "fd \(n): the workload read the host's file: \(r.stdout)")
            #expect(r.status != 0, "fd \(n): the launch went through (cwd \(r.stdout))")
            #expect(r.stderr.contains("--workdir") && r.stderr.contains("/proc"), "fd \(n): \(r.stderr)")
        }
    }

    @Test("A profile's workingDir /proc/self/fd/N (N = 3...64) is refused, naming workingDir")
    func profileWorkingDirThroughInheritedFD() throws {
        let bait = try Bait()
        defer { bait.remove() }
        for n in 3...64 {
            let (path, dir) = try Self.profileFile("workingDir: /proc/self/fd/\(n)\n")
            defer { try? FileManager.default.removeItem(atPath: dir) }
            let r = try Bulkhead.run(["run", "--profile", path, "--", "/bin/sh", "-c", bait.script])
            #expect(!r.stdout.contains(bait.token), "fd \(n): the workload read the host's file: \(r.stdout)")
            #expect(r.status != 0, "fd \(n): the launch went through (cwd \(r.stdout))")
            #expect(r.stderr.contains("workingDir"), "fd \(n): \(r.stderr)")
        }
    }

    @Test("A Pod container's workingDir under /proc (or /dev/fd) is refused by the parser, naming the field")
    func podWorkingDir() throws {
        func pod(_ dir: String) -> String {
            "apiVersion: v1\nkind: Pod\nmetadata: {name: a}\nspec:\n  restartPolicy: Never\n  containers:\n  - name: app\n    image: busybox\n    command: [/bin/sh]\n    workingDir: \"\(dir)\"\n"
        }
        var paths = (3...64).map { "/proc/self/fd/\($0)" }
        paths += ["/proc", "/proc/1/cwd", "/proc/thread-self/fd/5", "//proc/./self/fd/12", "/dev/fd/4", "/dev/stdin"]
        for dir in paths {
            do {
                _ = try PodManifestParser.parse(pod(dir), file: "pod.yaml")
                Issue.record("workingDir \(dir) was accepted")
            } catch {
                #expect(error.field == "spec.containers[0].workingDir", "\(dir): \(error)")
                #expect(error.message.contains("/proc") || error.message.contains("/dev/fd"), "\(dir): \(error)")
            }
        }
        // The control: an ordinary directory, and a name that only starts like /proc, pass.
        #expect(try PodManifestParser.parse(pod("/procedures"), file: "pod.yaml").containers[0].workingDir == "/procedures")
        #expect(WorkingDirectory.problem("/srv/www") == nil)
        #expect(WorkingDirectory.problem("srv") != nil && WorkingDirectory.problem("/a/../proc") != nil)
    }

    @Test("--preserve-fd N (N = 3...64) that the caller did not open is refused: bulkhead's own fds (its cgroup directory) never reach the workload")
    func preserveFDOfTheLauncher() throws {
        let bait = try Bait()
        defer { bait.remove() }
        // The caller closes 3...64 first (a test runner may leak a pipe or two): none of them is the caller's.
        let closeAll = ["/bin/bash", "-c", "for i in {3..64}; do eval \"exec $i>&-\"; done; exec \"$0\" \"$@\""]
        for n in 3...64 {
            let climb = "/proc/self/fd/\(n)/" + String(repeating: "../", count: 24) + "tmp/bh-bait-\(bait.token)"
            let r = try Bulkhead.run(["run", "--preserve-fd", String(n), "--", "/bin/sh", "-c", "cat \(climb) 2>/dev/null; ls -l /proc/self/fd"],
                                     prefix: closeAll)
            #expect(!r.stdout.contains(bait.token), "fd \(n): the workload read the host's file through a launcher fd: \(r.stdout)")
            #expect(r.status == 125 && r.stderr.contains("--preserve-fd \(n)"), "fd \(n): \(r.status) \(r.stdout) \(r.stderr)")
        }
        // The control: an fd the caller did open passes, and only it.
        let ok = try Bulkhead.run(["run", "--preserve-fd", "7", "--", "/bin/sh", "-c", "ls /proc/self/fd | tr '\\n' ' '"],
                                  prefix: ["/bin/sh", "-c", "exec 7</etc/passwd; exec \"$0\" \"$@\""])
        #expect(ok.status == 0 && ok.stdout == "0 1 2 3 7 ", "\(ok.status) \(ok.stdout) \(ok.stderr)")
    }

    /// A directory of symlinks fdN -> /proc/self/fd/N, bound into the sandbox: a path the model
    /// cannot see through. Only the kernel-side resolution (no magic links) stops these.
    @Test("A working directory that is a symlink to /proc/self/fd/N fails closed, even for a directory fd the caller passes")
    func workdirSymlinkToMagicLink() throws {
        let bait = try Bait()
        defer { bait.remove() }
        let door = NSTemporaryDirectory() + "bh-door-\(token())"
        try FileManager.default.createDirectory(atPath: door, withIntermediateDirectories: false)
        defer { try? FileManager.default.removeItem(atPath: door) }
        chmod(door, 0o755)
        for n in 3...64 { symlink("/proc/self/fd/\(n)", "\(door)/fd\(n)") }
        // fd 9: a host directory the caller hands over with --preserve-fd; the workload may
        // use it as an fd, but its cwd never leaves the root through it.
        let prefix = ["/bin/sh", "-c", "exec 9</tmp; exec \"$0\" \"$@\""]
        for n in 3...64 {
            let flags = ["--bind", "\(door):/tmp/door:ro", "--workdir", "/tmp/door/fd\(n)"] + (n == 9 ? ["--preserve-fd", "9"] : [])
            let r = try Bulkhead.run(["run"] + flags + ["--", "/bin/sh", "-c", bait.script], prefix: prefix)
            #expect(!r.stdout.contains(bait.token), "fd \(n): the workload read the host's file: \(r.stdout)")
            #expect(r.status == 125, "fd \(n): \(r.status) \(r.stdout) \(r.stderr)")
            #expect(r.stderr.contains("chdir /tmp/door/fd\(n)"), "fd \(n): \(r.stderr)")
        }
        // The control: the same bind with an ordinary directory as the cwd works.
        let ok = try Bulkhead.run(["run", "--bind", "\(door):/tmp/door:ro", "--workdir", "/tmp/door", "--", "/bin/pwd"])
        #expect(ok.status == 0 && ok.stdout == "/tmp/door\n", "\(ok.status) \(ok.stdout) \(ok.stderr)")
    }

    /// The init's fds, read from the host while the workload sleeps.
    static func initFDs(_ extra: [String], prefix: String) throws -> (fds: [Int: String], workload: [Int: String]) {
        let p = Process()
        p.executableURL = URL(fileURLWithPath: "/bin/sh")
        p.arguments = ["-c", prefix + "exec \"$0\" \"$@\"", Bulkhead.binary, "run"] + extra + ["--", "/bin/sleep", "30"]
        var env = ProcessInfo.processInfo.environment
        env["BULKHEAD_PROFILE_PATH"] = Bulkhead.packageRoot + "/Profiles"
        p.environment = env
        p.standardOutput = FileHandle.nullDevice
        p.standardError = FileHandle.nullDevice
        p.standardInput = FileHandle.nullDevice
        try p.run()
        defer { p.terminate(); p.waitUntilExit() }
        func children(_ pid: Int32) -> [Int32] {
            (FileIO.read("/proc/\(pid)/task/\(pid)/children") ?? "").split(separator: " ").compactMap { Int32($0) }
        }
        func fds(_ pid: Int32) -> [Int: String] {
            var out: [Int: String] = [:]
            for e in FileIO.listDirectory("/proc/\(pid)/fd") {
                guard let n = Int(e) else { continue }
                out[n] = (try? FileManager.default.destinationOfSymbolicLink(atPath: "/proc/\(pid)/fd/\(e)")) ?? "?"
            }
            return out
        }
        // Wait (by polling state, not time) until the workload is sleep itself, and then until
        // the init has read its exec pipe's end of file and closed that pipe: the workload's
        // execve comes first, and on a loaded machine the init may not have run since (CI saw
        // the exec pipe still open). A pipe the init never closes keeps this loop to its bound
        // (3 s), and the caller's check fails on it.
        for _ in 0..<3000 {
            if let initPID = children(p.processIdentifier).first, let w = children(initPID).first,
               FileIO.read("/proc/\(w)/cmdline")?.hasPrefix("/bin/sleep") == true {
                var held = fds(initPID)
                for _ in 0..<300 where held.values.filter({ $0.hasPrefix("pipe:") }).count > 1 {
                    usleep(10_000)
                    held = fds(initPID)
                }
                return (held, fds(w))
            }
            usleep(10_000)
        }
        Issue.record("no sandbox showed up")
        return ([:], [:])
    }

    @Test("The init holds only 0-2, its message pipe and sync socket and the --preserve-fd fds; no launcher fd (cgroup directory, pidfd, signalfd)")
    func initFileDescriptors() throws {
        // The caller passes fds 5 and 7; only 7 is declared.
        let (fds, workload) = try Self.initFDs(["--preserve-fd", "7"], prefix: "exec 5</etc/hostname 7</etc/passwd; ")
        let extra = fds.filter { ![0, 1, 2, 7].contains($0.key) }
        // Its message pipe and its sync channel (a unix socket: the v1 `tasks` files come over it after clone3).
        #expect(extra.count == 2 && extra.values.filter { $0.hasPrefix("pipe:") }.count == 1
                && extra.values.filter { $0.hasPrefix("socket:") }.count == 1, "the init's fds: \(fds)")
        #expect(fds[7] == "/etc/passwd" && fds[5] == nil, "\(fds)")
        #expect(!fds.values.contains { $0.hasPrefix("/sys/fs/cgroup") || $0.contains("pidfd") || $0.contains("signalfd") }, "\(fds)")
        #expect(Set(workload.keys) == [0, 1, 2, 7], "the workload's fds: \(workload)")
    }

    @Test("The steps are fd-based: fds closed before the cwd is entered; mounts, masks and read-only paths resolved in the new root")
    func planIsFDBased() throws {
        let profile = try EffectiveProfile.resolve([ProfileLayer()])
        let s = try LaunchPlanner.plan(profile: profile, command: ["/bin/true"], context: LaunchContext(callerUID: 0, callerGID: 0, privileged: true, hasSeccomp: true)).steps
        let fork = try #require(s.firstIndex(of: .forkWorkload))
        let close = try #require(s.firstIndex(of: .closeStrayFileDescriptors))
        let cwd = try #require(s.firstIndex(of: .enterWorkingDirectory("/")))
        #expect(fork < close && close < cwd, "fds are closed before the working directory is entered")
        #expect(!s[fork...].contains { if case .changeDirectory = $0 { return true }; return false }, "no chdir by path in the workload")
        let masks = s.filter { if case .mask = $0 { return true }; if case .makeReadOnly = $0 { return true }; return false }
        #expect(!masks.isEmpty)
        for m in masks {
            #expect(Self.rootLength(CArena().step(m)) == UInt32(LaunchPlanner.newRoot.utf8.count), "\(m) is not resolved in the new root")
        }
        // Every mount onto a target inside the new root is attached to an fd of its target,
        // resolved there without symlinks (root_len: the root prefix's length), so the symlink check
        // before it cannot be raced; mounts outside it (staging, "/") stay by path.
        var l = ProfileLayer()
        l.binds = [BindMount(source: "/srv/data", destination: "/data", readOnly: true)]
        l.root = .directory("/images/alpine")
        let all = try LaunchPlanner.plan(profile: try EffectiveProfile.resolve([l]), command: ["/bin/true"],
                                         context: LaunchContext(callerUID: 0, callerGID: 0, privileged: true, hasSeccomp: true)).steps
        var inside = 0
        for m in all {
            let target: String
            switch m {
            case let .mount(_, t, _, _, _), let .mountIfPresent(_, t, _, _, _), let .makeDirectory(t, _), let .createFile(t), let .makeMountPoint(t, _): target = t
            default: continue
            }
            let r = CArena().step(m)
            if target.hasPrefix(LaunchPlanner.newRoot + "/") {
                inside += 1
                #expect(Self.rootLength(r) == UInt32(LaunchPlanner.newRoot.utf8.count), "\(m) is mounted by path")
            } else {
                #expect(Self.rootLength(r) == 0, "\(m)")
            }
        }
        #expect(inside >= 20, "proc, dev, devices and their mount points, sys, tmpfs and the bind")
        let w = CArena().step(.enterWorkingDirectory("/srv"))
        #expect(w.op == BH_OP_ENTER_WORKING_DIRECTORY)
        #expect(w.args.enter_working_directory.path.map { String(cString: $0) } == "/srv")
    }

    /// The `root_len` member of a step record whose op has one (bh_spawn.h), nil for other ops.
    static func rootLength(_ r: bh_step) -> UInt32? {
        switch r.op {
        case BH_OP_MOUNT, BH_OP_MOUNT_IF_PRESENT: r.args.mount.root_len
        case BH_OP_MAKE_DIRECTORY: r.args.make_directory.root_len
        case BH_OP_CREATE_FILE: r.args.create_file.root_len
        case BH_OP_MAKE_MOUNT_POINT: r.args.make_mount_point.root_len
        case BH_OP_MASK: r.args.mask.root_len
        case BH_OP_MAKE_READ_ONLY: r.args.make_read_only.root_len
        default: nil
        }
    }

    /// Two binds, the second's mount point below the first (a directory a local user owns):
    /// the user plants `b -> /oldroot/<host dir>` there; creating /tmp/a/b/c by path would follow
    /// it and make a directory on the host before any check.
    @Test("A bind mount point is created through an fd of its parent: a planted symlink is refused, nothing is created on the host")
    func mountPointCreationDoesNotFollowSymlinks() throws {
        let owned = NSTemporaryDirectory() + "bh-owned-\(token())"
        let hostDir = NSTemporaryDirectory() + "bh-victim-\(token())"
        let src = NSTemporaryDirectory() + "bh-src-\(token())"
        for d in [owned, hostDir, src] { try FileManager.default.createDirectory(atPath: d, withIntermediateDirectories: false); chmod(d, 0o777) }
        defer { for d in [owned, hostDir, src] { try? FileManager.default.removeItem(atPath: d) } }
        symlink(LaunchPlanner.oldRoot + hostDir, "\(owned)/b")
        let r = try Bulkhead.run(["run", "--bind", "\(owned):/tmp/a:rw", "--bind", "\(src):/tmp/a/b/c:ro", "--", "/bin/true"])
        #expect(r.status == 125, "\(r.status) \(r.stderr)")
        #expect(r.stderr.contains("ELOOP"), "\(r.stderr)")
        #expect(FileIO.listDirectory(hostDir).isEmpty, "created on the host through the symlink: \(FileIO.listDirectory(hostDir))")
        // The control: with a real directory there the nested bind works.
        unlink("\(owned)/b")
        let ok = try Bulkhead.run(["run", "--bind", "\(owned):/tmp/a:rw", "--bind", "\(src):/tmp/a/b/c:ro", "--", "/bin/true"])
        #expect(ok.status == 0, "\(ok.status) \(ok.stderr)")
    }

    /// A directory bound into the sandbox holds `secret -> ../../etc/hostname`: a mask or a
    /// read-only remount by path follows it and lands on the wrong file (and a writable rootfs
    /// could swap a checked directory for such a link before the mount).
    @Test("A masked or read-only path that is a symlink is refused (ELOOP), never followed", arguments: ["maskedPaths", "readonlyPaths"])
    func symlinkedMaskedPathIsRefused(_ field: String) throws {
        let d = NSTemporaryDirectory() + "bh-mask-\(token())"
        try FileManager.default.createDirectory(atPath: d, withIntermediateDirectories: false)
        defer { try? FileManager.default.removeItem(atPath: d) }
        chmod(d, 0o755)
        symlink("../../etc/hostname", "\(d)/secret")
        let (path, dir) = try Self.profileFile("filesystem:\n  \(field): [/tmp/d/secret]\n")
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let bind = ["--bind", "\(d):/tmp/d:ro"]
        let r = try Bulkhead.run(["run", "--profile", path] + bind + ["--", "/bin/cat", "/etc/hostname"])
        let what = field == "maskedPaths" ? "mask /tmp/d/secret" : "make /tmp/d/secret read-only"
        #expect(r.status == 125, "\(r.status) \(r.stdout) \(r.stderr)")
        #expect(r.stderr.contains(what) && r.stderr.contains("ELOOP"), "\(r.stderr)")
        // The control: a real file there is masked (reads empty) or read-only, and the run succeeds.
        unlink("\(d)/secret")
        try "hidden\n".write(toFile: "\(d)/secret", atomically: true, encoding: .utf8)
        chmod("\(d)/secret", 0o644)
        let ok = try Bulkhead.run(["run", "--profile", path] + bind + ["--", "/bin/sh", "-c", "cat /tmp/d/secret; grep -c ' /tmp/d/secret ' /proc/self/mountinfo"])
        #expect(ok.status == 0, "\(ok.status) \(ok.stdout) \(ok.stderr)")
        #expect(ok.stdout == (field == "maskedPaths" ? "1\n" : "hidden\n1\n"), "\(ok.stdout)")
    }
}
