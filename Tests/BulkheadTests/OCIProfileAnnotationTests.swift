import BulkheadModel
import Foundation
import Glibc
import Testing

/// `bulkhead.dev/profile: NAME` on the real kernel: a layer profile from a root-owned search
/// directory tightens every field it may touch (capabilities, no_new_privs, read-only root,
/// rlimits, memory and pids limits, seccomp as an intersection with the config's own filter,
/// Landlock rules), and a profile asking for more than the config gives nothing more.
@Suite(.serialized, .enabled(if: Gate.root, Gate.rootReason))
struct OCIProfileAnnotationTests {
    typealias Bundle = OCIRuntimeTests.Bundle

    /// A root-owned profile directory (0755) with `NAME.yaml` and the files given.
    final class ProfileDir {
        let path: String
        init(_ files: [String: String]) throws {
            path = NSTemporaryDirectory() + "bh-oci-prof-\(token())"
            try FileManager.default.createDirectory(atPath: path, withIntermediateDirectories: true)
            chmod(path, 0o755)
            for (name, text) in files {
                try text.write(toFile: path + "/" + name, atomically: false, encoding: .utf8)
                chmod(path + "/" + name, 0o644)
            }
        }
        deinit { try? FileManager.default.removeItem(atPath: path) }
    }

    static let script = """
        cat /proc/self/status > /out/status; cat /proc/self/limits > /out/limits; cat /proc/self/mountinfo > /out/mountinfo
        busybox mkdir /out/made 2> /out/mkdir.err; echo $? > /out/mkdir.rc
        busybox ln -s x /out/link 2> /out/ln.err; echo $? > /out/ln.rc
        echo w > /out/written; echo $? > /out/write.rc
        echo w > /scratch/f 2> /out/scratch.err; echo $? > /out/scratch.rc
        ls /hostetc > /out/hostetc 2>&1
        echo done > /out/done
        """

    /// The config: CHOWN, KILL and NET_RAW, no no_new_privs, a writable root, nofile 1024, 64Mi,
    /// 50 pids, a filter refusing mkdir (EPERM), a tmpfs /scratch.
    static func config(annotation: String?, tight: Bool = false) -> (inout [String: Any]) -> Void {
        { config in
            var p = config["process"] as! [String: Any]
            let caps = tight ? ["CAP_CHOWN"] : ["CAP_CHOWN", "CAP_KILL", "CAP_NET_RAW"]
            p["capabilities"] = ["bounding": caps, "effective": caps, "permitted": caps]
            p["noNewPrivileges"] = tight
            p["rlimits"] = [["type": "RLIMIT_NOFILE", "soft": tight ? 64 : 1024, "hard": tight ? 64 : 1024]]
            config["process"] = p
            var r = config["root"] as! [String: Any]
            r["readonly"] = tight
            config["root"] = r
            config["mounts"] = (config["mounts"] as! [[String: Any]]) + [["destination": "/scratch", "type": "tmpfs", "source": "tmpfs", "options": ["size=1m"]]]
            var l = config["linux"] as! [String: Any]
            l["resources"] = ["memory": ["limit": (tight ? 32 : 64) << 20], "pids": ["limit": tight ? 20 : 50]]
            l["seccomp"] = ["defaultAction": "SCMP_ACT_ALLOW", "architectures": ["SCMP_ARCH_X86_64"],
                            "syscalls": [["names": ["mkdir", "mkdirat"], "action": "SCMP_ACT_ERRNO", "errnoRet": 1]]]
            config["linux"] = l
            if let annotation { config["annotations"] = ["bulkhead.dev/profile": annotation] }
        }
    }

    static let denySymlink = """
        {"defaultAction": "SCMP_ACT_ALLOW", "architectures": ["SCMP_ARCH_X86_64"],
         "syscalls": [{"names": ["symlink", "symlinkat"], "action": "SCMP_ACT_ERRNO", "errnoRet": 1}]}
        """

    /// create, read the cgroup's limits from the host, start, wait for the workload to finish.
    /// Container ids are unique: the cgroup bulkhead/oci/ID is the host's, shared with every
    /// other test run on this machine.
    static func createAndRun(_ b: Bundle, env: [String: String]) throws -> (status: Int32, stderr: String, memory: String?, pids: String?) {
        let pidFile = b.dir + "/pid"
        let id = "c" + token()
        defer { _ = try? OCIRuntimeTests.rt(["delete", "--force", id], root: b.stateRoot, env: env) }
        let c = try OCIRuntimeTests.rt(["create", "--bundle", b.dir, "--pid-file", pidFile, id], root: b.stateRoot, env: env)
        guard c.status == 0 else { return (c.status, c.stderr, nil, nil) }
        let pid = Int32((try? String(contentsOfFile: pidFile, encoding: .utf8)) ?? "") ?? 0
        let dirs = OCIRuntimeTests.cgroupDirs(of: pid)
        func read(_ names: [String]) -> String? {
            for d in dirs { for n in names { if let s = try? String(contentsOfFile: d + "/" + n, encoding: .utf8) { return s.trimmingCharacters(in: .whitespacesAndNewlines) } } }
            return nil
        }
        let memory = read(["memory.limit_in_bytes", "memory.max"]), pids = read(["pids.max"])
        let s = try OCIRuntimeTests.rt(["start", id], root: b.stateRoot, env: env)
        for _ in 0..<500 where !FileManager.default.fileExists(atPath: b.out + "/done") { usleep(10_000) }
        return (s.status, s.stderr, memory, pids)
    }

