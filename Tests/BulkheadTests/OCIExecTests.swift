import BulkheadModel
import Foundation
import Glibc
import Testing

/// `bulkhead-runc exec` on the real kernel: the exec'd process is inspected from the host
/// (/proc/PID of the process against the container's init) and from inside.
@Suite(.serialized, .enabled(if: Gate.root, Gate.rootReason))
struct OCIExecTests {
    typealias Bundle = OCIRuntimeTests.Bundle
    static func rt(_ args: [String], root: String) throws -> Bulkhead.Result { try OCIRuntimeTests.rt(args, root: root) }
    /// Unique: the container's cgroup is bulkhead/oci/ID, shared by every test run on the machine.
    let id = "exec-" + token()

    /// A running container `c1`: `sleep 1000` as its PID 1, with a seccomp filter (mkdir is
    /// EPERM), a user namespace when `userNamespace`, and `extra` busybox applets.
    static func running(_ id: String, userNamespace: Bool, noNewPrivileges: Bool = true) throws -> (Bundle, Int32) {
        let b = try Bundle(args: ["/bin/sleep", "1000"]) { config in
            var l = config["linux"] as! [String: Any]
            l["seccomp"] = ["defaultAction": "SCMP_ACT_ALLOW", "architectures": ["SCMP_ARCH_X86_64"],
                            "syscalls": [["names": ["mkdir", "mkdirat"], "action": "SCMP_ACT_ERRNO", "errnoRet": 1]]]
            if userNamespace { l["namespaces"] = (l["namespaces"] as! [[String: Any]]) + [["type": "user"]] }
            config["linux"] = l
            var p = config["process"] as! [String: Any]
            p["noNewPrivileges"] = noNewPrivileges
            p["env"] = ["PATH=/bin", "FROMCONFIG=yes"]
            config["process"] = p
        }
        for a in ["id", "ls", "pwd", "readlink", "kill"] {
            try FileManager.default.createSymbolicLink(atPath: b.dir + "/rootfs/bin/" + a, withDestinationPath: "busybox")
        }
        let pidFile = b.dir + "/init.pid"
        let c = try rt(["create", "--bundle", b.dir, "--pid-file", pidFile, id], root: b.stateRoot)
        try #require(c.status == 0, "create: \(c.stderr)")
        try #require(try rt(["start", id], root: b.stateRoot).status == 0)
        let pid = try #require(Int32(try String(contentsOfFile: pidFile, encoding: .utf8)))
        return (b, pid)
    }

    static func read(_ path: String) -> String { (try? String(contentsOfFile: path, encoding: .utf8)) ?? "" }
    static func statusField(_ pid: Int32, _ name: String) -> String? {
        read("/proc/\(pid)/status").split(separator: "\n").first { $0.hasPrefix(name + ":") }
            .map { $0.dropFirst(name.count + 1).trimmingCharacters(in: .whitespaces) }
    }
    static func namespaces(_ pid: Int32) -> [String] {
        ["user", "pid", "mnt", "net", "ipc", "uts", "cgroup", "time"].map { n in
            let buf = UnsafeMutablePointer<CChar>.allocate(capacity: 256)
            defer { buf.deallocate() }
            let len = readlink("/proc/\(pid)/ns/\(n)", buf, 255)
            return len > 0 ? String(decoding: UnsafeRawBufferPointer(start: buf, count: len), as: UTF8.self) : "\(n):?"
        }
    }

