import BulkheadModel
import Foundation
import Glibc
import Testing

/// `bulkhead-runc` on the real kernel: a bundle of busybox-static in a temporary directory,
/// the runc lifecycle, config fields read back from /proc, and runc itself on the same bundle.
@Suite(.serialized, .enabled(if: Gate.root, Gate.rootReason))
struct OCIRuntimeTests {
    static var runtime: String { (Bulkhead.binary as NSString).deletingLastPathComponent + "/bulkhead-runc" }

    /// A bundle: rootfs with busybox, config.json from `bulkhead-runc spec`, edited by `edit`.
    final class Bundle {
        let dir: String
        let stateRoot: String
        let out: String
        /// The container's id, unique per bundle: the default cgroup is `bulkhead/oci/<id>`,
        /// host-wide, and a shared "c1" collided (EEXIST) between concurrent test runs.
        let id = "c1-" + token()
        init(args: [String], edit: (inout [String: Any]) -> Void = { _ in }) throws {
            dir = NSTemporaryDirectory() + "bh-oci-\(token())"
            stateRoot = dir + "-state"
            out = dir + "-out"
            let fm = FileManager.default
            try fm.createDirectory(atPath: dir + "/rootfs/bin", withIntermediateDirectories: true)
            try fm.createDirectory(atPath: out, withIntermediateDirectories: true)
            chmod(out, 0o777)
            try fm.copyItem(atPath: "/bin/busybox", toPath: dir + "/rootfs/bin/busybox")
            for a in ["sh", "cat", "sleep", "true", "echo", "touch", "grep"] {
                try fm.createSymbolicLink(atPath: dir + "/rootfs/bin/" + a, withDestinationPath: "busybox")
            }
            let r = try OCIRuntimeTests.rt(["spec", "--bundle", dir], root: stateRoot)
            #expect(r.status == 0, "spec: \(r.stderr)")
            var config = try JSONSerialization.jsonObject(with: Data(contentsOf: URL(fileURLWithPath: dir + "/config.json"))) as! [String: Any]
            var process = config["process"] as! [String: Any]
            process["terminal"] = false
            process["args"] = args
            config["process"] = process
            var root = config["root"] as! [String: Any]
            root["readonly"] = false
            config["root"] = root
            config["mounts"] = (config["mounts"] as! [[String: Any]]) + [["destination": "/out", "type": "bind", "source": out, "options": ["rbind", "rw"]]]
            edit(&config)
            try JSONSerialization.data(withJSONObject: config).write(to: URL(fileURLWithPath: dir + "/config.json"))
        }
        deinit {
            _ = try? OCIRuntimeTests.rt(["delete", "--force", id], root: stateRoot)
            for d in [dir, stateRoot, out] { try? FileManager.default.removeItem(atPath: d) }
        }
    }

    /// Runs `bulkhead-runc --root ROOT ARGS`.
    @discardableResult
    static func rt(_ args: [String], root: String, env: [String: String] = [:], binary: String? = nil, prefix: [String] = []) throws -> Bulkhead.Result {
        let p = Process()
        p.executableURL = URL(fileURLWithPath: binary ?? runtime)
        p.arguments = prefix + ["--root", root] + args
        var e = ProcessInfo.processInfo.environment
        for (k, v) in env { e[k] = v }
        p.environment = e
        // Files, not pipes: after `create` the container's init holds the caller's stdio (as
        // runc's does: that is how conmon gets the output), so a pipe would not end.
        let base = NSTemporaryDirectory() + "bh-oci-io-\(token())"
        FileManager.default.createFile(atPath: base + ".out", contents: nil)
        FileManager.default.createFile(atPath: base + ".err", contents: nil)
        defer { unlink(base + ".out"); unlink(base + ".err") }
        let out = try FileHandle(forWritingTo: URL(fileURLWithPath: base + ".out"))
        let err = try FileHandle(forWritingTo: URL(fileURLWithPath: base + ".err"))
        p.standardOutput = out
        p.standardError = err
        p.standardInput = FileHandle.nullDevice
        try p.run()
        p.waitUntilExit()
        try? out.close(); try? err.close()
        let o = (try? String(contentsOfFile: base + ".out", encoding: .utf8)) ?? ""
        let r = (try? String(contentsOfFile: base + ".err", encoding: .utf8)) ?? ""
        return Bulkhead.Result(status: p.terminationStatus, stdout: o, stderr: r)
    }