    static func out(_ b: Bundle, _ name: String) -> String {
        ((try? String(contentsOfFile: b.out + "/" + name, encoding: .utf8)) ?? "").trimmingCharacters(in: .whitespacesAndNewlines)
    }

    static func header(_ name: String) -> String {
        "apiVersion: bulkhead.dev/v1alpha1\nkind: LayerProfile\nmetadata: {name: \(name)}\n"
    }

    static func nofile(_ b: Bundle) -> [String] {
        let line = out(b, "limits").split(separator: "\n").first { $0.hasPrefix("Max open files") } ?? ""
        return line.split(separator: " ").dropFirst(3).prefix(2).map(String.init)
    }

    /// The profile `tighter`: KILL and SYS_ADMIN, no_new_privs, a read-only root, a filter
    /// refusing symlink, 32Mi and 20 pids, nofile 100/200, Landlock (/ read-only, /out writable).
    static let tighter: [String: String] = [
        "tighter.yaml": OCIProfileAnnotationTests.header("tighter") + """
            securityContext:
              capabilities: {drop: [ALL], add: [KILL, SYS_ADMIN]}
              allowPrivilegeEscalation: false
              readOnlyRootFilesystem: true
              seccompProfile: {type: Localhost, localhostProfile: deny-symlink.json}
            resources:
              limits: {memory: 32Mi, pids: 20}
            rlimits:
              nofile: {soft: 100, hard: 200}
            filesystem:
              landlock:
                readOnly: [/]
                readWrite: [/out]
            """,
        "deny-symlink.json": OCIProfileAnnotationTests.denySymlink,
    ]

    @Test func eachFieldTightens() throws {
        let dir = try ProfileDir(Self.tighter)
        let b = try Bundle(args: ["/bin/sh", "-c", Self.script], edit: Self.config(annotation: "tighter"))
        let r = try Self.createAndRun(b, env: ["BULKHEAD_PROFILE_PATH": dir.path])
        #expect(r.status == 0, "\(r.stderr)")
        #expect(Self.out(b, "done") == "done", "the workload ran")
        let status = Self.out(b, "status")
        // Capabilities: the intersection ({CHOWN, KILL, NET_RAW} and {KILL, SYS_ADMIN}): KILL (5).
        #expect(statusField(status, "CapBnd") == "0000000000000020")
        #expect(statusField(status, "NoNewPrivs") == "1")
        let rootLine = Self.out(b, "mountinfo").split(separator: "\n").first { $0.split(separator: " ")[4] == "/" }
        #expect(rootLine?.split(separator: " ")[5].hasPrefix("ro") == true, "read-only root: \(rootLine ?? "none")")
        #expect(Self.nofile(b) == ["100", "200"], "rlimit: the minimum")
        #expect(r.memory == String(32 << 20))
        #expect(r.pids == "20")
        // Seccomp: the config's filter refuses mkdir, the profile's symlink; both hold.
        #expect(Self.out(b, "mkdir.rc") == "1" && Self.out(b, "mkdir.err").contains("ermitted"), "\(Self.out(b, "mkdir.err"))")
        #expect(Self.out(b, "ln.rc") == "1" && Self.out(b, "ln.err").contains("ermitted"), "\(Self.out(b, "ln.err"))")
        #expect(Self.out(b, "write.rc") == "0" && Self.out(b, "written") == "w", "allowed by both")
        // Landlock: /out is writable, the config's tmpfs /scratch is not.
        #expect(Self.out(b, "scratch.rc") != "0", "landlock refuses /scratch: \(Self.out(b, "scratch.err"))")
    }