    /// The exec'd process, left running (--detach, --pid-file), against the init: every
    /// namespace and cgroup the same, seccomp filtered, capabilities and no_new_privs as asked,
    /// only fds 0-2 open, listed by `ps`.
    @Test(arguments: [false, true])
    func detachedProcessJoinsEverything(userNamespace: Bool) throws {
        let (b, initPID) = try Self.running(id, userNamespace: userNamespace)
        defer { _ = try? Self.rt(["delete", "--force", id], root: b.stateRoot) }
        let pidFile = b.dir + "/exec.pid"
        let e = try Self.rt(["exec", "--detach", "--pid-file", pidFile, "--cap", "CAP_NET_RAW", id, "/bin/sleep", "1000"], root: b.stateRoot)
        try #require(e.status == 0, "exec: \(e.stderr)")
        let pid = try #require(Int32(Self.read(pidFile)))
        defer { kill(pid, SIGKILL) }
        #expect(pid != initPID)
        #expect(Self.namespaces(pid) == Self.namespaces(initPID))
        #expect(!Self.read("/proc/\(pid)/cgroup").isEmpty && Self.read("/proc/\(pid)/cgroup") == Self.read("/proc/\(initPID)/cgroup"))
        #expect(Self.statusField(pid, "Seccomp") == "2")
        #expect(Self.statusField(pid, "NoNewPrivs") == "1")
        // The container's set (AUDIT_WRITE, KILL, NET_BIND_SERVICE) plus --cap NET_RAW (bit 13).
        let eff = try #require(UInt64(Self.statusField(pid, "CapEff") ?? "", radix: 16))
        let initEff = try #require(UInt64(Self.statusField(initPID, "CapEff") ?? "", radix: 16))
        #expect(eff == initEff | (1 << 13), "CapEff \(String(eff, radix: 16)) vs the init's \(String(initEff, radix: 16))")
        #expect(Self.statusField(pid, "CapBnd") == Self.statusField(pid, "CapEff"))
        #expect(Self.statusField(pid, "CapAmb") == "0000000000000000")
        #expect(Self.statusField(pid, "Uid")?.split(separator: "\t").first == Self.statusField(initPID, "Uid")?.split(separator: "\t").first)
        let fds = try FileManager.default.contentsOfDirectory(atPath: "/proc/\(pid)/fd").sorted()
        #expect(fds == ["0", "1", "2"])
        let ps = try Self.rt(["ps", "--format", "json", id], root: b.stateRoot)
        #expect(ps.stdout.contains("\(pid)") && ps.stdout.contains("\(initPID)"), "ps: \(ps.stdout)")
    }

    /// `exec --process` with five different capability sets: all five reach the process as
    /// runc's libcontainer/capabilities sets them (bounding dropped, capset of effective,
    /// permitted and inheritable, ambient raised), seen in its /proc/PID/status after execve.
    /// For uid 1000 running a file without capabilities the kernel makes permitted and
    /// effective the ambient set (capabilities(7)); as uid 0 they become bounding | inheritable.
    @Test(arguments: [1000, 0])
    func processGetsAllFiveCapabilitySets(uid: Int) throws {
        let (b, _) = try Self.running(id, userNamespace: false, noNewPrivileges: false)
        defer { _ = try? Self.rt(["delete", "--force", id], root: b.stateRoot) }
        let process = b.dir + "/process.json"
        let caps: [String: Any] = [
            "bounding": ["CAP_CHOWN", "CAP_DAC_OVERRIDE", "CAP_KILL", "CAP_NET_BIND_SERVICE", "CAP_NET_RAW"], // 0x2423
            "effective": ["CAP_KILL", "CAP_NET_BIND_SERVICE"],
            "permitted": ["CAP_KILL", "CAP_NET_BIND_SERVICE", "CAP_NET_RAW"],
            "inheritable": ["CAP_CHOWN", "CAP_NET_BIND_SERVICE", "CAP_NET_RAW"], // 0x2401
            "ambient": ["CAP_NET_BIND_SERVICE"], // 0x400
        ]
        let doc: [String: Any] = ["args": ["/bin/sleep", "1000"], "cwd": "/", "user": ["uid": uid, "gid": uid], "capabilities": caps]
        try JSONSerialization.data(withJSONObject: doc).write(to: URL(fileURLWithPath: process))
        let pidFile = b.dir + "/exec.pid"
        let e = try Self.rt(["exec", "--detach", "--pid-file", pidFile, "--process", process, id], root: b.stateRoot)
        try #require(e.status == 0, "exec: \(e.stderr)")
        let pid = try #require(Int32(Self.read(pidFile)))
        defer { kill(pid, SIGKILL) }
        #expect(Self.statusField(pid, "CapBnd") == "0000000000002423")
        #expect(Self.statusField(pid, "CapInh") == "0000000000002401")
        let gained = uid == 0 ? "0000000000002423" : "0000000000000400"
        #expect(Self.statusField(pid, "CapPrm") == gained)
        #expect(Self.statusField(pid, "CapEff") == gained)
        #expect(Self.statusField(pid, "CapAmb") == "0000000000000400")
        // What the kernel would refuse is refused by name before anything runs.
        var bad = caps
        bad["ambient"] = ["CAP_KILL"] // permitted, not inheritable
        try JSONSerialization.data(withJSONObject: ["args": ["/bin/true"], "cwd": "/", "capabilities": bad] as [String: Any]).write(to: URL(fileURLWithPath: process))
        let refused = try Self.rt(["exec", "--process", process, id], root: b.stateRoot)
        #expect(refused.status == 1 && refused.stderr.contains("ambient") && refused.stderr.contains("CAP_KILL") && refused.stderr.contains("inheritable"), "\(refused.stderr)")
    }

