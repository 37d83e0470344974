@testable import Bulkhead
import BulkheadConfig
import BulkheadModel
import BulkheadSystem
import CShimsTesting
import Foundation
import Glibc
import Testing

/// Issue 17: bulkhead's own policies are compiled for the native architecture only; every other
/// architecture, and x32's bit on x86_64, is refused in the filter's first instructions. A
/// user's or an OCI config's policy keeps runc's reading of its `architectures`.
@Suite struct SeccompNativeOnlyTests {
    static let policyPath = Bulkhead.packageRoot + "/Profiles/seccomp/container.json"
    static func policy() throws -> SeccompPolicy {
        try SeccompPolicyParser.parse(text: try String(contentsOfFile: policyPath, encoding: .utf8), file: policyPath, context: SeccompContext())
    }

    /// A call made under `program` in a child: its errno (0: it succeeded) or the signal that killed it.
    static func probe(_ program: [UInt8], nr: Int, _ a0: UInt64 = 0) throws -> (errno: Int32, signal: Int32) {
        var e: Int32 = 0, sig: Int32 = 0
        let rc = program.withUnsafeBufferPointer { bh_seccomp_probe_in_child($0.baseAddress!, $0.count, nr, a0, 0, 0, 0, 0, 0, &e, &sig) }
        try #require(rc == 0, "the probe could not run: \(rc)")
        return (e, sig)
    }

    /// An i386 call through `int $0x80` under `program`: the raw return value.
    static func int80(_ program: [UInt8], nr32: Int) throws -> Int {
        var result = 0, sig: Int32 = 0
        let rc = program.withUnsafeBufferPointer { bh_testing_seccomp_probe_int80($0.baseAddress!, $0.count, nr32, &result, &sig) }
        try #require(rc == 0, "the probe could not run: \(rc)")
        try #require(sig == 0, "killed by signal \(sig)")
        return result
    }

    @Test("The native-only filter is smaller than runc's reading of the same three architectures")
    func smaller() throws {
        let p = try Self.policy()
        #expect(Set(p.architectures) == [.x86_64, .x86, .x32], "the shipped policy lists three architectures: \(p.architectures)")
        let all = try SeccompCompiler.compile(p)
        let native = try SeccompCompiler.compile(p, nativeOnly: true)
        #expect(native.count < all.count / 2, "native-only \(native.count / 8) instructions, all architectures \(all.count / 8)")
    }