    @Test func aProfileCannotWiden() throws {
        let dir = try ProfileDir([
            "wider.yaml": Self.header("wider") + """
                securityContext: {capabilities: {add: [ALL]}, allowPrivilegeEscalation: true, readOnlyRootFilesystem: false, seccompProfile: {type: Unconfined}}
                resources: {limits: {memory: 1Gi, pids: 4096}}
                rlimits: {nofile: {soft: 4096, hard: 4096}}
                filesystem: {binds: [{source: /etc, destination: /hostetc}]}
                """,
        ])
        let b = try Bundle(args: ["/bin/sh", "-c", Self.script], edit: Self.config(annotation: "wider", tight: true))
        let r = try Self.createAndRun(b, env: ["BULKHEAD_PROFILE_PATH": dir.path])
        #expect(r.status == 0, "\(r.stderr)")
        #expect(Self.out(b, "done") == "done", "the workload ran")
        let status = Self.out(b, "status")
        #expect(statusField(status, "CapBnd") == "0000000000000001", "CHOWN only")
        #expect(statusField(status, "NoNewPrivs") == "1")
        let rootLine = Self.out(b, "mountinfo").split(separator: "\n").first { $0.split(separator: " ")[4] == "/" }
        #expect(rootLine?.split(separator: " ")[5].hasPrefix("ro") == true)
        #expect(Self.nofile(b) == ["64", "64"])
        #expect(r.memory == String(32 << 20))
        #expect(r.pids == "20")
        #expect(Self.out(b, "mkdir.rc") == "1", "the config's filter still holds")
        #expect(Self.out(b, "scratch.rc") == "0", "without Landlock the config's /scratch is writable: \(Self.out(b, "scratch.err"))")
        #expect(!Self.out(b, "hostetc").contains("passwd"), "no bind from the profile")
    }

    /// `exec` stays within the profile the container was created under: a `--process` (or
    /// `--cap`) asking for more capabilities in every set (ambient and inheritable too), no
    /// no_new_privs, a higher rlimit and uid 0 gets no more than the init got. The profile is
    /// read at `create` only (the environment naming its directory is not given to `exec`):
    /// what exec applies was stored in the state then.
    @Test func execStaysWithinTheProfile() throws {
        let dir = try ProfileDir(Self.tighter)
        let edit = Self.config(annotation: "tighter")
        let b = try Bundle(args: ["/bin/sleep", "1000"]) { config in
            edit(&config)
            var p = config["process"] as! [String: Any]
            p["args"] = ["/bin/sleep", "1000"]
            config["process"] = p
        }
        let id = "c" + token()
        defer { _ = try? OCIRuntimeTests.rt(["delete", "--force", id], root: b.stateRoot) }
        let c = try OCIRuntimeTests.rt(["create", "--bundle", b.dir, id], root: b.stateRoot, env: ["BULKHEAD_PROFILE_PATH": dir.path])
        try #require(c.status == 0, "create: \(c.stderr)")
        try #require(try OCIRuntimeTests.rt(["start", id], root: b.stateRoot).status == 0)
        let script = """
            cat /proc/self/status > /out/x-status; cat /proc/self/limits > /out/x-limits
            busybox mkdir /out/x-made 2> /dev/null; echo $? > /out/x-mkdir.rc
            busybox ln -s x /out/x-link 2> /dev/null; echo $? > /out/x-ln.rc
            echo w > /scratch/f 2> /dev/null; echo $? > /out/x-scratch.rc
            """
        let all = ["CAP_KILL", "CAP_SYS_ADMIN", "CAP_NET_RAW", "CAP_CHOWN"]
        let doc: [String: Any] = [
            "args": ["/bin/sh", "-c", script], "cwd": "/", "user": ["uid": 0, "gid": 0], "noNewPrivileges": false,
            "capabilities": ["bounding": all, "effective": all, "permitted": all, "inheritable": all, "ambient": all],
            "rlimits": [["type": "RLIMIT_NOFILE", "soft": 4096, "hard": 4096]],
        ]
        let process = b.dir + "/process.json"
        try JSONSerialization.data(withJSONObject: doc).write(to: URL(fileURLWithPath: process))
        let e = try OCIRuntimeTests.rt(["exec", "--process", process, id], root: b.stateRoot)
        #expect(e.status == 0, "exec: \(e.stderr)")
        let status = Self.out(b, "x-status")
        // The profile allows KILL and SYS_ADMIN (bits 5, 21): the ceiling of every set, whatever
        // the process asks (runc's exec may ask for more than the config; never for more than
        // the profile); CHOWN and NET_RAW (bits 0, 13) never.
        for set in ["CapBnd", "CapEff", "CapPrm", "CapInh", "CapAmb"] {
            let v = UInt64(statusField(status, set) ?? "", radix: 16)
            #expect(v != nil && v! & ~UInt64(0x200020) == 0, "\(set) \(statusField(status, set) ?? "none") is more than KILL and SYS_ADMIN")
        }
        #expect(statusField(status, "NoNewPrivs") == "1")
        #expect(statusField(status, "Seccomp") == "2")
        let line = Self.out(b, "x-limits").split(separator: "\n").first { $0.hasPrefix("Max open files") } ?? ""
        #expect(line.split(separator: " ").dropFirst(3).prefix(2).map(String.init) == ["100", "200"], "\(line)")
        #expect(Self.out(b, "x-mkdir.rc") == "1", "the config's filter")
        #expect(Self.out(b, "x-ln.rc") == "1", "the profile's filter")
        #expect(Self.out(b, "x-scratch.rc") != "0", "the profile's Landlock rules")

        // The flags: --cap adds to bounding, effective and permitted, within the profile.
        let f = try OCIRuntimeTests.rt(["exec", "--cap", "CAP_SYS_ADMIN", "--cap", "CAP_NET_RAW", id, "/bin/sh", "-c", "cat /proc/self/status > /out/y-status"],
                                       root: b.stateRoot)
        #expect(f.status == 0, "exec: \(f.stderr)")
        let bnd = UInt64(statusField(Self.out(b, "y-status"), "CapBnd") ?? "", radix: 16)
        #expect(bnd != nil && bnd! & ~UInt64(0x200020) == 0, "CapBnd \(String(bnd ?? 0, radix: 16))")
        #expect(statusField(Self.out(b, "y-status"), "NoNewPrivs") == "1")
    }