    /// In the foreground: exit status and signal relayed as runc; --env, --user, --cwd applied.
    @Test func foregroundRelaysStatusAndAppliesFlags() throws {
        let (b, _) = try Self.running(id, userNamespace: true)
        defer { _ = try? Self.rt(["delete", "--force", id], root: b.stateRoot) }
        #expect(try Self.rt(["exec", id, "/bin/sh", "-c", "exit 7"], root: b.stateRoot).status == 7)
        #expect(try Self.rt(["exec", id, "/bin/sh", "-c", "kill -9 $$"], root: b.stateRoot).status == 137)
        let r = try Self.rt(["exec", "--env", "FOO=bar", "-e", "FROMCONFIG=no", "--user", "1000:1001", "--additional-gids", "1002", "--cwd", "/bin", id,
                             "/bin/sh", "-c", "echo $FOO $FROMCONFIG $(id -u) $(id -g) $(id -G) $(pwd) > /out/flags; mkdir /out/x 2> /dev/null; echo $? >> /out/flags"], root: b.stateRoot)
        #expect(r.status == 0, "exec: \(r.stderr)")
        #expect(Self.read(b.out + "/flags") == "bar no 1000 1001 1001 1002 /bin\n1\n")
    }

    /// CVE-2024-21626: the working directory is resolved in the container's root, after its
    /// mount namespace was joined: a symlink climbing with `..` to a host path leads to that
    /// path inside the container; `..` in --cwd itself is refused.
    @Test func workingDirectoryNeverReachesTheHost() throws {
        let (b, _) = try Self.running(id, userNamespace: false)
        defer { _ = try? Self.rt(["delete", "--force", id], root: b.stateRoot) }
        // The same path exists on the host (with a host marker) and inside (with another).
        let fm = FileManager.default
        try fm.createDirectory(atPath: b.dir + "/rootfs" + b.dir, withIntermediateDirectories: true)
        fm.createFile(atPath: b.dir + "/rootfs" + b.dir + "/insidemarker", contents: Data())
        fm.createFile(atPath: b.dir + "/hostmarker", contents: Data())
        try fm.createSymbolicLink(atPath: b.dir + "/rootfs/escape", withDestinationPath: "../../../../../../../.." + b.dir)
        // `..` in --cwd is refused by config.json's cwd rule, before anything runs.
        let dots = try Self.rt(["exec", "--cwd", "/../../../../../../.." + b.dir, id, "/bin/sh", "-c", "ls > /out/dots"], root: b.stateRoot)
        #expect(dots.status == 1 && dots.stderr.contains("cwd"), "exec: \(dots.stderr)")
        #expect(!FileManager.default.fileExists(atPath: b.out + "/dots"))
        let link = try Self.rt(["exec", "--cwd", "/escape", id, "/bin/sh", "-c", "ls > /out/link"], root: b.stateRoot)
        #expect(link.status == 0, "exec: \(link.stderr)")
        #expect(Self.read(b.out + "/link") == "insidemarker\n")
        // A directory that exists on the host only is not found.
        let host = try Self.rt(["exec", "--cwd", b.out, id, "/bin/true"], root: b.stateRoot)
        #expect(host.status != 0 && host.stderr.contains("ENOENT"), "\(host.stderr)")
    }

