import Foundation
import Glibc
import Testing

/// Docker's and Podman's default profiles, checked in unchanged (Tests/Fixtures/seccomp, with
/// their sources and licences), load in `bulkhead run` as runc loads them, and the kernel
/// enforces the same answers under both: one probe makes thirteen system calls and prints what
/// each returned, read from inside the workload. Every refusal asserted is also shown to reach
/// the kernel without a filter (`--seccomp Unconfined`), so it is the filter's.
///
/// Root, runc, busybox-static and python3 (as SeccompConsumerTests). With CI=true nothing skips.
@Suite(.enabled(if: Gate.root, Gate.rootReason), .serialized)
struct SeccompCompatTests {
    static let fixtures = Bulkhead.packageRoot + "/Tests/Fixtures/seccomp"
    static let docker = fixtures + "/docker-default.json"
    static let podman = fixtures + "/podman-default.json"

    /// Each call with harmless arguments; prints `name=ok` or `name=ERRNO`.
    static let probe = """
    import ctypes, errno
    l = ctypes.CDLL(None, use_errno=True)
    l.syscall.restype = ctypes.c_long
    calls = [("getpid", 39, ()), ("setns", 308, (-1, 0)), ("unshare", 272, (0,)), ("clone3", 435, (0, 0)),
             ("io_uring_setup", 425, (0, 0)), ("add_key", 248, (0, 0, 0, 0, 0)), ("kexec_load", 246, (0, 0, 0, 0)),
             ("userfaultfd", 323, (1,)), ("chroot", 161, (b"/",)), ("socket_unix", 41, (1, 1, 0)),
             ("socket_netlink_audit", 41, (16, 3, 9)), ("personality_query", 135, (0xffffffff,)),
             ("personality_addr_compat", 135, (0x200000,))]
    for name, nr, args in calls:
        ctypes.set_errno(0)
        r = l.syscall(ctypes.c_long(nr), *[ctypes.c_char_p(a) if isinstance(a, bytes) else ctypes.c_long(a) for a in args])
        print(name + "=" + ("ok" if r != -1 else errno.errorcode.get(ctypes.get_errno(), str(ctypes.get_errno()))))
    """

    /// The probe's answers, by call.
    static func answers(_ stdout: String) -> [String: String] {
        var out: [String: String] = [:]
        for line in stdout.split(separator: "\n") {
            let parts = line.split(separator: "=", maxSplits: 1)
            if parts.count == 2 { out[String(parts[0])] = String(parts[1]) }
        }
        return out
    }

