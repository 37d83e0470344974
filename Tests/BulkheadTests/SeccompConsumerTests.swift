import Foundation
import Glibc
import Testing

/// Exported and recorded profiles checked by consumers nobody here wrote: Debian's runc (1.1)
/// and bubblewrap. Each probe also runs without the filter, where it must succeed, so a refusal
/// proves the filter and not something else.
///
/// Needs root (runc needs it on this host) and `apt-get install -y runc bubblewrap busybox-static`.
/// With CI=true nothing is skipped: a missing tool fails the test.
@Suite(.enabled(if: Gate.root, Gate.rootReason), .serialized)
struct SeccompConsumerTests {
    // MARK: fixtures

    /// A scratch directory for this test process (outside /tmp: the sandbox mounts its own /tmp).
    static let work: String = {
        // Directories of earlier test processes that have exited are collected here (a static
        // scratch directory has no teardown of its own), so at most the last run's remains.
        let prefix = "bulkhead-seccomp-tests-"
        for name in (try? FileManager.default.contentsOfDirectory(atPath: "/var/tmp")) ?? [] where name.hasPrefix(prefix) {
            if let pid = Int32(name.dropFirst(prefix.count)), pid != getpid(), kill(pid, 0) != 0, errno == ESRCH {
                try? FileManager.default.removeItem(atPath: "/var/tmp/" + name)
            }
        }
        let d = "/var/tmp/\(prefix)\(getpid())"
        try? FileManager.default.createDirectory(atPath: d, withIntermediateDirectories: true)
        return d
    }()

    /// A root filesystem: busybox-static in /bin (relative links), host /usr, /lib, /lib64
    /// bound read-only by the sandbox or runc, and mount points for both launchers.
    static let rootfs: String = {
        let root = work + "/rootfs"
        let fm = FileManager.default
        if !fm.fileExists(atPath: root + "/bin/busybox") {
            for d in ["bin", "proc", "dev", "sys", "tmp", "etc", "usr", "lib", "lib64", "root"] {
                try? fm.createDirectory(atPath: root + "/" + d, withIntermediateDirectories: true)
            }
            try? fm.copyItem(atPath: "/usr/bin/busybox", toPath: root + "/bin/busybox")
            let list = (try? shell("/usr/bin/busybox --list").stdout) ?? ""
            for applet in list.split(separator: "\n") where applet != "busybox" {
                try? fm.createSymbolicLink(atPath: root + "/bin/" + applet, withDestinationPath: "busybox")
            }
            try? "sandbox\n".write(toFile: root + "/etc/hostname", atomically: true, encoding: .utf8)
        }
        return root
    }()

    /// A layer profile running in `rootfs`, with the host's /usr and libraries bound read-only.
    static let profile: String = {
        let p = work + "/rootfs-profile.yaml"
        let yaml = """
        apiVersion: bulkhead.dev/v1alpha1
        kind: LayerProfile
        metadata:
          name: rootfs
        extends: container
        filesystem:
          root: \(rootfs)
          binds:
            - {source: /usr, destination: /usr, readOnly: true}
            - {source: /lib, destination: /lib, readOnly: true}
            - {source: /lib64, destination: /lib64, readOnly: true}
        """
        try? yaml.write(toFile: p, atomically: true, encoding: .utf8)
        return p
    }()

    struct Shell { var status: Int32; var stdout: String; var stderr: String }

    @discardableResult
    static func shell(_ script: String) throws -> Shell {
        let p = Process()
        p.executableURL = URL(fileURLWithPath: "/bin/sh")
        p.arguments = ["-c", script]
        let out = Pipe(), err = Pipe()
        p.standardOutput = out
        p.standardError = err
        p.standardInput = FileHandle.nullDevice
        try p.run()
        let o = out.fileHandleForReading.readDataToEndOfFile(), e = err.fileHandleForReading.readDataToEndOfFile()
        p.waitUntilExit()
        return Shell(status: p.terminationStatus, stdout: String(decoding: o, as: UTF8.self), stderr: String(decoding: e, as: UTF8.self))
    }

    static func requireTool(_ path: String) throws {
        try #require(FileManager.default.isExecutableFile(atPath: path), "\(path) is missing: apt-get install -y runc bubblewrap busybox-static")
    }

