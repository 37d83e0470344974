import Foundation
import Testing

/// Red team of the pooled workload's vfork-style start (pool-small) and the pooled seccomp
/// hand-over it relies on.
@Suite(.enabled(if: Gate.root, Gate.rootReason), .serialized)
struct RedTeamPoolSmallTests {
    /// A profile without no_new_privs loads its filter in the init, before the fork (early
    /// seccomp: it needs CAP_SYS_ADMIN, LaunchPlanner.insertEarlySeccomp), after the pool's
    /// request arrived. The pooled channel variable (`pool_notify_channel`) is set only by the
    /// workload's fd hygiene, so the init handed its listener to fd -1 (EBADF) and every request
    /// of such a pool failed (125) while the same launch runs cold. The workload must run, and
    /// under the filter.
    @Test("A pool of a profile without no_new_privs (the filter loaded by the init) serves its requests, filtered, as a cold launch")
    func earlySeccompPoolServes() throws {
        let profile = NSTemporaryDirectory() + "bh-rtps-\(token()).yaml"
        try "extends: container\nsecurityContext:\n  allowPrivilegeEscalation: true\n".write(toFile: profile, atomically: true, encoding: .utf8)
        defer { unlink(profile) }
        let script = "grep -E '^(Seccomp|NoNewPrivs):' /proc/self/status; exit 3"
        let cold = try Bulkhead.run(["run", "--profile", profile, "--", "/bin/sh", "-c", script])
        try #require(cold.status == 3, "the cold launch: \(cold.stderr)")
        let pool = try WarmPoolTests.Pool(size: 1, profile: profile)
        defer { pool.stop() }
        for _ in 0..<2 {
            let warm = try Bulkhead.run(["run", "--pool", pool.socket, "--", "/bin/sh", "-c", script], timeout: 50)
            #expect(warm.status == 3, "pooled: \(warm.status): \(warm.stderr)")
            #expect(warm.stdout == cold.stdout, "pooled:\n\(warm.stdout)\ncold:\n\(cold.stdout)")
            #expect(warm.stdout.contains("Seccomp:\t2"), "the pooled workload runs under the filter: \(warm.stdout)")
        }
    }
    /// The same pool with a request of 16 fds (0, 1, 2 and 13 --preserve-fd): they become the
    /// workload's 0 .. 15, and the fd hygiene moved the seccomp channel out of their way even
    /// though the init's filter had already closed it (EBADF at "close inherited file
    /// descriptors"). A channel no later step uses is neither moved nor kept.
    @Test("A pool of a profile without no_new_privs serves a request with every fd slot used")
    func earlySeccompPoolServesSixteenFDs() throws {
        let profile = NSTemporaryDirectory() + "bh-rtps-\(token()).yaml"
        try "extends: container\nsecurityContext:\n  allowPrivilegeEscalation: true\n".write(toFile: profile, atomically: true, encoding: .utf8)
        defer { unlink(profile) }
        let pool = try WarmPoolTests.Pool(size: 1, profile: profile)
        defer { pool.stop() }
        let fds = Array(3...15)
        let script = "\"$0\" run --pool \"$1\" " + fds.map { "--preserve-fd \($0)" }.joined(separator: " ")
            + " -- /bin/sh -c 'ls /proc/self/fd | wc -l; exit 4' " + fds.map { "\($0)</dev/null" }.joined(separator: " ")
        let p = Process()
        p.executableURL = URL(fileURLWithPath: "/bin/bash")
        p.arguments = ["-c", script, Bulkhead.binary, pool.socket]
        let out = Pipe(), err = Pipe()
        p.standardOutput = out
        p.standardError = err
        p.standardInput = FileHandle.nullDevice
        try p.run()
        let stdout = String(decoding: out.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
        let stderr = String(decoding: err.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
        p.waitUntilExit()
        #expect(p.terminationStatus == 4, "pooled with 16 fds: \(p.terminationStatus): \(stderr)")
        // 0 .. 15 and ls's own directory fd.
        #expect(stdout.trimmingCharacters(in: .whitespacesAndNewlines) == "17", "the workload's fds: \(stdout)")
    }
}