    static func state(_ id: String, root: String) throws -> [String: Any]? {
        let r = try rt(["state", id], root: root)
        guard r.status == 0 else { return nil }
        return try JSONSerialization.jsonObject(with: Data(r.stdout.utf8)) as? [String: Any]
    }

    /// The process's cgroup directories whose path contains `marker`, the cgroup2 (unified) one
    /// included: its line is `0::/path`, whose empty controller field a plain split dropped.
    static func cgroupDirs(of pid: Int32, under marker: String = "/bulkhead/oci/") -> [String] {
        let text = (try? String(contentsOfFile: "/proc/\(pid)/cgroup", encoding: .utf8)) ?? ""
        return text.split(separator: "\n").compactMap { line in
            let parts = line.split(separator: ":", maxSplits: 2, omittingEmptySubsequences: false).map(String.init)
            guard parts.count == 3, parts[2].contains(marker) else { return nil }
            // cgroup2 is at /sys/fs/cgroup/unified on a hybrid host, at /sys/fs/cgroup on a v2 one.
            guard !parts[1].isEmpty else {
                return (FileManager.default.fileExists(atPath: "/sys/fs/cgroup/unified/cgroup.controllers") ? "/sys/fs/cgroup/unified" : "/sys/fs/cgroup") + parts[2]
            }
            return "/sys/fs/cgroup/\(parts[1].replacingOccurrences(of: "name=", with: ""))\(parts[2])"
        }
    }

