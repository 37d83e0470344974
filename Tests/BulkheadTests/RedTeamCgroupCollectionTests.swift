import Testing
import BulkheadModel
@testable import BulkheadSystem
import CShimsTesting
#if canImport(Glibc)
import Glibc
#endif

/// Red team of the stale-leaf collection every launch runs (`SandboxCgroup.collectStale`):
/// an ordinary user must not make a root launch's collection kill or remove a sandbox that
/// is not stale. Every test kills its processes and removes its cgroups on every path.
@Suite("red team: stale cgroup collection (real kernel, root)", .serialized,
       .enabled(if: CgroupKernelGate.enabled,
                Comment(rawValue: (CgroupKernelGate.skipReason ?? "") + " (with CI=true this fails instead of skipping)")))
struct RedTeamCgroupCollectionTests {
    /// A cgroup v1 base directory owned by an ordinary user (what bulkhead's own error tells
    /// an admin to do for rootless limits: "chown <base> to the user"; root launched from the
    /// same v1 cgroup, e.g. by sudo in the user's session, uses that same base). The user
    /// cannot signal root's sandboxes, but v1 lets the owner of a directory rename the
    /// root-made directories in it: a tenant holding a live sandbox renamed to a dead
    /// launcher's leaf name. Root's next launch must not take it for a stale leaf and SIGKILL
    /// the live sandbox (nor remove anything in a directory it does not own).
    @Test func renamedTenantInUserOwnedBaseIsNotCollected() throws {
        try CgroupKernelGate.require()
        try #require(geteuid() == 0, "the attack is on a root launch")
        // The children below do not read their stdin: a release into a closed pipe must not
        // end the test process.
        signal(SIGPIPE, SIG_IGN)
        let real = try CgroupHost.detect()
        // cgroup2 refuses rename(2) (EPERM): the attack needs a v1 hierarchy.
        guard real.mode != .unified else { return }
        var target = try #require(real.v1Target(for: "pids"), "no v1 pids hierarchy")
        let own = String(target.baseDirectory.dropLast(("/" + CgroupHost.subtreeName).count))
        let base = own + "/bhtest-\(getpid())-owned"
        target.baseDirectory = base
        target.writable = true
        var host = real
        host.targets = [target]
        try #require(mkdir(base, 0o755) == 0, "mkdir \(base): errno \(errno)")
        defer {
            _ = SandboxCgroup.killLoop(directories: [base], signalFirst: true)
            _ = SandboxCgroup.removeTree(base)
            #expect(access(base, F_OK) != 0, "left behind: \(base)")
        }
        try #require(chown(base, 65534, 65534) == 0, "chown \(base): errno \(errno)")

        // Root's live sandbox (this process is its launcher) in the user-owned base.
        let live = try #require(CgroupLeafName.forCurrentProcess(sequence: 61))
        let cg = try SandboxCgroup.create(host: host, path: ["tenant", "pod", live.description],
                                          limits: CgroupLimits(), bestEffort: false)
        let member = try GatedChild(["/bin/sleep", "30"])
        defer { member.release(); kill(member.pid, SIGKILL); _ = member.wait(timeoutSeconds: 5) }
        try cg.attach(pid: member.pid)

        // The user renames root's tenant to the leaf name of a launcher that is gone.
        let gone = try GatedChild(["/bin/true"])
        _ = gone.wait(timeoutSeconds: 5)
        let deadName = CgroupLeafName(launcherPID: gone.pid, launcherStartTime: 1, sequence: 0).description
        let mv = try GatedChild(["/usr/bin/setpriv", "--reuid=65534", "--regid=65534", "--clear-groups",
                                 "/bin/mv", base + "/tenant", base + "/" + deadName])
        let mvStatus = try #require(mv.wait(timeoutSeconds: 10))
        try #require(exitCode(mvStatus) == 0, "the user could not rename root's tenant (status \(mvStatus))")

        // Root's launch collects (writableOnly: what CgroupSetup passes).
        let removed = SandboxCgroup.collectStale(host: host, writableOnly: true)
        #expect(removed.isEmpty, "root collected in a user-owned base: \(removed)")
        #expect(access(base + "/" + deadName + "/pod/" + live.description, F_OK) == 0,
                "the live sandbox's cgroup was removed")
        let stat = CgroupFS.read("/proc/\(member.pid)/stat")
        if case .success(let text) = stat {
            #expect(!ProcStat.hasExited(fromStat: text), "the live sandbox's process was killed")
        } else {
            Issue.record("the live sandbox's process is gone")
        }
    }

    /// The same user-owned v1 base, attacked during a run instead: the user would rename root's
    /// tenant away while the sandbox runs, and root's teardown, which goes by path (killAll
    /// reads `<leaf>/cgroup.procs`, remove counts ENOENT as removed), would kill and remove
    /// nothing (on this branch before the fix: the member outlived its teardown and the v1
    /// cgroups stayed). Root does not make leaves in a base another user owns or may write:
    /// the hierarchy is not writable for it, a launch needing it fails before anything runs.
    /// `checkWritable`'s rule, case by case, on plain directories (it looks at owners, modes
    /// and types only): a missing base under a trusted parent is writable; a base that is a
    /// symbolic link (to a trusted directory, or dangling, which the six-call check of session
    /// 17 took for a missing base and called writable), another user's, or under a parent
    /// others may write, is not.
    @Test func checkWritableRefusesWhatIsNotATrustedDirectory() throws {
        try #require(geteuid() == 0, "the rule is root's")
        let parent = "/tmp/bhtest-cw-\(getpid())"
        try #require(mkdir(parent, 0o755) == 0, "mkdir \(parent): errno \(errno)")
        let base = parent + "/bulkhead", target = parent + "/elsewhere"
        defer {
            _ = unlink(base); _ = rmdir(base); _ = rmdir(target); _ = rmdir(parent)
            #expect(access(parent, F_OK) != 0, "left behind: \(parent)")
        }
        #expect(CgroupTarget.checkWritable(base), "a missing base under root's 0755 parent")
        try #require(symlink(target, base) == 0)
        #expect(!CgroupTarget.checkWritable(base), "a dangling symbolic link as the base")
        try #require(mkdir(target, 0o755) == 0)
        #expect(!CgroupTarget.checkWritable(base), "a symbolic link to a trusted directory as the base")
        try #require(unlink(base) == 0 && mkdir(base, 0o755) == 0)
        #expect(CgroupTarget.checkWritable(base), "root's own 0755 base")
        try #require(chown(base, 65534, 65534) == 0)
        #expect(!CgroupTarget.checkWritable(base), "a base nobody owns")
        try #require(chown(base, 0, 0) == 0 && chmod(base, 0o775) == 0)
        #expect(!CgroupTarget.checkWritable(base), "a base its group may write")
        try #require(chmod(base, 0o755) == 0 && chmod(parent, 0o777) == 0)
        #expect(!CgroupTarget.checkWritable(base), "a base under a parent others may write")
        try #require(rmdir(base) == 0)
        #expect(!CgroupTarget.checkWritable(base), "a missing base under a parent others may write")
    }

    @Test func rootMakesNoLeafInABaseAnotherUserOwns() throws {
        try CgroupKernelGate.require()
        try #require(geteuid() == 0, "the attack is on a root launch")
        let real = try CgroupHost.detect()
        guard real.mode != .unified else { return }
        var target = try #require(real.v1Target(for: "pids"), "no v1 pids hierarchy")
        let own = String(target.baseDirectory.dropLast(("/" + CgroupHost.subtreeName).count))
        let base = own + "/bhtest-\(getpid())-renamed"
        try #require(mkdir(base, 0o755) == 0, "mkdir \(base): errno \(errno)")
        defer {
            _ = SandboxCgroup.killLoop(directories: [base], signalFirst: true)
            _ = SandboxCgroup.removeTree(base)
            #expect(access(base, F_OK) != 0, "left behind: \(base)")
        }
        #expect(CgroupTarget.checkWritable(base), "root's own base is writable for it")
        try #require(chown(base, 65534, 65534) == 0, "chown \(base): errno \(errno)")
        #expect(!CgroupTarget.checkWritable(base), "a base another user owns counts as writable for root")
        try #require(chmod(base, 0o777) == 0 && chown(base, 0, 0) == 0)
        #expect(!CgroupTarget.checkWritable(base), "a base others may write counts as writable for root")
        try #require(chown(base, 65534, 65534) == 0 && chmod(base, 0o755) == 0)

        target.baseDirectory = base
        target.writable = CgroupTarget.checkWritable(base)
        var host = real
        host.targets = [target]
        let live = try #require(CgroupLeafName.forCurrentProcess(sequence: 62))
        var limits = CgroupLimits()
        limits.pidsMax = 64
        #expect(throws: CgroupError.self, "root made a leaf in a base another user owns") {
            let cg = try SandboxCgroup.create(host: host, path: ["tenant", "pod", live.description],
                                              limits: limits, bestEffort: false)
            cg.killAll()
            try? cg.remove()
        }
        #expect(access(base + "/tenant", F_OK) != 0, "root made a directory in a base another user owns")
    }
}
