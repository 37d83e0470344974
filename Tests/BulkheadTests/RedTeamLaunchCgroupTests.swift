import BulkheadModel
@testable import BulkheadSystem
import Foundation
import Glibc
import Testing

/// Red team of launch-cgroup (issue 17): the stale-leaf walk now runs after the init is released,
/// beside the workload's start, and the launcher does not poll while it runs. A stale leaf whose
/// members do not die (here: frozen by the v1 freezer, where SIGKILL waits for a thaw; a process
/// in uninterruptible sleep is the same) held the walk for the kill loop's 2 s and the rmdir
/// retries' 1 s in every hierarchy the leaf is in (about 30 s on this host's ten hierarchies),
/// and all that time the workload ran with no one enforcing its --timeout.
@Suite("red team: launch-cgroup (real kernel, root)", .serialized,
       .enabled(if: CgroupKernelGate.enabled,
                Comment(rawValue: (CgroupKernelGate.skipReason ?? "") + " (with CI=true this fails instead of skipping)")))
struct RedTeamLaunchCgroupTests {
    /// A dead launcher's leaf with a frozen member (v1 freezer: SIGKILL does not end it), and a
    /// run with `--timeout 1` whose workload prints LATE after 4 s: the workload must be killed
    /// at its deadline, not when the walk gives up on the stuck leaf. (On the branch it printed
    /// LATE: the walk kept the launcher from polling for far longer than the timeout.)
    @Test func aStuckStaleLeafDoesNotKeepTheWorkloadPastItsTimeout() throws {
        try CgroupKernelGate.require()
        signal(SIGPIPE, SIG_IGN)
        let host = try CgroupHost.detect()
        // A cgroup2-only host: cgroup.kill ends frozen members too, and no leaf is stuck this way.
        guard let freezer = host.v1Target(for: "freezer"), freezer.writable else { return }
        let gone = try GatedChild(["/bin/true"])
        _ = gone.wait(timeoutSeconds: 5)
        let deadName = CgroupLeafName(launcherPID: gone.pid, launcherStartTime: 1, sequence: 9).description
        let stale = try SandboxCgroup.create(host: host, path: ["default", "default", deadName],
                                             limits: CgroupLimits(), bestEffort: false, everyHierarchy: true)
        var dirs = stale.directories
        let frozen = freezer.baseDirectory + "/default/default/" + deadName
        if !dirs.contains(frozen) {
            for d in [freezer.baseDirectory, freezer.baseDirectory + "/default", freezer.baseDirectory + "/default/default", frozen] {
                _ = CgroupFS.makeDirectory(d)
            }
            dirs.append(frozen)
        }
        let leftover = try GatedChild(["/bin/sleep", "120"])
        defer {
            _ = CgroupFS.write(frozen + "/freezer.state", "THAWED")
            kill(leftover.pid, SIGKILL)
            _ = leftover.wait(timeoutSeconds: 5)
            _ = SandboxCgroup.killLoop(directories: dirs, signalFirst: true)
            for d in dirs { _ = SandboxCgroup.removeTree(d) }
        }
        try stale.attach(pid: leftover.pid)
        try #require(CgroupFS.write(frozen + "/cgroup.procs", String(leftover.pid)).isSuccess, "move into \(frozen)")
        try #require(CgroupFS.write(frozen + "/freezer.state", "FROZEN").isSuccess, "freeze \(frozen)")
        var state = ""
        for _ in 0..<200 {
            if case .success(let s) = CgroupFS.read(frozen + "/freezer.state") { state = s.trimmingCharacters(in: .whitespacesAndNewlines) }
            if state == "FROZEN" { break }
            usleep(10_000)
        }
        try #require(state == "FROZEN", "freezer.state: \(state)")

        let r = try Bulkhead.run(["run", "--memory", "64Mi", "--timeout", "1", "--", "/bin/sh", "-c", "sleep 4; echo LATE"],
                                 report: true, timeout: 300)
        #expect(!r.stdout.contains("LATE"), "the workload ran past its --timeout 1 while the launcher walked a stuck stale leaf")
        #expect(r.report?.reason == .timeout, "\(r.stderr)")
        // The stuck leaf is not lost: thawed, the next collection takes it.
        _ = CgroupFS.write(frozen + "/freezer.state", "THAWED")
        SandboxCgroup.collectStale(host: host, writableOnly: true)
        for d in dirs { #expect(access(d, F_OK) != 0, "the dead launcher's leaf is still there once thawed: \(d)") }
    }
}