    /// Runs `args` under runc in a fresh bundle over `rootfs` with `seccomp` (a runtime-spec JSON
    /// text, or nil for none) as `linux.seccomp`; the container is always deleted.
    /// `capabilities` (e.g. ["CAP_SYS_CHROOT"]) replaces every capability set of `runc spec`'s
    /// default when given.
    /// `crun: true` runs the bundle with crun instead: it refuses this host's hybrid cgroups, so
    /// it runs in a private mount namespace with a tmpfs over /sys/fs/cgroup and its cgroup
    /// manager disabled (the host's mounts are not touched).
    static func runc(_ args: [String], seccomp: String?, capabilities: [String]? = nil, crun: Bool = false) throws -> Shell {
        try requireTool("/usr/sbin/runc")
        if crun { try requireTool("/usr/bin/crun") }
        let bundle = work + "/bundle-\(UInt32.random(in: 0...UInt32.max))"
        try FileManager.default.createDirectory(atPath: bundle, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(atPath: bundle) }
        try #require(try shell("cd \(bundle) && runc spec").status == 0)
        let configPath = bundle + "/config.json"
        var config = try JSONSerialization.jsonObject(with: try Data(contentsOf: URL(fileURLWithPath: configPath))) as! [String: Any]
        config["root"] = ["path": rootfs, "readonly": true]
        var process = config["process"] as! [String: Any]
        process["terminal"] = false
        process["args"] = args
        if let capabilities {
            process["capabilities"] = ["bounding": capabilities, "effective": capabilities, "permitted": capabilities, "ambient": [String]()]
        }
        config["process"] = process
        config["hostname"] = "sandbox"
        var mounts = config["mounts"] as! [[String: Any]]
        for d in ["/usr", "/lib", "/lib64"] {
            mounts.append(["destination": d, "type": "bind", "source": d, "options": ["rbind", "ro"]])
        }
        config["mounts"] = mounts
        var linux = config["linux"] as! [String: Any]
        if let seccomp { linux["seccomp"] = try JSONSerialization.jsonObject(with: Data(seccomp.utf8)) }
        if crun { linux["resources"] = nil }
        config["linux"] = linux
        try JSONSerialization.data(withJSONObject: config).write(to: URL(fileURLWithPath: configPath))
        let id = "bulkhead-test-\(getpid())-\(UInt32.random(in: 0...UInt32.max))"
        if crun {
            let state = work + "/crun-state"
            defer { _ = try? shell("crun --root \(state) delete -f \(id)") }
            return try shell("unshare -m --propagation private sh -c 'mount -t tmpfs none /sys/fs/cgroup && "
                + "exec crun --cgroup-manager=disabled --root \(state) run --bundle \(bundle) \(id) </dev/null'")
        }
        defer { _ = try? shell("runc delete -f \(id)") }
        return try shell("runc run --bundle \(bundle) \(id) </dev/null")
    }

    static func read(_ path: String) throws -> String { try String(contentsOfFile: path, encoding: .utf8) }

    // MARK: export → runc

    @Test func runcEnforcesTheExportedContainerProfile() throws {
        let k = Self.work + "/container-k8s.json", o = Self.work + "/container-oci.json"
        let e1 = try Bulkhead.run(["seccomp", "export", "--profile", "container", "-o", k])
        #expect(e1.status == 0, "\(e1.stderr)")
        #expect(e1.stderr.contains("/var/lib/kubelet/seccomp/profiles/container.json"))
        #expect(e1.stderr.contains("localhostProfile: profiles/container.json"))
        let e2 = try Bulkhead.run(["seccomp", "export", "--profile", "container", "--format", "oci", "-o", o])
        #expect(e2.status == 0)
        let oci = try JSONSerialization.jsonObject(with: Data(try Self.read(o).utf8)) as! [String: Any]
        let fromOCI = String(decoding: try JSONSerialization.data(withJSONObject: (oci["linux"] as! [String: Any])["seccomp"]!), as: UTF8.self)

        for policy in [try Self.read(k), fromOCI] {
            let ok = try Self.runc(["sh", "-c", "echo ok"], seccomp: policy)
            #expect(ok.status == 0 && ok.stdout == "ok\n", "\(ok)")
            let probe = try Self.runc(["/bin/unshare", "-U", "true"], seccomp: policy)
            #expect(probe.status != 0)
            #expect(probe.stderr.contains("Operation not permitted"), "\(probe)")
        }
        // The control: without the filter, runc lets the same probe through.
        let control = try Self.runc(["/bin/unshare", "-U", "true"], seccomp: nil)
        #expect(control.status == 0, "\(control)")
    }

    // MARK: compile → bwrap