    /// A profile with runAsNonRoot: `exec --user 0` is refused as `create` refuses a config
    /// running uid 0.
    @Test func execAsRootRefusedUnderRunAsNonRoot() throws {
        let dir = try ProfileDir(["nonroot.yaml": Self.header("nonroot") + "securityContext: {runAsNonRoot: true, runAsUser: 1000}\n"])
        let b = try Bundle(args: ["/bin/sleep", "1000"]) { config in
            var p = config["process"] as! [String: Any]
            p["user"] = ["uid": 1000, "gid": 1000]
            config["process"] = p
            config["annotations"] = ["bulkhead.dev/profile": "nonroot"]
        }
        let id = "c" + token()
        defer { _ = try? OCIRuntimeTests.rt(["delete", "--force", id], root: b.stateRoot) }
        let c = try OCIRuntimeTests.rt(["create", "--bundle", b.dir, id], root: b.stateRoot, env: ["BULKHEAD_PROFILE_PATH": dir.path])
        try #require(c.status == 0, "create: \(c.stderr)")
        try #require(try OCIRuntimeTests.rt(["start", id], root: b.stateRoot).status == 0)
        let ok = try OCIRuntimeTests.rt(["exec", id, "/bin/true"], root: b.stateRoot)
        #expect(ok.status == 0, "uid 1000: \(ok.stderr)")
        let e = try OCIRuntimeTests.rt(["exec", "--user", "0", id, "/bin/sh", "-c", "echo ran > /out/root-ran"], root: b.stateRoot)
        #expect(e.status == 1 && e.stderr.contains("runAsNonRoot"), "\(e.stderr)")
        #expect(Self.out(b, "root-ran").isEmpty)
    }

    /// An unknown name fails create naming the annotation; a path is never read as one; a
    /// profile in a directory another user may write is refused (TrustedFile), not used.
    @Test func namesOnlyFromTheTrustedStore() throws {
        let b = try Bundle(args: ["/bin/true"], edit: Self.config(annotation: "no-such-profile-\(token())"))
        let id = "c" + token()
        let r = try OCIRuntimeTests.rt(["create", "--bundle", b.dir, id], root: b.stateRoot)
        #expect(r.status == 1 && r.stderr.contains("bulkhead.dev/profile") && r.stderr.contains("no profile named"), "\(r.stderr)")
        #expect(!FileManager.default.fileExists(atPath: b.stateRoot + "/" + id), "nothing left")

        let dir = try ProfileDir(["evil.yaml": Self.header("evil")])
        for name in [dir.path + "/evil.yaml", "../evil", "evil.yaml", ".hidden"] {
            let p = try Bundle(args: ["/bin/true"], edit: Self.config(annotation: name))
            let e = try OCIRuntimeTests.rt(["create", "--bundle", p.dir, id], root: p.stateRoot)
            #expect(e.status == 1 && e.stderr.contains("bulkhead.dev/profile") && e.stderr.contains("not a path"), "\(name): \(e.stderr)")
        }
        // Owned by another user (nobody): refused by the checked open.
        chown(dir.path + "/evil.yaml", 65534, 65534)
        let o = try Bundle(args: ["/bin/true"], edit: Self.config(annotation: "evil"))
        let e = try OCIRuntimeTests.rt(["create", "--bundle", o.dir, id], root: o.stateRoot, env: ["BULKHEAD_PROFILE_PATH": dir.path])
        #expect(e.status == 1 && e.stderr.contains("bulkhead.dev/profile") && e.stderr.contains("evil.yaml"), "\(e.stderr)")
        #expect(!FileManager.default.fileExists(atPath: o.stateRoot + "/" + id))
    }
}
