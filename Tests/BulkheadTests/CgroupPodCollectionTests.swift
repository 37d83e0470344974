import Testing
import BulkheadModel
@testable import BulkheadSystem
#if canImport(Glibc)
import Glibc
#endif

/// `bulkhead gc` (`SandboxCgroup.collectStale`) and a pod's cgroup, `<tenant>/<pod>@<pid>-<start>`:
/// a pod launcher killed before its containers' leaves existed, or after it removed them, left
/// the pod's cgroup with nothing below it naming the launcher, and no collection removed it (the
/// bench's `bench-PID-*` pods piled up, and every root launch walks the whole tree). Every test
/// kills its processes and removes its cgroups on every path.
@Suite("gc: a dead launcher's pod cgroup (real kernel, root)", .serialized,
       .enabled(if: CgroupKernelGate.enabled,
                Comment(rawValue: (CgroupKernelGate.skipReason ?? "") + " (with CI=true this fails instead of skipping)")))
struct CgroupPodCollectionTests {
    @Test("a dead launcher's pod cgroup is removed with its members; a live, recycled-pid, foreign-owned or other name is judged as gc judges leaves")
    func deadLaunchersPodCgroup() throws {
        try CgroupKernelGate.require()
        try #require(geteuid() == 0, "root's collection")
        signal(SIGPIPE, SIG_IGN)
        let (host, base) = try scratchCgroupBase("bh-gcpod-\(getpid())")
        defer { removeCgroupTree(base) }
        let tenant = base + "/default"
        try #require(mkdir(tenant, 0o755) == 0, "mkdir \(tenant): errno \(errno)")

        // A launcher that is gone: its pid and real start time, read while it ran.
        let dead = try goneLauncher()
        let live = try #require(CgroupLeafName.forCurrentProcess(sequence: 0))
        let recycled = CgroupLeafName(launcherPID: live.launcherPID, launcherStartTime: live.launcherStartTime &+ 1, sequence: 0)

        let deadPod = tenant + "/" + dead.podDirectoryName("bench-\(dead.launcherPID)-hog")
        let recycledPod = tenant + "/" + recycled.podDirectoryName("web")
        let livePod = tenant + "/" + live.podDirectoryName("web")
        let foreignPod = tenant + "/" + dead.podDirectoryName("foreign")
        // Names that are not a pod's: the old `<pod>-<pid>` form, an OCI id (`_` is in its alphabet).
        let others = [tenant + "/bench-\(dead.launcherPID)-hog-\(dead.launcherPID)", tenant + "/x_\(dead.launcherPID)-\(dead.launcherStartTime)"]
        for d in [deadPod, recycledPod, livePod, foreignPod] + others {
            try #require(mkdir(d, 0o755) == 0, "mkdir \(d): errno \(errno)")
        }
        try #require(chown(foreignPod, 65534, 65534) == 0, "chown \(foreignPod): errno \(errno)")
        // What the dead launcher left running in its pod, and a member of the live pod.
        let leftover = try GatedChild(["/bin/sleep", "30"])
        defer { if !leftover.reaped { kill(leftover.pid, SIGKILL) }; _ = leftover.wait(timeoutSeconds: 5) }
        try #require(Self.attach(leftover.pid, to: deadPod), "attach to \(deadPod): errno \(errno)")
        let member = try GatedChild(["/bin/sleep", "30"])
        defer { if !member.reaped { kill(member.pid, SIGKILL) }; _ = member.wait(timeoutSeconds: 5) }
        try #require(Self.attach(member.pid, to: livePod), "attach to \(livePod): errno \(errno)")

        let removed = Set(SandboxCgroup.collectStale(host: host))
        #expect(removed == [deadPod, recycledPod], "removed: \(removed.sorted())")
        #expect(access(deadPod, F_OK) != 0 && access(recycledPod, F_OK) != 0, "the dead launchers' pod cgroups are gone")
        #expect(leftover.wait(timeoutSeconds: 5) != nil, "the dead pod's member was killed")
        for d in [livePod, foreignPod] + others { #expect(access(d, F_OK) == 0, "\(d) was removed") }
        if case .success(let text) = CgroupFS.read("/proc/\(member.pid)/stat") {
            #expect(!ProcStat.hasExited(fromStat: text), "the live pod's member was killed")
        } else {
            Issue.record("the live pod's member is gone")
        }
    }

    static func attach(_ pid: pid_t, to dir: String) -> Bool {
        if case .success = CgroupFS.write(dir + "/cgroup.procs", "\(pid)") { return true }
        return false
    }

    @Test("a pod's cgroup name parses back to its launcher; no other name does")
    func podDirectoryNames() {
        let owner = CgroupLeafName(launcherPID: 984, launcherStartTime: 3651025, sequence: 0)
        #expect(owner.podDirectoryName("bench-927-hog-victim") == "bench-927-hog-victim@984-3651025")
        #expect(CgroupLeafName(podDirectory: "bench-927-hog-victim@984-3651025") == owner)
        for name in ["bench-927-hog-victim-984", "x_984-3651025", "@984-3651025", "a@984", "a@984-", "a@-3", "a@0-3",
                     "a@984-36x", "a@b@984-3", "c-984-3651025-0", "default", "a@+984-3"] {
            #expect(CgroupLeafName(podDirectory: name) == nil, "\(name)")
        }
    }
}

/// The teardown's kill loop (`SandboxCgroup.killLoop`, v1 hierarchies and gc) and pid reuse.
@Suite("teardown: a pid read from cgroup.procs is signalled only while it is still a member", .serialized,
       .enabled(if: CgroupKernelGate.enabled,
                Comment(rawValue: (CgroupKernelGate.skipReason ?? "") + " (with CI=true this fails instead of skipping)")))
struct KillLoopPidReuseTests {
    /// The race, made certain: the loop's read of cgroup.procs lists a pid whose member has
    /// exited and which a process outside the cgroup (`bystander`) now holds; the next read no
    /// longer lists it. kill(2) by that pid killed the bystander; through a pidfd checked against
    /// a second read, nothing is signalled.
    @Test func aReusedPidIsNeverSignalled() throws {
        try CgroupKernelGate.require()
        signal(SIGPIPE, SIG_IGN)
        let bystander = try GatedChild(["/bin/sleep", "30"])
        defer { if !bystander.reaped { kill(bystander.pid, SIGKILL) }; _ = bystander.wait(timeoutSeconds: 5) }
        var reads = 0
        let emptied = SandboxCgroup.killLoop(directories: ["/sys/fs/cgroup/pids/bh-killloop-never-made"], signalFirst: true,
                                             readMembers: { _ in reads += 1; return reads == 1 ? [bystander.pid] : [] })
        #expect(emptied, "the cgroup reads empty after the first round")
        usleep(50_000)
        if case .success(let text) = CgroupFS.read("/proc/\(bystander.pid)/stat") {
            #expect(!ProcStat.hasExited(fromStat: text), "the process that reused the pid was killed")
        } else {
            Issue.record("the process that reused the pid is gone")
        }
    }

    /// And a member still listed is killed (a v1 cgroup, no cgroup.kill: the loop alone).
    @Test func aListedMemberIsKilled() throws {
        try CgroupKernelGate.require()
        try #require(geteuid() == 0, "root makes the cgroup")
        signal(SIGPIPE, SIG_IGN)
        let (_, dir) = try scratchCgroupBase("bh-killloop-\(getpid())")
        defer { removeCgroupTree(dir) }
        let member = try GatedChild(["/bin/sleep", "30"])
        defer { if !member.reaped { kill(member.pid, SIGKILL) }; _ = member.wait(timeoutSeconds: 5) }
        try #require(CgroupPodCollectionTests.attach(member.pid, to: dir), "attach: errno \(errno)")
        #expect(SandboxCgroup.killLoop(directories: [dir], signalFirst: true), "emptied")
        #expect(member.wait(timeoutSeconds: 5) != nil, "the member was killed")
    }
}