    @Test func bwrapLoadsTheCompiledProgram() throws {
        try Self.requireTool("/usr/bin/bwrap")
        let bpf = Self.work + "/container.bpf"
        let c = try Bulkhead.run(["seccomp", "compile", "container", "--bpf", bpf])
        #expect(c.status == 0, "\(c.stderr)")
        let size = try FileManager.default.attributesOfItem(atPath: bpf)[.size] as! Int
        #expect(size > 0 && size % 8 == 0)
        let ok = try Self.shell("bwrap --ro-bind / / --dev /dev --seccomp 9 9<\(bpf) -- /bin/true")
        #expect(ok.status == 0, "\(ok)")
        let refused = try Self.shell("bwrap --ro-bind / / --dev /dev --seccomp 9 9<\(bpf) -- unshare -U true")
        #expect(refused.status != 0)
        #expect(refused.stderr.contains("Operation not permitted"), "\(refused)")
        let control = try Self.shell("bwrap --ro-bind / / --dev /dev -- unshare -U true")
        #expect(control.status == 0, "\(control)")
        let pfc = try Bulkhead.run(["seccomp", "compile", "container", "--pfc"])
        #expect(pfc.stdout.contains("pseudo filter code start"))
    }

    // MARK: record → replay under bulkhead and runc

    /// Records `script` in the rootfs sandbox, then replays it under the recorded policy with
    /// bulkhead and with runc; then `probe` (a call the recording did not make) must get EPERM
    /// under both, and pass without the filter.
    func recordAndReplay(_ command: [String], expect output: String, probe: [String], probeMessage: String) throws {
        let policy = Self.work + "/recorded-\(UInt32.random(in: 0...UInt32.max)).json"
        let report = policy + ".report"
        let r = try Bulkhead.run(["seccomp", "record", "--profile", Self.profile, "--runtime", "runc", "-o", policy, "--report", report, "--"] + command)
        #expect(r.status == 0, "\(r.stderr)")
        #expect(r.stdout.contains(output))
        // The record report is hand-written JSON (SyscallRecordingReport.json, no Codable type):
        // its published shape is what is read here, and a missing key fails, never crashes.
        let rep = try #require(try JSONSerialization.jsonObject(with: Data(try Self.read(report).utf8)) as? [String: Any])
        let calls = try #require(rep["syscalls"] as? [[String: Any]], "no syscalls in \(rep.keys)")
        #expect(calls.contains { $0["name"] as? String == "execve" && $0["arch"] as? String == "x86_64" })
        #expect(!(try #require(rep["safetySet"] as? [Any], "no safetySet in \(rep.keys)")).isEmpty)

        let replay = try Bulkhead.run(["run", "--profile", Self.profile, "--seccomp", policy, "--"] + command)
        #expect(replay.status == 0, "\(replay.stderr)")
        #expect(replay.stdout.contains(output))
        let underRunc = try Self.runc(command, seccomp: try Self.read(policy))
        #expect(underRunc.status == 0, "\(underRunc)")
        #expect(underRunc.stdout.contains(output))

        let refused = try Bulkhead.run(["run", "--profile", Self.profile, "--seccomp", policy, "--"] + probe)
        #expect(refused.status != 0)
        #expect(refused.stderr.contains(probeMessage), "\(refused.stderr)")
        let refusedRunc = try Self.runc(probe, seccomp: try Self.read(policy))
        #expect(refusedRunc.status != 0)
        #expect(refusedRunc.stderr.contains(probeMessage), "\(refusedRunc)")
        let control = try Bulkhead.run(["run", "--profile", Self.profile, "--seccomp", "Unconfined", "--"] + probe)
        #expect(control.status == 0, "\(control.stderr)")
    }

    @Test func recordShellAndReplay() throws {
        try recordAndReplay(["sh", "-c", "ls / && cat /etc/hostname"], expect: "sandbox",
                            probe: ["sh", "-c", "ls / && cat /etc/hostname && unshare -U true"],
                            probeMessage: "Operation not permitted")
    }

    @Test func recordPythonAndReplay() throws {
        let py = "import json, os; print(json.dumps(sorted(os.listdir('/'))[:3]))"
        try recordAndReplay(["python3", "-c", py], expect: "[\"bin\"",
                            probe: ["python3", "-c", py + "; import socket; socket.socket(socket.AF_INET)"],
                            probeMessage: "PermissionError")
    }