    @Test("An x32 call and an i386 `int 0x80` call are refused; runc's reading let them through")
    func foreignABIsRefused() throws {
        try #require(SeccompCompiler.nativeArchitecture == .x86_64, "x86_64 only")
        let p = try Self.policy()
        let all = try SeccompCompiler.compile(p)
        let native = try SeccompCompiler.compile(p, nativeOnly: true)
        // x32: getpid with the x32 bit. The policy's default action refuses it: EPERM.
        let x32 = Int(try #require(SyscallTable.number(of: "getpid", on: .x32)))
        #expect(x32 & 0x4000_0000 != 0)
        let refused = try Self.probe(native, nr: x32)
        #expect(refused.errno == EPERM && refused.signal == 0, "x32 getpid under the native-only filter: \(refused)")
        let before = try Self.probe(all, nr: x32)
        #expect(before.errno != EPERM, "under all three architectures x32 getpid passes the filter (ENOSYS or success): \(before)")
        // i386: getpid is 20 through int 0x80.
        let i386 = Int(try #require(SyscallTable.number(of: "getpid", on: .x86)))
        #expect(try Self.int80(native, nr32: i386) == -Int(EPERM), "int 0x80 getpid under the native-only filter")
        #expect(try Self.int80(all, nr32: i386) != -Int(EPERM), "under all three architectures int 0x80 getpid passes the filter")
    }

    @Test("Native calls behave as before: allowed ones run, refused ones get the same errno",
          arguments: ["getpid", "uname", "kexec_load", "add_key", "bpf", "unshare", "ptrace", "reboot"])
    func nativeUnchanged(_ name: String) throws {
        let p = try Self.policy()
        let all = try SeccompCompiler.compile(p)
        let native = try SeccompCompiler.compile(p, nativeOnly: true)
        let nr = Int(try #require(SyscallTable.number(of: name, on: .x86_64)))
        // Bad arguments: nothing a refused call could do happens, an allowed one fails in the kernel.
        let a = try Self.probe(all, nr: nr, UInt64.max), b = try Self.probe(native, nr: nr, UInt64.max)
        #expect(a.errno == b.errno && a.signal == b.signal, "\(name): \(a) before, \(b) now")
    }

    @Test("Load (seccomp(2): conversion to eBPF and JIT) time of both filters, for BENCHMARKS.md; no assertion on time")
    func loadTime() throws {
        let p = try Self.policy()
        for (name, program) in [("all three architectures", try SeccompCompiler.compile(p)), ("native only", try SeccompCompiler.compile(p, nativeOnly: true))] {
            let runs = 200
            var ns = [UInt64](repeating: 0, count: runs)
            let rc = program.withUnsafeBufferPointer { bh_testing_seccomp_load_ns($0.baseAddress!, $0.count, UInt32(runs), &ns) }
            try #require(rc == 0, "rc \(rc)")
            let s = ns.sorted()
            print("seccomp load \(name): \(program.count / 8) instructions, median \(s[runs / 2]) ns, p10 \(s[runs / 10]) ns, p90 \(s[runs * 9 / 10]) ns over \(runs) runs")
            #expect(s[runs / 2] > 0)
        }
    }

    @Test("The cache key says native-only: a program compiled for three architectures is never loaded for one")
    func cacheKeyChanges() throws {
        let text = try String(contentsOfFile: Self.policyPath, encoding: .utf8)
        var src = SeccompSetup.Source(text: text, file: Self.policyPath, label: "RuntimeDefault", context: SeccompContext())
        let runc = SeccompSetup.cacheKey(src)
        src.nativeOnly = true
        #expect(SeccompSetup.cacheKey(src) != runc)
    }

    @Test("bulkhead's policy is named by the digest stored at build time, which is its text's; a copy with other bytes is not it")
    func embeddedDigest() throws {
        let shipped = try String(contentsOfFile: Self.policyPath, encoding: .utf8)
        let compiledIn = try #require(EmbeddedProfiles.files.first { $0.path == "seccomp/container.json" }).text
        for (text, isShipped) in [(shipped, true), (compiledIn, false)] {
            let m = try #require(SeccompSetup.bulkheadPolicy(text))
            #expect(m.path == "seccomp/container.json" && m.shipped == isShipped)
            // A stale digest (the text edited, scripts/embed-profiles.sh not run) fails here.
            #expect(m.sha256 == SHA256.hex(text), "the stored digest of \(m.path) (shipped: \(isShipped)) is not its text's")
            // The key does not read the text once it is named.
            var src = SeccompSetup.Source(text: text, file: Self.policyPath, label: "RuntimeDefault", context: SeccompContext(), nativeOnly: true, embedded: m)
            let k = SeccompSetup.cacheKey(src)
            src.text = "{}"
            #expect(SeccompSetup.cacheKey(src) == k)
        }
        // String's `==` is canonical equivalence: a KELVIN SIGN for a K is "equal" with other
        // bytes. Such a copy is a user's policy: hashed, and read as runc reads it.
        let kelvin = shipped.replacing("MASKED", with: "MAS\u{212A}ED")
        #expect(kelvin == shipped && Array(kelvin.utf8) != Array(shipped.utf8))
        #expect(!SeccompSetup.isBulkheadPolicy(kelvin))
        #expect(SeccompSetup.isBulkheadPolicy(shipped) && SeccompSetup.isBulkheadPolicy(compiledIn))
    }

    @Test("A launch with the container profile loads the native-only filter; an edited copy of the same policy keeps all three",
          .enabled(if: Gate.root, Gate.rootReason))
    func launchUsesIt() throws {
        let native = try SeccompCompiler.compile(try Self.policy(), nativeOnly: true).count / 8
        let all = try SeccompCompiler.compile(try Self.policy()).count / 8
        let r = try Bulkhead.run(["run", "--", "/bin/true"], report: true)
        #expect(r.status == 0, "\(r.stderr)")
        #expect(r.report?.controls.seccomp?.bpfInstructions == native, "\(String(describing: r.report?.controls.seccomp))")
        // A user's policy: the same rules, its spacing changed (as an OCI config's re-serialised JSON is).
        let dir = NSTemporaryDirectory() + "bh-sc-\(token())"
        try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let edited = try String(contentsOfFile: Self.policyPath, encoding: .utf8).replacingOccurrences(of: "\"defaultErrnoRet\": 1", with: "\"defaultErrnoRet\":1")
        #expect(edited != (try String(contentsOfFile: Self.policyPath, encoding: .utf8)))
        try edited.write(toFile: dir + "/user.json", atomically: true, encoding: .utf8)
        let user = try Bulkhead.run(["run", "--seccomp", dir + "/user.json", "--", "/bin/true"], report: true)
        #expect(user.status == 0, "\(user.stderr)")
        #expect(user.report?.controls.seccomp?.bpfInstructions == all, "\(String(describing: user.report?.controls.seccomp))")
    }
}
