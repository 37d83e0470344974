import Foundation
import Glibc
import Testing
import BulkheadModel
@testable import BulkheadSystem

/// Issue 15, "the flags container users reach for": each docker/podman/bwrap spelling run on
/// the real kernel, its effect read inside the sandbox (/proc/self/mountinfo, /proc/self/limits,
/// the environment, the working directory) and in the typed report.
@Suite(.enabled(if: Gate.root, Gate.rootReason), .serialized)
struct RunFlagsTests {
    /// A host directory holding a file `marker` with `token`, readable by the sandbox's ids.
    static func hostDirectory(_ token: String) throws -> String {
        let dir = NSTemporaryDirectory() + "bh-flags-\(token)"
        try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
        chmod(dir, 0o755)
        try token.write(toFile: dir + "/marker", atomically: false, encoding: .utf8)
        chmod(dir + "/marker", 0o644)
        return dir
    }

    /// The mountinfo line of `target` inside the sandbox, as the workload prints it.
    static let mountLine = #"awk '$5 == "/mnt" { print "MOUNT", $6, $9, $10, $11 }' /proc/self/mountinfo"#

    @Test("-v SRC:/mnt:ro, --mount type=bind,readonly and --ro-bind SRC DST bind SRC read-only; -v SRC:/mnt read-write")
    func bindAliases() throws {
        let t = token()
        let dir = try Self.hostDirectory(t)
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let script = "cat /mnt/marker; echo; \(Self.mountLine); if touch /mnt/new 2>/dev/null; then echo WROTE; else echo REFUSED; fi"
        for flags in [["-v", "\(dir):/mnt:ro"], ["--volume", "\(dir):/mnt:ro"],
                      ["--mount", "type=bind,source=\(dir),target=/mnt,readonly"], ["--ro-bind", dir, "/mnt"], ["--ro-bind", "\(dir):/mnt"]] {
            let r = try Bulkhead.sh(script, flags, report: true)
            #expect(r.status == 0, "\(flags): \(r.stderr)")
            #expect(r.stdout.contains(t), "\(flags): the bind's file is seen: \(r.stdout)")
            let mount = r.stdout.split(separator: "\n").first { $0.hasPrefix("MOUNT ") }.map(String.init) ?? ""
            #expect(mount.split(separator: " ").dropFirst().first?.split(separator: ",").contains("ro") == true, "\(flags): \(mount)")
            #expect(r.stdout.contains("REFUSED") && !r.stdout.contains("WROTE"), "\(flags): \(r.stdout)")
            #expect(r.report?.controls.binds.contains { $0.contains(dir) && $0.contains("/mnt") } == true, "\(String(describing: r.report?.controls.binds))")
        }
        // Read-write, as docker: the sandbox's root (a mapped id) may write where the host's mode lets it.
        chmod(dir, 0o777)
        let rw = try Bulkhead.sh(script, ["-v", "\(dir):/mnt"])
        #expect(rw.status == 0 && rw.stdout.contains("WROTE"), "\(rw.stdout) \(rw.stderr)")
        #expect(FileManager.default.fileExists(atPath: dir + "/new"))
    }

    @Test("--mount type=tmpfs,target=/mnt,tmpfs-size=1Mi mounts a 1 MiB tmpfs on /mnt")
    func tmpfsMount() throws {
        let r = try Bulkhead.sh(Self.mountLine, ["--mount", "type=tmpfs,target=/mnt,tmpfs-size=1Mi"], report: true)
        #expect(r.status == 0, "\(r.stderr)")
        let line = r.stdout.split(separator: "\n").first { $0.hasPrefix("MOUNT ") } ?? ""
        #expect(line.contains(" tmpfs ") && line.contains("size=1024k"), "\(r.stdout)")
        #expect(r.report?.controls.tmpfs.contains { $0.path == "/mnt" } == true)
    }

    @Test("--read-only is the default; --read-write on the host's root is refused before anything runs (exit 125, the flag named)")
    func readWrite() throws {
        let t = token()
        let ro = try Bulkhead.sh("echo \(t)", ["--read-only"], report: true)
        #expect(ro.status == 0 && ro.stdout.contains(t) && ro.report?.controls.readOnlyRootFilesystem == true, "\(ro.stderr)")
        let rw = try Bulkhead.sh("echo \(t)", ["--read-write"])
        #expect(rw.status == 125, "\(rw.stderr)")
        #expect(rw.stderr.contains("--read-write") && rw.stderr.contains("--rootfs"), "\(rw.stderr)")
        #expect(!rw.stdout.contains(t), "the workload ran")
    }

