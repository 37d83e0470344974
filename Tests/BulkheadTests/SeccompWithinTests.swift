import Foundation
import Glibc
import Testing

/// `seccomp record --within RuntimeDefault|FILE`: a recording of a workload that made calls
/// the bound refuses keeps none of them, says so by name, and the kernel then refuses them in a
/// replay; the same recording without the bound lets them through (so the bound made the difference).
///
/// Root (the rootfs profile of SeccompConsumerTests). With CI=true nothing skips.
@Suite(.enabled(if: Gate.root, Gate.rootReason), .serialized)
struct SeccompWithinTests {
    func record(_ command: [String], _ extra: [String]) throws -> (policy: String, stderr: String) {
        let policy = SeccompConsumerTests.work + "/within-\(UInt32.random(in: 0...UInt32.max)).json"
        let r = try Bulkhead.run(["seccomp", "record", "--profile", SeccompConsumerTests.profile, "-o", policy] + extra + ["--"] + command)
        #expect(r.status == 0, "\(r.stderr)")
        return (policy, r.stderr)
    }

    func replay(_ policy: String, _ command: [String]) throws -> Bulkhead.Result {
        try Bulkhead.run(["run", "--profile", SeccompConsumerTests.profile, "--seccomp", policy, "--"] + command)
    }

    @Test func runtimeDefaultDropsUnshare() throws {
        let command = ["sh", "-c", "echo hi; unshare -U true && echo unshared"]
        let (bounded, stderr) = try record(command, ["--within", "RuntimeDefault"])
        #expect(stderr.contains("# within RuntimeDefault: dropped, as the bound does not allow them: unshare\n"), "\(stderr)")
        let refused = try replay(bounded, command)
        #expect(refused.stdout == "hi\n", "\(refused)")
        #expect(refused.stderr.contains("unshare failed: Operation not permitted"), "\(refused.stderr)")
        // The control: recorded without the bound, the same replay unshares.
        let (free, freeErr) = try record(command, [])
        #expect(!freeErr.contains("# within"))
        let allowed = try replay(free, command)
        #expect(allowed.stdout == "hi\nunshared\n", "\(allowed)")
    }

    @Test func fileBoundDropsWhatItRefuses() throws {
        let bound = SeccompConsumerTests.work + "/deny-uname.json"
        try #"{"defaultAction": "SCMP_ACT_ALLOW", "syscalls": [{"names": ["uname"], "action": "SCMP_ACT_ERRNO", "errnoRet": 13}]}"#
            .write(toFile: bound, atomically: true, encoding: .utf8)
        let command = ["sh", "-c", "uname -s; echo done"]
        let (policy, stderr) = try record(command, ["--within", bound])
        #expect(stderr.contains("dropped, as the bound does not allow them: uname\n"), "\(stderr)")
        let r = try replay(policy, command)
        #expect(r.stdout == "done\n", "\(r)")
        #expect(r.stderr.contains("uname: cannot get system name: Operation not permitted"), "\(r.stderr)")
        // --merge with a bound: the union is bounded too (no command: only merge).
        let merged = SeccompConsumerTests.work + "/within-merged.json"
        let m = try Bulkhead.run(["seccomp", "record", "--merge", policy, "--within", "RuntimeDefault", "-o", merged])
        #expect(m.status == 0, "\(m.stderr)")
        #expect(m.stderr.contains("# within RuntimeDefault: "), "\(m.stderr)")
        let missing = try Bulkhead.run(["seccomp", "record", "--merge", policy, "--within", "/nonexistent/bound.json", "-o", merged])
        #expect(missing.status == 1 && missing.stderr.contains("/nonexistent/bound.json"), "\(missing.stderr)")
    }
}