    @Test(arguments: ["ebpf", "ptrace"]) func recordsEveryArchitectureAndChild(recorder: String) throws {
        // i386 through int $0x80 and x32 through the 0x40000000 bit, from one x86_64 program.
        let src = Self.work + "/archprobe.c", exe = Self.work + "/archprobe"
        try """
        #include <unistd.h>
        #include <sys/syscall.h>
        #include <sys/wait.h>
        int main(void) {
            long r;
            __asm__ volatile ("int $0x80" : "=a"(r) : "a"(20L) : "memory"); /* i386 getpid */
            syscall(39 | 0x40000000);                                        /* x32 getpid */
            pid_t c = fork();
            if (c == 0) { syscall(SYS_getppid); _exit(0); }
            waitpid(c, 0, 0);
            return 0;
        }
        """.write(toFile: src, atomically: true, encoding: .utf8)
        try #require(try Self.shell("cc -O1 -o \(exe) \(src)").status == 0, "needs a C compiler (gcc)")
        let report = Self.work + "/arch.report"
        let r = try Bulkhead.run(["seccomp", "record", "--recorder", recorder, "--report", report, "-o", Self.work + "/arch.json", "--", exe])
        #expect(r.status == 0, "\(r.stderr)")
        let rep = try #require(try JSONSerialization.jsonObject(with: Data(try Self.read(report).utf8)) as? [String: Any])
        let calls = try #require(rep["syscalls"] as? [[String: Any]], "no syscalls in \(rep.keys)")
        func has(_ arch: String, _ name: String) -> Bool { calls.contains { $0["arch"] as? String == arch && $0["name"] as? String == name } }
        #expect(has("i386", "getpid"))
        #expect(has("x32", "getpid"))
        #expect(has("x86_64", "getppid"), "the forked child's calls are recorded")
        #expect((rep["recorder"] as? [String: Any])?["kind"] as? String == recorder)
        #expect(calls.first { $0["name"] as? String == "getppid" }?["firstExecutable"] as? String == exe)
        let policy = try Self.read(Self.work + "/arch.json")
        #expect(policy.contains("SCMP_ARCH_X86\"") && policy.contains("SCMP_ARCH_X32"))
    }

    @Test func mergeUnitesRecordings() throws {
        let a = Self.work + "/m-a.report", b = Self.work + "/m-b.report", out = Self.work + "/merged.json"
        #expect(try Bulkhead.run(["seccomp", "record", "--report", a, "-o", "/dev/null", "--", "true"]).status == 0)
        #expect(try Bulkhead.run(["seccomp", "record", "--report", b, "-o", "/dev/null", "--", "sh", "-c", "ls / >/dev/null"]).status == 0)
        let m = try Bulkhead.run(["seccomp", "record", "--merge", a, b, "-o", out])
        #expect(m.status == 0, "\(m.stderr)")
        #expect(try Bulkhead.run(["run", "--seccomp", out, "--", "sh", "-c", "ls / >/dev/null"]).status == 0)
    }

    // MARK: Docker's and Podman's defaults

    static let ioUringProbe = "import ctypes, os; l = ctypes.CDLL(None, use_errno=True); l.syscall(425, 0, 0); print(os.strerror(ctypes.get_errno()))"

    @Test func ioUringProbeReachesTheKernelUnconfined() throws {
        let control = try Bulkhead.run(["run", "--seccomp", "Unconfined", "--", "python3", "-c", Self.ioUringProbe])
        #expect(control.stdout == "Bad address\n", "\(control)")
    }

    @Test func dockerAndPodmanDefaultsExportAndEnforce() throws {
        let docker = SeccompCompatTests.fixtures + "/docker-default.json", podman = SeccompCompatTests.fixtures + "/podman-default.json"
        let refused = try Bulkhead.run(["seccomp", "export", "--strict", "--seccomp", podman])
        #expect(refused.status == 1)
        #expect(refused.stderr.contains("setns"))
        #expect(refused.stderr.contains("drop --strict from seccomp export/compile"), "\(refused.stderr)")
        for (file, extra) in [(docker, [String]()), (podman, [])] {
            let out = Self.work + "/" + URL(fileURLWithPath: file).lastPathComponent
            let e = try Bulkhead.run(["seccomp", "export", "--seccomp", file, "-o", out] + extra)
            #expect(e.status == 0, "\(e.stderr)")
            let ok = try Bulkhead.run(["run", "--seccomp", out, "--", "sh", "-c", "echo ok"])
            #expect(ok.status == 0 && ok.stdout == "ok\n", "\(ok.stderr)")
            // io_uring_setup(0, NULL): the filter refuses it (Docker: EPERM; Podman: its default,
            // ENOSYS) before the kernel sees the bad pointer, which unconfined gives EFAULT.
            let probe = try Bulkhead.run(["run", "--seccomp", out, "--", "python3", "-c", Self.ioUringProbe])
            #expect(probe.stdout == (file == docker ? "Operation not permitted\n" : "Function not implemented\n"), "\(probe)")
            let underRunc = try Self.runc(["sh", "-c", "echo ok"], seccomp: try Self.read(out))
            #expect(underRunc.status == 0 && underRunc.stdout == "ok\n", "\(underRunc)")
        }
    }
}
