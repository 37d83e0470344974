import BulkheadModel
@testable import BulkheadSystem
import Foundation
import Glibc
import Testing

/// Issue 17, the cold launch's cgroup work (launch-cgroup): what a launch no longer does on its
/// critical path must still be done, and what it does with fewer system calls must still hold.
/// - The stale-leaf collection runs after the init is released (while it mounts), not before the
///   new leaf: a dead launcher's leaf, and a process left in it, are still gone when the launch
///   that found them returns.
/// - The teardown removes the leaves with one rmdir(2) each and reads members only when the
///   kernel refuses one: a member still inside is killed, a nested cgroup removed, nothing left.
/// - The v1 cpu ancestors' quota is read without Foundation and without the period where there
///   is no quota: a container under a pod's quota still gets the pod's rate.
@Suite("cgroup launch cost (real kernel, root)", .serialized,
       .enabled(if: CgroupKernelGate.enabled,
                Comment(rawValue: (CgroupKernelGate.skipReason ?? "") + " (with CI=true this fails instead of skipping)")))
struct CgroupLaunchCostTests {
    /// A planted leaf of a launcher that is gone, under the directory a plain `run` makes its own
    /// leaf in (bulkhead/default/default), with a process in it: the launch collects it (the
    /// process SIGKILLed, the leaf removed in every hierarchy) by the time it returns.
    @Test func launchStillCollectsADeadLaunchersLeaf() throws {
        try CgroupKernelGate.require()
        signal(SIGPIPE, SIG_IGN)
        let host = try CgroupHost.detect()
        let gone = try GatedChild(["/bin/true"])
        _ = gone.wait(timeoutSeconds: 5)
        let deadName = CgroupLeafName(launcherPID: gone.pid, launcherStartTime: 1, sequence: 7).description
        let stale = try SandboxCgroup.create(host: host, path: ["default", "default", deadName],
                                             limits: CgroupLimits(), bestEffort: false)
        let leftover = try GatedChild(["/bin/sleep", "30"])
        defer {
            kill(leftover.pid, SIGKILL)
            _ = leftover.wait(timeoutSeconds: 5)
            _ = SandboxCgroup.killLoop(directories: stale.directories, signalFirst: true)
            for d in stale.directories { _ = SandboxCgroup.removeTree(d) }
        }
        try stale.attach(pid: leftover.pid)
        #expect(!stale.directories.isEmpty)

        let r = try Bulkhead.run(["run", "--", "/bin/true"], report: true)
        #expect(r.status == 0, "\(r.stderr)")
        for d in stale.directories {
            #expect(access(d, F_OK) != 0, "the dead launcher's leaf is still there after the launch: \(d)")
        }
        let status = try #require(leftover.wait(timeoutSeconds: 5), "the process left in the dead launcher's leaf still runs")
        #expect(termSignal(status) == SIGKILL, "status \(status)")
    }