    @Test("--env-file sets its variables (--env wins), --unsetenv removes the profile's PATH; a bad line is named by number, not shown")
    func envFile() throws {
        let t = token()
        let dir = NSTemporaryDirectory() + "bh-envfile-\(t)"
        try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(atPath: dir) }
        chmod(dir, 0o700)
        let file = dir + "/app.env"
        try "# settings\nFROMFILE=\(t)\nOVER=file\n".write(toFile: file, atomically: false, encoding: .utf8)
        chmod(file, 0o600)
        let r = try Bulkhead.run(["run", "--env-file", file, "--env", "OVER=flag", "--unsetenv", "PATH", "--", "/usr/bin/env"])
        #expect(r.status == 0, "\(r.stderr)")
        let lines = Set(r.stdout.split(separator: "\n").map(String.init))
        #expect(lines.contains("FROMFILE=\(t)") && lines.contains("OVER=flag") && !lines.contains("OVER=file"), "\(lines)")
        #expect(!lines.contains { $0.hasPrefix("PATH=") }, "\(lines)")

        let secret = "s3cr3t\(t)"
        try "GOOD=1\nBAD NAME=\(secret)\n".write(toFile: file, atomically: false, encoding: .utf8)
        let bad = try Bulkhead.run(["run", "--env-file", file, "--", "/bin/true"])
        #expect(bad.status == 125 && bad.stderr.contains("line 2") && bad.stderr.contains("--env-file"), "\(bad.stderr)")
        #expect(!bad.stderr.contains(secret) && !bad.stderr.contains("BAD"), "\(bad.stderr)")
        // A file others may write is refused by the checked open (never read).
        chmod(file, 0o666)
        let writable = try Bulkhead.run(["run", "--env-file", file, "--", "/bin/true"])
        #expect(writable.status == 125 && writable.stderr.contains(file) && !writable.stderr.contains(secret), "\(writable.stderr)")
    }

    @Test("--pids-limit enforces pids.max, --ulimit sets the rlimit (/proc/self/limits), --chdir the working directory")
    func numberAliases() throws {
        let r = try Bulkhead.sh("pwd; grep 'Max open files' /proc/self/limits",
                                ["--pids-limit", "48", "--ulimit", "nofile=100:200", "--chdir", "/usr"], report: true)
        #expect(r.status == 0, "\(r.stderr)")
        let lines = r.stdout.split(separator: "\n").map(String.init)
        #expect(lines.first == "/usr", "\(lines)")
        let limits = lines.first { $0.hasPrefix("Max open files") }?.split(separator: " ").map(String.init) ?? []
        #expect(limits.dropFirst(3).prefix(2) == ["100", "200"], "\(limits)")
        let rep = try LimitTests.report(r)
        try LimitTests.expectEnforced(rep, "pids.max", "48")
    }

    @Test("--dry-run prints the effective profile and the plan, with the flags in them, and runs nothing (exit 0)")
    func dryRun() throws {
        let t = token()
        let dir = try Self.hostDirectory(t)
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let r = try Bulkhead.run(["run", "--dry-run", "-v", "\(dir):/mnt:ro", "--pids-limit", "40", "--", "/bin/sh", "-c", "echo $((6*7))RAN\(t)"])
        #expect(r.status == 0, "\(r.stderr)")
        #expect(r.stdout.contains("# effective profile") && r.stdout.contains("# launch plan"), "\(r.stdout)")
        #expect(r.stdout.contains("pids: 40") && r.stdout.contains(dir), "\(r.stdout)")
        #expect(!r.stdout.contains("42RAN\(t)"), "the workload ran: \(r.stdout)")
        // A refused flag is refused as a run would refuse it.
        let bad = try Bulkhead.run(["run", "--dry-run", "--read-write", "--", "/bin/true"])
        #expect(bad.status == 125 && bad.stderr.contains("--read-write"), "\(bad.stderr)")
    }

    @Test("--shm-size sets the size of the /dev/shm tmpfs (mountinfo); without it /dev/shm is 64Mi")
    func shmSize() throws {
        let script = #"awk '$5 == "/dev/shm" { print "SHM", $9, $10, $11 }' /proc/self/mountinfo"#
        let r = try Bulkhead.sh(script, ["--shm-size", "2Mi"])
        #expect(r.status == 0, "\(r.stderr)")
        // The last /dev/shm line is the one on top (the host's, under the sandbox's /dev, are listed first).
        let shm = r.stdout.split(separator: "\n").last { $0.hasPrefix("SHM ") } ?? ""
        #expect(shm.contains("shm") && shm.contains("size=2048k"), "\(r.stdout)")
        let d = try Bulkhead.sh(script)
        #expect(d.stdout.split(separator: "\n").last { $0.hasPrefix("SHM ") }?.contains("size=65536k") == true, "\(d.stdout)")
        let bad = try Bulkhead.sh("true", ["--shm-size", "0"])
        #expect(bad.status == 125 && bad.stderr.contains("--shm-size"), "\(bad.stderr)")
    }

    @Test("-q/--quiet and --log-level error silence warnings (the rootless kept-groups one) but not the report; --log-level warning keeps them")
    func quiet() throws {
        let nobody = ["/usr/bin/setpriv", "--reuid=65534", "--regid=65534", "--groups=4243", "--inh-caps=-all"]
        let args = ["run", "--limits", "best-effort", "--", "/bin/true"]
        let loud = try Bulkhead.run(args, prefix: nobody)
        #expect(loud.status == 0 && loud.stderr.contains("supplementary groups"), "\(loud.stderr)")
        let warning = try Bulkhead.run(["run", "--log-level", "warning"] + args.dropFirst(), prefix: nobody)
        #expect(warning.status == 0 && warning.stderr.contains("supplementary groups"), "\(warning.stderr)")
        for flag in [["-q"], ["--quiet"], ["--log-level", "error"]] {
            let r = try Bulkhead.run(["run"] + flag + args.dropFirst(), report: true, prefix: nobody)
            #expect(r.status == 0 && !r.stderr.contains("supplementary groups"), "\(flag): \(r.stderr)")
            #expect(r.report?.controls.supplementaryGroupsKept == [4243], "\(flag): the report keeps it")
        }
        let bad = try Bulkhead.run(["run", "--log-level", "debug", "--", "/bin/true"])
        #expect(bad.status == 125 && bad.stderr.contains("--log-level"), "\(bad.stderr)")
    }

    @Test("--memory-swap: memory plus swap is enforced (v1 memory.memsw.limit_in_bytes, v2 memory.swap.max) and listed in the report")
    func memorySwap() throws {
        let r = try Bulkhead.sh("true", ["--memory", "32Mi", "--memory-swap", "48Mi"], report: true)
        #expect(r.status == 0, "\(r.stderr)")
        let rep = try LimitTests.report(r)
        let swap = try #require(rep.limits?.enforced.first { $0.limit == .memorySwapMax }, "\(String(describing: rep.limits))")
        // v1 writes memory+swap, v2 swap alone.
        #expect(swap.driver == .v1 ? swap.value == String(48 << 20) && swap.file.hasSuffix("memory.memsw.limit_in_bytes")
                                   : swap.value == String(16 << 20) && swap.file.hasSuffix("memory.swap.max"), "\(swap)")
        try LimitTests.expectEnforced(rep, "memory.max", String(32 << 20))
        let bad = try Bulkhead.sh("true", ["--memory", "32Mi", "--memory-swap", "16Mi"])
        #expect(bad.status == 125 && bad.stderr.contains("memorySwap"), "\(bad.stderr)")
    }

    @Test("--stop-signal at --timeout: the workload gets the signal first (its trap runs), SIGKILL only when it ignores it; both in the report's timeoutSignals")
    func stopSignal() throws {
        let t = token()
        let trap = "trap 'echo GOT-TERM-\(t); exit 7' TERM; while :; do sleep 0.05; done"
        let r = try Bulkhead.sh(trap, ["--timeout", "200ms", "--stop-signal", "SIGTERM", "--stop-timeout", "30s"], report: true)
        #expect(r.status == 124 && r.stdout.contains("GOT-TERM-\(t)"), "\(r.stdout) \(r.stderr)")
        #expect(r.report?.reason == .timeout && r.report?.timeoutSignals == ["SIGTERM"], "\(String(describing: r.report?.timeoutSignals))")
        #expect(r.report?.signal == nil, "the workload exited on its own trap: \(String(describing: r.report?.signal))")
        // A workload that ignores it is killed after --stop-timeout.
        let ignore = try Bulkhead.sh("trap '' TERM; echo READY; while :; do sleep 0.05; done", ["--timeout", "200ms", "--stop-signal", "TERM", "--stop-timeout", "200ms"], report: true)
        #expect(ignore.status == 124 && ignore.report?.timeoutSignals == ["SIGTERM", "SIGKILL"] && ignore.report?.signal == "SIGKILL",
                "\(String(describing: ignore.report?.timeoutSignals)) \(ignore.stderr)")
        // Without --stop-signal: SIGKILL at once, as before, and the trap never runs.
        let plain = try Bulkhead.sh(trap, ["--timeout", "200ms"], report: true)
        #expect(plain.status == 124 && !plain.stdout.contains("GOT-TERM") && plain.report?.timeoutSignals == ["SIGKILL"], "\(plain.stdout)")
        // Refused: a signal the init does not pass on, and a stop signal without --timeout.
        let bad = try Bulkhead.sh("true", ["--timeout", "1s", "--stop-signal", "SIGSTOP"])
        #expect(bad.status == 125 && bad.stderr.contains("--stop-signal") && bad.stderr.contains("SIGTERM"), "\(bad.stderr)")
        let alone = try Bulkhead.sh("echo RAN", ["--stop-signal", "SIGTERM"])
        #expect(alone.status == 125 && alone.stderr.contains("--timeout") && !alone.stdout.contains("RAN"), "\(alone.stderr)")
    }

    @Test("--ipc/--uts/--userns/--pid host keep the host's namespace (/proc/self/ns), private makes one; the report's hostNamespaces says which; --pid host needs --userns host; --userns host is root's only")
    func namespaces() throws {
        func host(_ ns: String) throws -> String { try FileManager.default.destinationOfSymbolicLink(atPath: "/proc/self/ns/\(ns)") }
        let script = "for n in pid ipc uts user; do echo \"$n $(readlink /proc/self/ns/$n)\"; done"
        func inside(_ r: Bulkhead.Result) -> [String: String] {
            Dictionary(r.stdout.split(separator: "\n").compactMap { l -> (String, String)? in
                let f = l.split(separator: " "); return f.count == 2 ? (String(f[0]), String(f[1])) : nil
            }, uniquingKeysWith: { a, _ in a })
        }
        for (flag, ns) in [("--ipc", "ipc"), ("--uts", "uts"), ("--userns", "user")] {
            let r = try Bulkhead.sh(script, [flag, "host"], report: true)
            #expect(r.status == 0, "\(flag): \(r.stderr)")
            let hostNS = try host(ns)
            #expect(inside(r)[ns] == hostNS, "\(flag) host: \(r.stdout)")
            #expect(r.report?.controls.hostNamespaces?.contains(ns) == true && r.report?.controls.namespaces.contains(ns) == false,
                    "\(flag): \(String(describing: r.report?.controls))")
            let p = try Bulkhead.sh(script, [flag, "private"], report: true)
            #expect(p.status == 0 && inside(p)[ns] != nil && inside(p)[ns] != hostNS, "\(flag) private: \(p.stdout)")
            #expect(p.report?.controls.hostNamespaces?.contains(ns) == false)
        }
        let pidAlone = try Bulkhead.sh("echo RAN", ["--pid", "host"])
        #expect(pidAlone.status == 125 && pidAlone.stderr.contains("--userns host") && !pidAlone.stdout.contains("RAN"), "\(pidAlone.stderr)")
        let pid = try Bulkhead.sh(script, ["--pid", "host", "--userns", "host"], report: true)
        let hostPID = try host("pid")
        #expect(pid.status == 0 && inside(pid)["pid"] == hostPID, "\(pid.stdout) \(pid.stderr)")
        #expect(pid.report?.controls.hostNamespaces.map { Set($0).isSuperset(of: ["pid", "user"]) } == true)
        // A caller who is not root may not keep the host's user namespace: nothing runs.
        let nobody = ["/usr/bin/setpriv", "--reuid=65534", "--regid=65534", "--clear-groups", "--inh-caps=-all"]
        let rootless = try Bulkhead.run(["run", "--limits", "best-effort", "--userns", "host", "--", "/bin/sh", "-c", "echo RAN"], prefix: nobody)
        #expect(rootless.status == 125 && !rootless.stdout.contains("RAN") && rootless.stderr.contains("user namespace"), "\(rootless.stderr)")
        let bad = try Bulkhead.sh("true", ["--ipc", "container:x"])
        #expect(bad.status == 125 && bad.stderr.contains("--ipc"), "\(bad.stderr)")
    }

    @Test("--device binds the host's node at its path (same major:minor, a devtmpfs mount, parents made in the sandbox's /dev); what is not a device node below /dev, or :r, is refused")
    func device() throws {
        var st = stat()
        try #require(stat("/dev/net/tun", &st) == 0 && st.st_mode & S_IFMT == S_IFCHR, "no /dev/net/tun on this host")
        let dev = UInt64(st.st_rdev) // glibc's gnu_dev_major/minor encoding
        let (maj, mnr) = (((dev >> 8) & 0xfff) | ((dev >> 32) & ~0xfff), (dev & 0xff) | ((dev >> 12) & ~0xff))
        let want = "\(String(maj, radix: 16)):\(String(mnr, radix: 16))"
        let r = try Bulkhead.sh(#"stat -c 'DEV %F %t:%T' /dev/net/tun; awk '$5 == "/dev/net/tun" { print "MOUNT", $9 }' /proc/self/mountinfo"#,
                                ["--device", "/dev/net/tun:rwm"])
        #expect(r.status == 0, "\(r.stderr)")
        #expect(r.stdout.contains("DEV character special file \(want)") && r.stdout.contains("MOUNT devtmpfs"), "\(r.stdout)")
        // Without the flag the sandbox's /dev has no such node.
        let without = try Bulkhead.sh("ls /dev/net/tun 2>&1 || echo ABSENT")
        #expect(without.stdout.contains("ABSENT"), "\(without.stdout)")
        for (d, words) in [("/dev/stdin", "not a device node"), ("/dev/shm/x", "sandbox's own"), ("/dev/pts/0", "sandbox's own"),
                           ("/etc/passwd", "below /dev"), ("/dev/net/tun:r", "cannot be enforced")] {
            let bad = try Bulkhead.sh("echo RAN", ["--device", d])
            #expect(bad.status == 125 && bad.stderr.contains("--device") && bad.stderr.contains(words) && !bad.stdout.contains("RAN"), "\(d): \(bad.stderr)")
        }
    }

    @Test("--cpuset-cpus pins the sandbox (Cpus_allowed_list, cpuset.cpus in the report); an offline CPU is refused naming the online ones")
    func cpuset() throws {
        let last = try #require(FileIO.read("/sys/devices/system/cpu/online")?.split(separator: "\n").first?.split(separator: ",").last?.split(separator: "-").last.map(String.init))
        let r = try Bulkhead.sh("grep Cpus_allowed_list /proc/self/status", ["--cpuset-cpus", last], report: true)
        #expect(r.status == 0, "\(r.stderr)")
        #expect(r.stdout.split(separator: "\n").contains { $0.hasPrefix("Cpus_allowed_list:") && $0.hasSuffix("\t\(last)") }, "\(r.stdout)")
        let rep = try LimitTests.report(r)
        let e = try #require(rep.limits?.enforced.first { $0.limit == .cpusetCPUs }, "\(String(describing: rep.limits))")
        #expect(e.value == last && e.file.hasSuffix("/cpuset.cpus"), "\(e)")
        #expect(FileManager.default.fileExists(atPath: e.file) == false, "the leaf is removed after the run")
        let bad = try Bulkhead.sh("echo RAN", ["--cpuset-cpus", "8000"])
        #expect(bad.status == 125 && bad.stderr.contains("--cpuset-cpus") && bad.stderr.contains("online") && !bad.stdout.contains("RAN"), "\(bad.stderr)")
        // From a profile: the error names the profile's file and field, not the command line.
        let (profile, dir) = try RootProfileFile.write("resources:\n  cpusetCpus: \"8000\"\n", name: "pin")
        defer { try? FileManager.default.removeItem(atPath: dir) }
        chmod(dir, 0o755) // readable by everyone: the error may show the value
        let fromProfile = try Bulkhead.sh("echo RAN", ["--profile", profile])
        #expect(fromProfile.status == 125 && fromProfile.stderr.contains("\(profile): resources.cpusetCpus") && fromProfile.stderr.contains("online")
                && !fromProfile.stderr.contains("<command line>") && !fromProfile.stdout.contains("RAN"), "\(fromProfile.stderr)")
    }

    @Test("--user NAME[:GROUP] is looked up in the sandbox's root: the host's /etc/passwd on the host root, the rootfs's own in a rootfs; a symlinked or missing file, or an unknown name, is refused without showing the file")
    func userNames() throws {
        let host = try Bulkhead.sh("id -u; id -g", ["--user", "nobody"])
        #expect(host.status == 0 && host.stdout == "65534\n65534\n", "\(host.stdout) \(host.stderr)")
        let root = try RootfsTests.makeRootfs()
        defer { try? FileManager.default.removeItem(atPath: root) }
        let secret = "s3cr3t\(token())"
        try "root:x:0:0::/:/bin/sh\n\(secret) garbage line\napp:x:1234:2345::/:/bin/sh\n".write(toFile: root + "/etc/passwd", atomically: false, encoding: .utf8)
        try "root:x:0:\nstaff:x:3456:\n".write(toFile: root + "/etc/group", atomically: false, encoding: .utf8)
        let flags = ["--rootfs", root, "--env", "PATH=/bin"]
        let app = try Bulkhead.run(["run"] + flags + ["--user", "app", "--", "/bin/sh", "-c", "id -u; id -g"])
        #expect(app.status == 0 && app.stdout == "1234\n2345\n", "the rootfs's own passwd, not the host's: \(app.stdout) \(app.stderr)")
        let staff = try Bulkhead.run(["run"] + flags + ["--user", "app:staff", "--", "/bin/sh", "-c", "id -u; id -g"])
        #expect(staff.status == 0 && staff.stdout == "1234\n3456\n", "\(staff.stdout) \(staff.stderr)")
        // nobody is the host's, not this root's: refused, and no line of the file is shown.
        let missing = try Bulkhead.run(["run"] + flags + ["--user", "nobody", "--", "/bin/echo", "RAN"])
        #expect(missing.status == 125 && missing.stderr.contains("--user") && missing.stderr.contains("nobody") && !missing.stdout.contains("RAN"), "\(missing.stderr)")
        #expect(!missing.stderr.contains(secret), "\(missing.stderr)")
        // A rootfs whose /etc/passwd points at the host's: not followed.
        unlink(root + "/etc/passwd")
        symlink("/etc/passwd", root + "/etc/passwd")
        let link = try Bulkhead.run(["run"] + flags + ["--user", "nobody", "--", "/bin/echo", "RAN"])
        #expect(link.status == 125 && link.stderr.contains("cannot be read") && !link.stdout.contains("RAN"), "\(link.stderr)")
    }

    @Test("--tmpfs /mnt keeps the profile's /tmp and /run tmpfs mounts: the host's /tmp and /run do not show through")
    func tmpfsFlagKeepsProfileMounts() throws {
        let t = token()
        let marker = "/tmp/bh-hostmarker-\(t)"
        try t.write(toFile: marker, atomically: false, encoding: .utf8)
        defer { unlink(marker) }
        let script = #"awk '$5 == "/tmp" || $5 == "/run" || $5 == "/mnt" { print "MOUNT", $5, $9 }' /proc/self/mountinfo; ls /tmp /run"#
        let r = try Bulkhead.sh(script, ["--tmpfs", "/mnt"])
        #expect(r.status == 0, "\(r.stderr)")
        let mounts = Set(r.stdout.split(separator: "\n").filter { $0.hasPrefix("MOUNT ") }.map(String.init))
        #expect(mounts.isSuperset(of: ["MOUNT /tmp tmpfs", "MOUNT /run tmpfs", "MOUNT /mnt tmpfs"]), "\(r.stdout)")
        #expect(!r.stdout.contains("bh-hostmarker-\(t)"), "the host's /tmp shows through: \(r.stdout)")
    }
}
