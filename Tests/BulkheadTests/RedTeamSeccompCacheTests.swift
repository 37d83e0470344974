import BulkheadModel
import Foundation
import Glibc
import Testing

/// Red team of oci-podman (the seccomp cache keeps a policy the loader changed, with its
/// warnings): what an entry may be loaded for.
@Suite(.enabled(if: Gate.root, Gate.rootReason), .serialized)
struct RedTeamSeccompCacheTests {
    /// A deny-list with a rule runc skips (it gives the default action): `--seccomp-strict` takes
    /// it (the compiler leaves such a rule out too), the default reading warns about it.
    static let policy = #"{"defaultAction": "SCMP_ACT_ALLOW", "syscalls": [{"names": ["getpid"], "action": "SCMP_ACT_ALLOW"}, {"names": ["mkdir", "mkdirat"], "action": "SCMP_ACT_ERRNO", "errnoRet": 1}]}"#

    func files() throws -> (cache: String, policy: String, cleanup: () -> Void) {
        let cache = NSTemporaryDirectory() + "bh-rtcache-\(token())"
        let dir = NSTemporaryDirectory() + "bh-rtpolicy-\(token())"
        try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
        try Data(Self.policy.utf8).write(to: URL(fileURLWithPath: dir + "/p.json"))
        return (cache, dir + "/p.json", { for d in [cache, dir] { try? FileManager.default.removeItem(atPath: d) } })
    }

    func launch(_ f: (cache: String, policy: String, cleanup: () -> Void), strict: Bool = false,
                binary: String = Bulkhead.binary) throws -> Bulkhead.Result {
        try Bulkhead.run(["run", "--seccomp", f.policy] + (strict ? ["--seccomp-strict"] : [])
                            + ["--", "/bin/sh", "-c", "mkdir /tmp/x; echo $?"],
                         report: true, env: ["BULKHEAD_SECCOMP_CACHE": f.cache], binary: binary)
    }

    /// A strict run reads the policy without the runc reading's notes: the entry it leaves must
    /// not let a later run (default reading) skip the warning every run of the policy gives.
    @Test("A strict run leaves no entry that silences a later run's warnings")
    func strictRunDoesNotSilenceWarnings() throws {
        let f = try files()
        defer { f.cleanup() }
        let strict = try launch(f, strict: true)
        #expect(strict.status == 0 && strict.stdout.trimmingCharacters(in: .whitespacesAndNewlines) == "1", "\(strict.stderr)")
        #expect(strict.controls?.seccomp?.changes == nil, "strict changes nothing")
        let after = try launch(f)
        #expect(after.stdout.trimmingCharacters(in: .whitespacesAndNewlines) == "1", "\(after.stderr)")
        let changes = after.controls?.seccomp?.changes ?? []
        #expect(changes.contains { $0.contains("the default action: runc skips such a rule") },
                "the default reading warns, cached or not (cached: \(String(describing: after.controls?.seccomp?.cached))): \(changes)")
        #expect(after.stderr.contains("runc skips such a rule"), "\(after.stderr)")
    }

    /// The key holds a constant version string ("0.1.0"), while the program and its warnings
    /// depend on the build (its system-call table decides which names are unknown and skipped,
    /// its compiler what is emitted). Another build must not load the entry this one wrote: the
    /// key holds the build-id (`ProfileLayerCache.binaryIdentity`), so another build is made here
    /// as a copy whose GNU build-id note has one byte changed (a plain copy is the same build, and
    /// the same program: it may share the entry).
    @Test("Another bulkhead binary does not load this binary's entry")
    func anotherBinaryCompilesItsOwn() throws {
        let f = try files()
        defer { f.cleanup() }
        let dir = NSTemporaryDirectory() + "bh-rtbin-\(token())"
        defer { try? FileManager.default.removeItem(atPath: dir) }
        try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
        // The whole installation (the launch executable and, beside it, the full command line),
        // then the launch executable's build-id changed: another build of the pair.
        try Bulkhead.copyInstallation(to: dir)
        var bytes = [UInt8](try Data(contentsOf: URL(fileURLWithPath: dir + "/bulkhead")))
        // Elf64_Nhdr {namesz 4, descsz 20, type 3 = NT_GNU_BUILD_ID}, "GNU\0", then the id.
        let note: [UInt8] = [4, 0, 0, 0, 20, 0, 0, 0, 3, 0, 0, 0, 0x47, 0x4e, 0x55, 0]
        let at = try #require((0...(bytes.count - note.count - 20)).first { i in bytes[i] == 4 && Array(bytes[i..<(i + note.count)]) == note },
                              "the binary has no SHA-1 build-id note")
        bytes[at + note.count] ^= 0xff
        try Data(bytes).write(to: URL(fileURLWithPath: dir + "/bulkhead"))
        chmod(dir + "/bulkhead", 0o755)
        #expect(try launch(f).controls?.seccomp?.cached == false)
        #expect(try launch(f).controls?.seccomp?.cached == true, "the control: the same binary hits")
        let other = try launch(f, binary: dir + "/bulkhead")
        #expect(other.status == 0 && other.stdout.trimmingCharacters(in: .whitespacesAndNewlines) == "1", "\(other.stderr)")
        #expect(other.controls?.seccomp?.cached == false, "another binary compiled the policy itself")
        #expect(try launch(f, binary: dir + "/bulkhead").controls?.seccomp?.cached == true, "and then hits its own entry")
    }
}