    @Test func createWaitsStartReleasesDeleteLeavesNothing() throws {
        let b = try Bundle(args: ["/bin/sh", "-c", "touch /out/ran; exec sleep 1000"])
        let pidFile = b.dir + "/pid"
        let c = try Self.rt(["create", "--bundle", b.dir, "--pid-file", pidFile, b.id], root: b.stateRoot)
        #expect(c.status == 0, "create: \(c.stderr)")
        let pid = Int32(try String(contentsOfFile: pidFile, encoding: .utf8))!
        let s = try #require(try Self.state(b.id, root: b.stateRoot))
        #expect(s["status"] as? String == "created")
        #expect((s["pid"] as? Int).map(Int32.init) == pid)
        // Waiting (sleeping in open of the exec fifo), and the workload has not run.
        let stat = try String(contentsOfFile: "/proc/\(pid)/stat", encoding: .utf8)
        #expect(stat.split(separator: ")").last?.split(separator: " ").first == "S")
        #expect(!FileManager.default.fileExists(atPath: b.out + "/ran"))
        let cgroups = Self.cgroupDirs(of: pid)
        #expect(!cgroups.isEmpty, "the init is in bulkhead/oci/\(b.id)")
        #expect(try Self.rt(["start", b.id], root: b.stateRoot).status == 0)
        for _ in 0..<200 where !FileManager.default.fileExists(atPath: b.out + "/ran") { usleep(10_000) }
        #expect(FileManager.default.fileExists(atPath: b.out + "/ran"))
        #expect(try Self.state(b.id, root: b.stateRoot)?["status"] as? String == "running")
        // A second start is refused: the container is not created any more.
        #expect(try Self.rt(["start", b.id], root: b.stateRoot).status != 0)
        // delete without --force refuses a running container.
        #expect(try Self.rt(["delete", b.id], root: b.stateRoot).status != 0)
        #expect(try Self.rt(["kill", b.id, "KILL"], root: b.stateRoot).status == 0)
        for _ in 0..<200 where try Self.state(b.id, root: b.stateRoot)?["status"] as? String != "stopped" { usleep(10_000) }
        #expect(try Self.state(b.id, root: b.stateRoot)?["status"] as? String == "stopped")
        #expect(try Self.rt(["delete", b.id], root: b.stateRoot).status == 0)
        #expect(!FileManager.default.fileExists(atPath: b.stateRoot + "/" + b.id))
        for d in cgroups { #expect(!FileManager.default.fileExists(atPath: d), "\(d) removed") }
        #expect(kill(pid, 0) != 0 || (try? String(contentsOfFile: "/proc/\(pid)/stat", encoding: .utf8))?.contains(") Z") == true)
        #expect(try Self.state(b.id, root: b.stateRoot) == nil)
    }

    @Test func runExitStatusAsRunc() throws {
        let b = try Bundle(args: ["/bin/sh", "-c", "exit 7"])
        let r = try Self.rt(["run", "--bundle", b.dir, b.id], root: b.stateRoot)
        #expect(r.status == 7, "bulkhead-runc run: \(r.stderr)")
        #expect(!FileManager.default.fileExists(atPath: b.stateRoot + "/" + b.id))
        let runc = try Self.rt(["run", "--bundle", b.dir, "r1"], root: b.stateRoot + "-runc", binary: "/usr/sbin/runc")
        #expect(runc.status == 7, "runc run: \(runc.stderr)")
        try? FileManager.default.removeItem(atPath: b.stateRoot + "-runc")
        // A signal: 128+N, as runc. The workload is the container's PID 1 (as runc's), which a
        // SIGKILL from inside its own PID namespace cannot kill: this bundle shares the host's.
        let k = try Bundle(args: ["/bin/sh", "-c", "kill -9 $$"]) { config in
            var l = config["linux"] as! [String: Any]
            l["namespaces"] = (l["namespaces"] as! [[String: Any]]).filter { ($0["type"] as? String) != "pid" }
            config["linux"] = l
        }
        let killed = try Self.rt(["run", "--bundle", k.dir, k.id], root: k.stateRoot)
        #expect(killed.status == 137, "\(killed.stderr)")
        let runcKilled = try Self.rt(["run", "--bundle", k.dir, "r1"], root: k.stateRoot + "-runc", binary: "/usr/sbin/runc")
        #expect(runcKilled.status == 137, "runc run: \(runcKilled.stderr)")
        try? FileManager.default.removeItem(atPath: k.stateRoot + "-runc")
        // With its own PID namespace the workload is PID 1 there, as with runc: /proc/1 is it.
        let one = try Bundle(args: ["/bin/sh", "-c", "echo $$ > /out/pid; cat /proc/1/cmdline > /out/cmdline; true"])
        #expect(try Self.rt(["run", "--bundle", one.dir, one.id], root: one.stateRoot).status == 0)
        #expect((try? String(contentsOfFile: one.out + "/pid", encoding: .utf8)) == "1\n")
        let cmdline = (try? String(contentsOfFile: one.out + "/cmdline", encoding: .utf8)) ?? ""
        #expect(cmdline.hasPrefix("/bin/sh\u{0}-c\u{0}echo"), "\(Array(cmdline.utf8))")
    }

    @Test func stateKeysAsRunc() throws {
        let b = try Bundle(args: ["/bin/sleep", "100"])
        #expect(try Self.rt(["create", "--bundle", b.dir, b.id], root: b.stateRoot).status == 0)
        let ours = try #require(try Self.state(b.id, root: b.stateRoot))
        let runcRoot = b.stateRoot + "-runc"
        defer { _ = try? Self.rt(["delete", "--force", "r1"], root: runcRoot, binary: "/usr/sbin/runc"); try? FileManager.default.removeItem(atPath: runcRoot) }
        let rc = try Self.rt(["create", "--bundle", b.dir, "r1"], root: runcRoot, binary: "/usr/sbin/runc")
        #expect(rc.status == 0, "runc create: \(rc.stderr)")
        let theirs = try #require(try JSONSerialization.jsonObject(with: Data(try Self.rt(["state", "r1"], root: runcRoot, binary: "/usr/sbin/runc").stdout.utf8)) as? [String: Any])
        #expect(Set(ours.keys) == Set(theirs.keys))
        #expect(ours["status"] as? String == theirs["status"] as? String)
        #expect(ours["bundle"] as? String == theirs["bundle"] as? String)
    }

    @Test func configFieldsOnTheKernel() throws {
        let script = "cat /proc/self/status > /out/status; cat /proc/self/mountinfo > /out/mountinfo; cat /proc/keys > /out/keys 2>&1; echo x > /proc/sys/kernel/domainname 2>/out/sysw; echo done > /out/done"
        let b = try Bundle(args: ["/bin/sh", "-c", script]) { config in
            var p = config["process"] as! [String: Any]
            p["noNewPrivileges"] = true
            p["capabilities"] = ["bounding": ["CAP_KILL", "CAP_CHOWN"], "effective": ["CAP_KILL", "CAP_CHOWN"], "permitted": ["CAP_KILL", "CAP_CHOWN"]]
            p["user"] = ["uid": 1000, "gid": 1000, "additionalGids": [1001]]
            config["process"] = p
            var r = config["root"] as! [String: Any]
            r["readonly"] = true
            config["root"] = r
            var l = config["linux"] as! [String: Any]
            l["resources"] = ["memory": ["limit": 64 << 20], "pids": ["limit": 50]]
            config["linux"] = l
        }
        let r = try Self.rt(["run", "--bundle", b.dir, b.id], root: b.stateRoot)
        #expect(r.status == 0, "run: \(r.stderr)")
        let status = try String(contentsOfFile: b.out + "/status", encoding: .utf8)
        // CAP_CHOWN (0) and CAP_KILL (5): 0x21 bound; uid 1000 without ambient capabilities has
        // none effective after execve (as under runc); no_new_privs is set.
        #expect(statusField(status, "CapBnd") == "0000000000000021")
        #expect(statusField(status, "CapEff") == "0000000000000000")
        #expect(statusField(status, "NoNewPrivs") == "1")
        #expect(statusField(status, "Uid")?.hasPrefix("1000") == true)
        #expect(statusField(status, "Groups")?.contains("1001") == true)
        let mountinfo = try String(contentsOfFile: b.out + "/mountinfo", encoding: .utf8)
        let rootLine = mountinfo.split(separator: "\n").first { $0.split(separator: " ")[4] == "/" }
        #expect(rootLine?.split(separator: " ")[5].hasPrefix("ro") == true, "read-only root: \(rootLine ?? "none")")
        #expect(mountinfo.split(separator: "\n").contains { $0.split(separator: " ")[4] == "/proc/keys" }, "masked /proc/keys")
        #expect(mountinfo.split(separator: "\n").contains { $0.split(separator: " ")[4] == "/proc/sys" && $0.split(separator: " ")[5].hasPrefix("ro") }, "read-only /proc/sys")
        #expect((try? String(contentsOfFile: b.out + "/keys", encoding: .utf8)) == "", "masked: empty")
    }

    @Test func cgroupLimitsWritten() throws {
        let b = try Bundle(args: ["/bin/sleep", "100"]) { config in
            var l = config["linux"] as! [String: Any]
            l["resources"] = ["memory": ["limit": 64 << 20], "pids": ["limit": 50]]
            config["linux"] = l
        }
        let pidFile = b.dir + "/pid"
        #expect(try Self.rt(["create", "--bundle", b.dir, "--pid-file", pidFile, b.id], root: b.stateRoot).status == 0)
        let pid = Int32(try String(contentsOfFile: pidFile, encoding: .utf8))!
        let dirs = Self.cgroupDirs(of: pid)
        let memory = try #require(dirs.first { $0.contains("/memory/") || $0.contains("/unified/") })
        let mem = (try? String(contentsOfFile: memory + "/memory.limit_in_bytes", encoding: .utf8)) ?? (try? String(contentsOfFile: memory + "/memory.max", encoding: .utf8))
        #expect(mem?.trimmingCharacters(in: .whitespacesAndNewlines) == String(64 << 20))
        #expect(try Self.rt(["delete", "--force", b.id], root: b.stateRoot).status == 0)
        for d in dirs { #expect(!FileManager.default.fileExists(atPath: d)) }
    }

    /// containerd's runc shim: a --root whose parents do not exist (made 0700, a symlinked
    /// parent refused), an absolute cgroupsPath honoured from each hierarchy's root (where the
    /// shim watches for OOM kills), `ps --format json` listing the cgroup's pids, and a
    /// cgroupsPath with ".." refused naming the field.
    @Test func containerdShimRootCgroupsPathAndPs() throws {
        let parent = "bh-oci-cgp-\(token())"
        let b = try Bundle(args: ["/bin/sleep", "100"]) { config in
            var l = config["linux"] as! [String: Any]
            l["resources"] = ["memory": ["limit": 64 << 20]]
            l["cgroupsPath"] = "/\(parent)/c1"
            config["linux"] = l
        }
        let root = b.stateRoot + "/runc/default"
        let pidFile = b.dir + "/pid"
        let c = try Self.rt(["create", "--bundle", b.dir, "--pid-file", pidFile, b.id], root: root)
        #expect(c.status == 0, "\(c.stderr)")
        var st = stat()
        #expect(lstat(b.stateRoot + "/runc", &st) == 0 && st.st_mode & 0o777 == 0o700, "a made parent is 0700")
        let pid = Int32((try? String(contentsOfFile: pidFile, encoding: .utf8)) ?? "") ?? 0
        let dirs = Self.cgroupDirs(of: pid, under: "/\(parent)/")
        #expect(!dirs.isEmpty && dirs.allSatisfy { $0.hasSuffix("/\(parent)/c1") && !$0.contains("/bulkhead/") }, "\(dirs)")
        let mem = ["/sys/fs/cgroup/memory/\(parent)/c1/memory.limit_in_bytes", "/sys/fs/cgroup/\(parent)/c1/memory.max"]
            .compactMap { try? String(contentsOfFile: $0, encoding: .utf8) }.first
        #expect(mem?.trimmingCharacters(in: .whitespacesAndNewlines) == String(64 << 20))
        let ps = try Self.rt(["ps", "--format", "json", b.id], root: root)
        #expect(ps.status == 0 && ps.stdout == "[\(pid)]\n", "\(ps)")
        #expect(try Self.rt(["delete", "--force", b.id], root: root).status == 0)
        for d in dirs {
            #expect(!FileManager.default.fileExists(atPath: d))
            rmdir((d as NSString).deletingLastPathComponent)
        }

        // A symlink among the parents is refused; ".." in cgroupsPath is refused by name.
        let link = b.stateRoot + "-link"
        try FileManager.default.createDirectory(atPath: b.stateRoot + "-real", withIntermediateDirectories: true)
        symlink(b.stateRoot + "-real", link)
        defer { unlink(link); rmdir(b.stateRoot + "-real/x"); rmdir(b.stateRoot + "-real") }
        let viaLink = try Self.rt(["create", "--bundle", b.dir, b.id], root: link + "/x/y")
        #expect(viaLink.status == 1 && viaLink.stderr.contains("symlink is refused"), "\(viaLink.stderr)")
        let bad = try Bundle(args: ["/bin/true"]) { config in
            var l = config["linux"] as! [String: Any]
            l["cgroupsPath"] = "/\(parent)/../../etc"
            config["linux"] = l
        }
        let r = try Self.rt(["create", "--bundle", bad.dir, bad.id], root: bad.stateRoot)
        #expect(r.status == 1 && r.stderr.contains("linux.cgroupsPath"), "\(r.stderr)")
    }

    /// Every failing step exits non-zero, names the step and errno, and leaves nothing behind.
    @Test(arguments: ["cgroup-create", "step:0", "step:10", "step:40"])
    func faultLeavesNothing(_ fault: String) throws {
        let b = try Bundle(args: ["/bin/sh", "-c", "touch /out/ran"])
        let r = try Self.rt(["create", "--bundle", b.dir, b.id], root: b.stateRoot, env: ["BULKHEAD_OCI_INJECT_FAULT": fault])
        #expect(r.status == 1)
        #expect(r.stderr.contains("ECANCELED"), "\(r.stderr)")
        if fault.hasPrefix("step:") { #expect(r.stderr.contains("step \(fault.dropFirst(5))"), "\(r.stderr)") }
        #expect(!FileManager.default.fileExists(atPath: b.stateRoot + "/" + b.id))
        #expect((try? FileManager.default.contentsOfDirectory(atPath: b.stateRoot)) == [], "no state, no lock file left")
        #expect(!FileManager.default.fileExists(atPath: b.out + "/ran"))
        for h in ["memory", "pids", "cpu", "unified"] {
            #expect(!FileManager.default.fileExists(atPath: "/sys/fs/cgroup/\(h)/bulkhead/oci/\(b.id)"))
        }
    }

    /// --console-socket: the pty master arrives over the socket (SCM_RIGHTS, as runc sends it),
    /// and the workload's terminal is /dev/pts/N of its own devpts. The receiver is python3's
    /// recvmsg (the way conmon and go-runc take it).
    @Test func consoleSocketGetsThePtyMaster() throws {
        let b = try Bundle(args: ["/bin/sh", "-c", "tty; echo TTYOK"]) { config in
            var p = config["process"] as! [String: Any]
            p["terminal"] = true
            config["process"] = p
        }
        let sock = b.dir + "/console.sock", got = b.dir + "/console.out"
        let receiver = Process()
        receiver.executableURL = URL(fileURLWithPath: "/usr/bin/python3")
        receiver.arguments = ["-c", """
        import socket, os, sys, array, time
        s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM); s.bind(sys.argv[1]); s.listen(1)
        c, _ = s.accept()
        msg, anc, flags, addr = c.recvmsg(1024, socket.CMSG_SPACE(4))
        fds = array.array("i"); [fds.frombytes(d[:4]) for (l, t, d) in anc]
        out = b""; end = time.time() + 20
        while time.time() < end and b"TTYOK" not in out:
            try: d = os.read(fds[0], 1024)
            except OSError: break
            if not d: break
            out += d
        open(sys.argv[2], "wb").write(out)
        """, sock, got]
        try receiver.run()
        for _ in 0..<500 where !FileManager.default.fileExists(atPath: sock) { usleep(20_000) }
        let c = try Self.rt(["create", "--bundle", b.dir, "--console-socket", sock, b.id], root: b.stateRoot)
        #expect(c.status == 0, "create: \(c.stderr)")
        #expect(try Self.rt(["start", b.id], root: b.stateRoot).status == 0)
        receiver.waitUntilExit()
        let text = (try? String(contentsOfFile: got, encoding: .utf8)) ?? ""
        #expect(text.contains("/dev/pts/0") && text.contains("TTYOK"), "\(text)")
        // Without --console-socket a terminal config is refused, as runc does.
        #expect(try Self.rt(["create", "--bundle", b.dir, "c2"], root: b.stateRoot).status == 1)
    }

    /// linux.namespaces[].path: the container joins a network namespace made beforehand (as podman
    /// and the CNI plugins hand it over), checked to be one with NS_GET_NSTYPE.
    @Test func joinsANetworkNamespaceByPath() throws {
        let nsFile = NSTemporaryDirectory() + "bh-oci-netns-\(token())"
        FileManager.default.createFile(atPath: nsFile, contents: nil)
        defer { umount2(nsFile, Int32(MNT_DETACH)); unlink(nsFile) }
        let u = Process()
        u.executableURL = URL(fileURLWithPath: "/usr/bin/unshare")
        u.arguments = ["--net=" + nsFile, "true"]
        try u.run(); u.waitUntilExit()
        #expect(u.terminationStatus == 0)
        var st = stat()
        #expect(stat(nsFile, &st) == 0)
        let b = try Bundle(args: ["/bin/sh", "-c", "readlink /proc/self/ns/net > /out/ns"]) { config in
            var l = config["linux"] as! [String: Any]
            var ns = (l["namespaces"] as! [[String: Any]]).filter { $0["type"] as? String != "network" }
            ns.append(["type": "network", "path": nsFile])
            l["namespaces"] = ns
            config["linux"] = l
        }
        let r = try Self.rt(["run", "--bundle", b.dir, b.id], root: b.stateRoot)
        #expect(r.status == 0, "run: \(r.stderr)")
        let inside = (try? String(contentsOfFile: b.out + "/ns", encoding: .utf8))?.trimmingCharacters(in: .whitespacesAndNewlines)
        #expect(inside == "net:[\(st.st_ino)]")
        // A path that is not a network namespace file (a plain file; a magic link is ELOOP) is
        // refused before anything starts.
        let bad = try Bundle(args: ["/bin/true"]) { config in
            var l = config["linux"] as! [String: Any]
            var ns = (l["namespaces"] as! [[String: Any]]).filter { $0["type"] as? String != "network" }
            ns.append(["type": "network", "path": "/etc/hostname"])
            l["namespaces"] = ns
            config["linux"] = l
        }
        let refused = try Self.rt(["create", "--bundle", bad.dir, bad.id], root: bad.stateRoot)
        #expect(refused.status == 1 && refused.stderr.contains("not a network namespace"), "\(refused.stderr)")
        #expect(!FileManager.default.fileExists(atPath: bad.stateRoot + "/" + bad.id))
    }

    /// linux.seccomp is compiled by the engine: a profile that refuses mkdir with EPERM holds in
    /// the workload, and podman's own default profile (conflicting rules, first wins as in runc) loads.
    @Test func configSeccompIsEnforced() throws {
        let b = try Bundle(args: ["/bin/sh", "-c", "grep Seccomp: /proc/self/status > /out/status; mkdir /tmp/d 2> /out/mkdir; echo $? > /out/rc"]) { config in
            var l = config["linux"] as! [String: Any]
            l["seccomp"] = ["defaultAction": "SCMP_ACT_ALLOW", "architectures": ["SCMP_ARCH_X86_64"],
                            "syscalls": [["names": ["mkdir", "mkdirat"], "action": "SCMP_ACT_ERRNO", "errnoRet": 1]]]
            config["linux"] = l
        }
        let r = try Self.rt(["run", "--bundle", b.dir, b.id], root: b.stateRoot)
        #expect(r.status == 0, "run: \(r.stderr)")
        #expect((try? String(contentsOfFile: b.out + "/status", encoding: .utf8))?.contains("2") == true)
        #expect((try? String(contentsOfFile: b.out + "/rc", encoding: .utf8))?.trimmingCharacters(in: .whitespacesAndNewlines) == "1")
        #expect((try? String(contentsOfFile: b.out + "/mkdir", encoding: .utf8))?.contains("ermitted") == true)
    }

    /// No user namespace and CAP_MKNOD (podman's default set): a device node made in /dev opens
    /// nothing (the /dev tmpfs is nodev; runc relies on the devices cgroup), while the engine's
    /// own nodes, bind mounts, work.
    @Test func madeDeviceNodesOpenNothing() throws {
        let b = try Bundle(args: ["/bin/sh", "-c", "mknod /dev/zero2 c 1 5 && echo made > /out/made; head -c1 /dev/zero2 > /dev/null 2> /out/err; echo $? > /out/rc; echo ok > /dev/null && echo nullok > /out/null"]) { config in
            var p = config["process"] as! [String: Any]
            let caps = ["CAP_MKNOD", "CAP_DAC_OVERRIDE", "CAP_CHOWN"]
            p["capabilities"] = ["bounding": caps, "effective": caps, "permitted": caps]
            config["process"] = p
        }
        let r = try Self.rt(["run", "--bundle", b.dir, b.id], root: b.stateRoot)
        #expect(r.status == 0, "run: \(r.stderr)")
        #expect((try? String(contentsOfFile: b.out + "/made", encoding: .utf8)) == "made\n", "mknod itself is allowed (CAP_MKNOD)")
        #expect((try? String(contentsOfFile: b.out + "/rc", encoding: .utf8))?.trimmingCharacters(in: .whitespacesAndNewlines) != "0", "opening it fails")
        #expect((try? String(contentsOfFile: b.out + "/err", encoding: .utf8))?.contains("ermission denied") == true)
        #expect((try? String(contentsOfFile: b.out + "/null", encoding: .utf8)) == "nullok\n")
    }

    @Test func unknownFlagsAreNamed() throws {
        let root = NSTemporaryDirectory() + "bh-oci-\(token())"
        defer { try? FileManager.default.removeItem(atPath: root) }
        let g = try Self.rt(["--frobnicate", "list"], root: root)
        #expect(g.status == 1 && g.stderr.contains("--frobnicate"))
        let c = try Self.rt(["create", "--bogus", "x"], root: root)
        #expect(c.status == 1 && c.stderr.contains("--bogus"))
        let s = try Self.rt(["--systemd-cgroup", "list"], root: root)
        #expect(s.status == 1 && s.stderr.contains("--systemd-cgroup"))
        let bad = try Self.rt(["state", "../etc"], root: root)
        #expect(bad.status == 1 && bad.stderr.contains("invalid container id"))
        // The main binary invoked as bulkhead-runc (a link) runs the same front end.
        let link = root + "-bin/bulkhead-runc"
        try FileManager.default.createDirectory(atPath: root + "-bin", withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(atPath: root + "-bin") }
        try FileManager.default.createSymbolicLink(atPath: link, withDestinationPath: Bulkhead.binary)
        let viaLink = try Self.rt(["features"], root: root, binary: link)
        #expect(viaLink.status == 0 && viaLink.stdout.contains("ociVersionMax"), "\(viaLink.stderr)")
        // `bulkhead oci` is the same front end.
        let viaBulkhead = try Bulkhead.run(["oci", "--root", root, "list", "--format", "json"])
        #expect(viaBulkhead.status == 0 && viaBulkhead.stdout.hasPrefix("["))
    }
}
