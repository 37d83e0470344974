import Foundation
import Glibc
import Testing

/// The OCI client harness itself: its "nothing left behind" check can fail. A process naming
/// the test's directory and a cgroup under its parent that holds a process are both reported
/// by `finish()` (recorded here as known issues, which fails if finish records none), and the
/// namespace it made is really another network namespace.
///
/// Creates a cgroup: run ONLY as
/// `flock /tmp/bh-podtests.lock swift test --skip-build --no-parallel --filter OCIClient`.
@Suite(.enabled(if: OCIClientGate.enabled, OCIClientGate.reason), .serialized)
struct OCIClientHarnessTests {
    @Test func leftoversAreReported() throws {
        let scratch = try OCIClientScratch(runtime: "/bin/true", tmpfsOver: [])
        let ns = try OCIShell.run(scratch.namespace.enter(["readlink", "/proc/self/ns/net"]))
        let mine = try OCIShell.run(["readlink", "/proc/self/ns/net"])
        #expect(ns.status == 0 && ns.stdout != mine.stdout, "the test's network namespace is not the host's: \(ns.stdout) \(mine.stdout)")
        // A process that names the directory, in a cgroup under the test's parent.
        let leaf = "/sys/fs/cgroup/pids\(scratch.cgroupParent)/leaf"
        try FileManager.default.createDirectory(atPath: leaf, withIntermediateDirectories: true)
        let pid = try OCIShell.spawn(["/bin/sh", "-c", "echo $$ > \(leaf)/cgroup.procs && while :; do sleep 1; done", scratch.dir],
                                     stdout: "/dev/null", stderr: "/dev/null")
        defer {
            kill(pid, SIGKILL)
            var st: Int32 = 0
            _ = waitpid(pid, &st, 0)
            // The shell's `sleep 1` outlives it in the leaf: kill what is there, then remove.
            let until = monotonicSeconds() + 5
            while rmdir(leaf) != 0 && errno != ENOENT && monotonicSeconds() < until {
                for p in (readTrimmed(leaf + "/cgroup.procs").map { [$0] } ?? []) { if let n = pid_t(p) { kill(n, SIGKILL) } }
                usleep(20_000)
            }
            #expect(rmdir("/sys/fs/cgroup/pids\(scratch.cgroupParent)") == 0, "the test's own cgroup is removed")
        }
        let deadline = monotonicSeconds() + 5
        while (readTrimmed(leaf + "/cgroup.procs") ?? "").isEmpty && monotonicSeconds() < deadline { usleep(10_000) }
        let seen = SeenKinds()
        withKnownIssue("finish() reports the process and the cgroup left behind") {
            scratch.finish(processGrace: 0.5)
        } matching: { issue in
            let text = issue.comments.map(\.rawValue).joined()
            if text.contains("process left behind") { seen.insert("process") }
            if text.contains("cgroup left behind") { seen.insert("cgroup") }
            return text.contains("process left behind") || text.contains("cgroup left behind")
        }
        #expect(seen.kinds == ["process", "cgroup"], "finish() reported: \(seen.kinds)")
    }
}

final class SeenKinds: @unchecked Sendable {
    private let lock = NSLock()
    private var set: Set<String> = []
    func insert(_ k: String) { lock.lock(); set.insert(k); lock.unlock() }
    var kinds: Set<String> { lock.lock(); defer { lock.unlock() }; return set }
}