    /// What Podman and Docker hand runc: the profile with `includes`/`excludes` resolved for
    /// `capabilities` on amd64 and this kernel (moby's and containers/common's loop), `archMap`
    /// turned into `architectures`, and every rule kept otherwise — contradictions included, so
    /// runc's own resolution is what runs. Written here from the two projects' code, not with
    /// bulkhead's parser, so the comparison is between two readings.
    static func asHandedToRunc(_ path: String, capabilities: Set<String>) throws -> String {
        let d = try #require(try JSONSerialization.jsonObject(with: Data(contentsOf: URL(fileURLWithPath: path))) as? [String: Any])
        var out: [String: Any] = ["defaultAction": d["defaultAction"]!]
        if let e = d["defaultErrnoRet"] { out["defaultErrnoRet"] = e }
        if let map = d["archMap"] as? [[String: Any]], let x = map.first(where: { $0["architecture"] as? String == "SCMP_ARCH_X86_64" }) {
            out["architectures"] = ["SCMP_ARCH_X86_64"] + ((x["subArchitectures"] as? [String]) ?? [])
        }
        var u = utsname()
        uname(&u)
        let release = withUnsafePointer(to: u.release) { $0.withMemoryRebound(to: CChar.self, capacity: 65) { String(cString: $0) } }
        let kv = release.split(separator: ".").prefix(2).map { Int($0.prefix { $0.isNumber }) ?? 0 }
        func atLeast(_ v: String) -> Bool {
            let p = v.split(separator: ".").map { Int($0) ?? 0 }
            return (kv[0], kv[1]) >= (p[0], p.count > 1 ? p[1] : 0)
        }
        var calls: [[String: Any]] = []
        for r in try #require(d["syscalls"] as? [[String: Any]]) {
            let ex = r["excludes"] as? [String: Any] ?? [:], inc = r["includes"] as? [String: Any] ?? [:]
            if (ex["arches"] as? [String] ?? []).contains("amd64") { continue }
            if (ex["caps"] as? [String] ?? []).contains(where: capabilities.contains) { continue }
            if let k = ex["minKernel"] as? String, atLeast(k) { continue }
            if let a = inc["arches"] as? [String], !a.isEmpty, !a.contains("amd64") { continue }
            if !(inc["caps"] as? [String] ?? []).allSatisfy(capabilities.contains) { continue }
            if let k = inc["minKernel"] as? String, !atLeast(k) { continue }
            var c: [String: Any] = ["names": r["names"]!, "action": r["action"]!]
            if let e = r["errnoRet"] { c["errnoRet"] = e }
            if let a = r["args"] as? [Any], !a.isEmpty { c["args"] = a }
            calls.append(c)
        }
        out["syscalls"] = calls
        return String(decoding: try JSONSerialization.data(withJSONObject: out), as: UTF8.self)
    }

    /// The probe under `bulkhead run` (the rootfs profile of SeccompConsumerTests) and under
    /// runc, with the same profile and capabilities; both answers.
    func both(_ profile: String, capabilities: [String] = []) throws -> (bulkhead: [String: String], runc: [String: String], stderr: String, changes: [String]?) {
        let b = try Bulkhead.run(["run", "--profile", SeccompConsumerTests.profile, "--seccomp", profile]
            + capabilities.flatMap { ["--cap-add", String($0.dropFirst(4))] } + ["--", "python3", "-c", Self.probe], report: true)
        #expect(b.status == 0, "\(b.stderr)")
        let r = try SeccompConsumerTests.runc(["python3", "-c", Self.probe],
                                              seccomp: try Self.asHandedToRunc(profile, capabilities: Set(capabilities)),
                                              capabilities: capabilities)
        #expect(r.status == 0, "\(r)")
        let a = Self.answers(b.stdout), c = Self.answers(r.stdout)
        #expect(a.count == 13, "\(b.stdout)")
        return (a, c, b.stderr, b.controls?.seccomp?.changes)
    }

    @Test func unconfinedReachesTheKernel() throws {
        let u = Self.answers(try Bulkhead.run(["run", "--profile", SeccompConsumerTests.profile, "--seccomp", "Unconfined",
                                               "--", "python3", "-c", Self.probe]).stdout)
        // What the kernel itself answers: the refusals below are the filters'.
        #expect(u["setns"] == "EBADF")
        #expect(u["unshare"] == "ok")
        #expect(u["clone3"] == "EINVAL")
        #expect(u["io_uring_setup"] == "EFAULT")
        #expect(u["add_key"] == "EFAULT")
        #expect(u["userfaultfd"] == "ok")
        #expect(u["socket_netlink_audit"] == "ok")
        #expect(u["personality_addr_compat"] == "ok")
    }

    @Test func dockerDefaultAsUnderRunc() throws {
        let (b, r, _, changes) = try both(Self.docker)
        #expect(b == r, "bulkhead \(b) runc \(r)")
        #expect(changes == nil, "Docker's default needs no change: \(changes ?? [])")
        #expect(b["setns"] == "EPERM")            // CAP_SYS_ADMIN only: the default, EPERM
        #expect(b["clone3"] == "ENOSYS")          // excludes CAP_SYS_ADMIN: errnoRet 38
        #expect(b["io_uring_setup"] == "EPERM")   // not listed: defaultErrnoRet 1
        #expect(b["personality_addr_compat"] == "EPERM")  // args: only 0, 8, 0x20000, 0x20008, 0xffffffff
        #expect(b["personality_query"] == "ok")
        #expect(b["getpid"] == "ok")
    }

    @Test func podmanDefaultLoadsUnchangedAsUnderRunc() throws {
        let (b, r, stderr, changes) = try both(Self.podman)
        #expect(b == r, "bulkhead \(b) runc \(r)")
        // setns is allowed (its big list) and refused (EPERM without CAP_SYS_ADMIN): runc keeps
        // the first, and so does bulkhead, with a warning naming the call and the rules.
        #expect(b["setns"] == "EBADF")
        #expect(stderr.contains("setns: SCMP_ACT_ERRNO(1) is ignored: syscalls[1] already gives it SCMP_ACT_ALLOW"), "\(stderr)")
        // The typed report keeps the same line (also with --quiet, which prints no warnings).
        #expect(changes?.count == 1 && changes?.first?.contains("syscalls[15]: setns: SCMP_ACT_ERRNO(1) is ignored") == true, "\(changes ?? [])")
        #expect(b["io_uring_setup"] == "ENOSYS")  // not listed: defaultErrnoRet 38
        #expect(b["add_key"] == "ENOSYS")
        #expect(b["userfaultfd"] == "EPERM")      // listed with errnoRet 1
        #expect(b["socket_netlink_audit"] == "EINVAL")  // args, excludes CAP_AUDIT_WRITE: errnoRet 22
        #expect(b["socket_unix"] == "ok")
        #expect(b["chroot"] == "EPERM")
        // --seccomp-strict refuses the same file, with the hint of export.
        let strict = try Bulkhead.run(["run", "--seccomp-strict", "--seccomp", Self.podman, "--", "true"])
        #expect(strict.status == 125)
        #expect(strict.stderr.contains("\"setns\" already has an unconditional rule in syscalls[1]"), "\(strict.stderr)")
        #expect(strict.stderr.contains("--seccomp-strict from run"), "\(strict.stderr)")
    }

    /// includes/excludes on capabilities resolved for what the sandbox keeps: with CAP_SYS_CHROOT
    /// Podman's chroot rule allows it (and its refusal is excluded), under bulkhead and runc.
    @Test func podmanCapabilityConditionsAsUnderRunc() throws {
        let (b, r, _, _) = try both(Self.podman, capabilities: ["CAP_SYS_CHROOT", "CAP_AUDIT_WRITE"])
        #expect(b == r, "bulkhead \(b) runc \(r)")
        #expect(b["chroot"] == "ok")
        #expect(b["socket_netlink_audit"] == "ok")  // the EINVAL rule excludes CAP_AUDIT_WRITE
    }

    /// A profile naming a call nobody knows (as a profile for a newer kernel does) runs, with a
    /// warning that names the call; --seccomp-strict refuses it. A name that is not spelled as
    /// a system call is not echoed.
    @Test func unknownNamesAreSkippedWithAWarning() throws {
        let dir = SeccompConsumerTests.work
        let file = dir + "/unknown-names.json"
        try """
        {"defaultAction": "SCMP_ACT_ALLOW", "syscalls": [
          {"names": ["getpid_of_the_future", "setns"], "action": "SCMP_ACT_ERRNO", "errnoRet": 13},
          {"names": ["\\u001b[31mred"], "action": "SCMP_ACT_ERRNO"}
        ]}
        """.write(toFile: file, atomically: true, encoding: .utf8)
        let r = try Bulkhead.run(["run", "--seccomp", file, "--", "python3", "-c", Self.probe])
        #expect(r.status == 0, "\(r.stderr)")
        #expect(Self.answers(r.stdout)["setns"] == "EACCES")  // the rest of the rule is enforced
        #expect(r.stderr.contains("unknown system call getpid_of_the_future skipped, as runc does"), "\(r.stderr)")
        #expect(r.stderr.contains("syscalls[1].names[0]: unknown system call (not a system-call name) skipped"), "\(r.stderr)")
        #expect(!r.stderr.contains("red"), "\(r.stderr)")
        #expect(!r.stderr.contains("\u{1b}"))
        let strict = try Bulkhead.run(["run", "--seccomp-strict", "--seccomp", file, "--", "true"])
        #expect(strict.status == 125)
        #expect(strict.stderr.contains("unknown system call \"getpid_of_the_future\""), "\(strict.stderr)")
        #expect(strict.stderr.contains("--seccomp-strict from run"), "\(strict.stderr)")
        // A file not everyone can read: the warning and the report keep the place, not the name.
        let hidden = dir + "/unknown-names-private.json"
        try? FileManager.default.removeItem(atPath: hidden)
        try FileManager.default.copyItem(atPath: file, toPath: hidden)
        chmod(hidden, 0o600)
        let p = try Bulkhead.run(["run", "--seccomp", hidden, "--", "true"], report: true)
        #expect(p.status == 0, "\(p.stderr)")
        #expect(p.stderr.contains("syscalls[0].names[0]: unknown system call (a name, not shown: the file is not readable by everyone) skipped"), "\(p.stderr)")
        #expect(!p.stderr.contains("getpid_of_the_future"))
        #expect(p.controls?.seccomp?.changes?.count == 2)
        #expect(!(p.reportData.map { String(decoding: $0, as: UTF8.self) } ?? "").contains("getpid_of_the_future"))
    }

    /// A file of thousands of unknown names still runs, and prints a bounded number of lines.
    @Test func manyUnknownNamesPrintAScreenful() throws {
        let file = SeccompConsumerTests.work + "/many-unknown.json"
        let names = (0..<20000).map { "\"future_call_\($0)\"" }.joined(separator: ",")
        let text = "{\"defaultAction\": \"SCMP_ACT_ALLOW\", \"syscalls\": [{\"names\": [" + names + "], \"action\": \"SCMP_ACT_ERRNO\"}]}"
        try text.write(toFile: file, atomically: true, encoding: .utf8)
        let r = try Bulkhead.run(["run", "--seccomp", file, "--", "sh", "-c", "echo ok"])
        #expect(r.status == 0 && r.stdout == "ok\n", "\(r.stderr.prefix(500))")
        let lines = r.stderr.split(separator: "\n")
        #expect(lines.count == 21, "\(lines.count) lines")
        #expect(lines.last?.hasSuffix("19980 more changes of the same kinds not listed (pass --strict to see the first as an error)") == true)
    }
}