    /// The teardown (`killAllAndRemove`): an empty cgroup goes with one rmdir per leaf; one with
    /// a member still running (the rmdir refused: EBUSY) has the member killed and every leaf
    /// removed; one whose leaves hold nested cgroups with a member inside is removed whole.
    @Test func teardownKillsWhatIsLeftAndRemovesEveryLeaf() throws {
        try CgroupKernelGate.require()
        signal(SIGPIPE, SIG_IGN)
        let host = try CgroupHost.detect()
        defer { expectNothingLeft(host) }
        // The test's own ancestors (bhtest-<pid>/cost): the teardown keeps a leaf's ancestors.
        defer { for t in host.targets { _ = SandboxCgroup.removeTree(t.baseDirectory + "/bhtest-\(getpid())") } }
        var limits = CgroupLimits()
        limits.pidsMax = 64

        let empty = try SandboxCgroup.create(host: host, path: try testPath(pod: "cost", sequence: 71), limits: limits, bestEffort: false)
        let (wasEmpty, error) = empty.killAllAndRemove()
        #expect(wasEmpty && error == nil, "\(String(describing: error))")
        for d in empty.directories { #expect(access(d, F_OK) != 0, "left behind: \(d)") }

        let busy = try SandboxCgroup.create(host: host, path: try testPath(pod: "cost", sequence: 72), limits: limits, bestEffort: false)
        let member = try GatedChild(["/bin/sleep", "30"])
        try busy.attach(pid: member.pid)
        let (busyEmpty, busyError) = busy.killAllAndRemove()
        #expect(busyEmpty && busyError == nil, "\(String(describing: busyError))")
        for d in busy.directories { #expect(access(d, F_OK) != 0, "a leaf with a member was left behind: \(d)") }
        let status = try #require(member.wait(timeoutSeconds: 5), "the member outlived the teardown")
        #expect(termSignal(status) == SIGKILL, "status \(status)")

        let nested = try SandboxCgroup.create(host: host, path: try testPath(pod: "cost", sequence: 73), limits: limits, bestEffort: false)
        let inner = try GatedChild(["/bin/sleep", "30"])
        for d in nested.directories {
            try #require(mkdir(d + "/inner", 0o755) == 0, "mkdir \(d)/inner: errno \(errno)")
            try #require(CgroupFS.write(d + "/inner/cgroup.procs", String(inner.pid)).isSuccess, "move into \(d)/inner")
        }
        let (nestedEmpty, nestedError) = nested.killAllAndRemove()
        #expect(nestedEmpty && nestedError == nil, "\(String(describing: nestedError))")
        for d in nested.directories { #expect(access(d, F_OK) != 0, "a leaf with a nested cgroup was left behind: \(d)") }
        let innerStatus = try #require(inner.wait(timeoutSeconds: 5), "the nested member outlived the teardown")
        #expect(termSignal(innerStatus) == SIGKILL, "status \(innerStatus)")
    }

    /// `v1AncestorCPURate`: the tightest quota / period above a leaf in the v1 cpu hierarchy,
    /// nil where no ancestor has a quota (-1).
    @Test func v1AncestorRateIsTheTightestQuota() throws {
        try CgroupKernelGate.require()
        let host = try CgroupHost.detect()
        guard let cpu = host.v1Target(for: "cpu"), cpu.writable else { return } // a cgroup2 cpu host has no v1 rate
        let top = cpu.baseDirectory + "/bhtest-\(getpid())"
        defer { for d in [top + "/pod/leaf", top + "/pod", top] { _ = CgroupFS.removeDirectory(d) } }
        for d in [cpu.baseDirectory, top, top + "/pod", top + "/pod/leaf"] { _ = CgroupFS.makeDirectory(d) }
        let base = SandboxCgroup.v1AncestorCPURate(above: top + "/pod/leaf", mountPoint: cpu.mountPoint)
        #expect(base == nil || base! > 0, "\(String(describing: base))")
        let leafWithout = SandboxCgroup.v1AncestorCPURate(above: top + "/pod/leaf", mountPoint: top)
        #expect(leafWithout == nil, "no quota between the leaf and \(top): \(String(describing: leafWithout))")
        // The tenant-like top at 1.5 CPUs, the pod at 0.5: the pod's rate is the tightest.
        try #require(CgroupFS.write(top + "/cpu.cfs_quota_us", "150000").isSuccess)
        try #require(CgroupFS.write(top + "/pod/cpu.cfs_quota_us", "25000").isSuccess)
        try #require(CgroupFS.write(top + "/pod/cpu.cfs_period_us", "50000").isSuccess)
        let rate = SandboxCgroup.v1AncestorCPURate(above: top + "/pod/leaf", mountPoint: cpu.mountPoint)
        #expect(rate == min(0.5, base ?? .infinity), "\(String(describing: rate))")
        let topOnly = SandboxCgroup.v1AncestorCPURate(above: top + "/pod", mountPoint: cpu.mountPoint)
        #expect(topOnly == min(1.5, base ?? .infinity), "\(String(describing: topOnly))")
    }
}