    /// --preserve-fds N passes fds 3..3+N-1 and nothing else.
    @Test func preserveFdsPassesOnlyThose() throws {
        let (b, _) = try Self.running(id, userNamespace: true)
        defer { _ = try? Self.rt(["delete", "--force", id], root: b.stateRoot) }
        let pidFile = b.dir + "/exec.pid"
        let p = Process()
        p.executableURL = URL(fileURLWithPath: "/bin/sh")
        p.arguments = ["-c", "exec 3</dev/null 4</dev/null; exec \"$0\" --root \"$1\" exec -d --pid-file \"$2\" --preserve-fds 1 \"$3\" /bin/sleep 1000",
                       OCIRuntimeTests.runtime, b.stateRoot, pidFile, id]
        p.standardOutput = FileHandle.nullDevice
        p.standardError = FileHandle.nullDevice
        try p.run()
        p.waitUntilExit()
        #expect(p.terminationStatus == 0)
        let pid = try #require(Int32(Self.read(pidFile)))
        defer { kill(pid, SIGKILL) }
        #expect(try FileManager.default.contentsOfDirectory(atPath: "/proc/\(pid)/fd").sorted() == ["0", "1", "2", "3"])
    }

    /// Refusals: a created or stopped container (runc's wording), a process.json breaking the
    /// config rules, an unknown flag.
    @Test func refusals() throws {
        let b = try Bundle(args: ["/bin/sleep", "1000"])
        defer { _ = try? Self.rt(["delete", "--force", id], root: b.stateRoot) }
        #expect(try Self.rt(["create", "--bundle", b.dir, id], root: b.stateRoot).status == 0)
        let created = try Self.rt(["exec", id, "/bin/true"], root: b.stateRoot)
        #expect(created.status == 1 && created.stderr.contains("cannot exec in a created container"), "\(created.stderr)")
        #expect(try Self.rt(["start", id], root: b.stateRoot).status == 0)
        let process = b.dir + "/process.json"
        try Data(#"{"args": ["/bin/true"], "cwd": "/", "capabilities": {"ambient": ["CAP_KILL"]}}"#.utf8).write(to: URL(fileURLWithPath: process))
        let bad = try Self.rt(["exec", "--process", process, id], root: b.stateRoot)
        #expect(bad.status == 1 && bad.stderr.contains("ambient"), "\(bad.stderr)")
        try Data(#"{"args": ["/bin/sh", "-c", "exit 3"], "cwd": "/", "user": {"uid": 0, "gid": 0}}"#.utf8).write(to: URL(fileURLWithPath: process))
        #expect(try Self.rt(["exec", "--process", process, id], root: b.stateRoot).status == 3)
        let unknown = try Self.rt(["exec", "--bogus", id, "/bin/true"], root: b.stateRoot)
        #expect(unknown.status == 1 && unknown.stderr.contains("--bogus"))
        #expect(try Self.rt(["kill", id, "KILL"], root: b.stateRoot).status == 0)
        for _ in 0..<200 where try OCIRuntimeTests.state(id, root: b.stateRoot)?["status"] as? String != "stopped" { usleep(10_000) }
        let stopped = try Self.rt(["exec", id, "/bin/true"], root: b.stateRoot)
        #expect(stopped.status == 1 && stopped.stderr.contains("cannot exec in a stopped container"), "\(stopped.stderr)")
    }
}
