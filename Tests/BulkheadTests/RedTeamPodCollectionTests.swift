import Testing
import BulkheadModel
@testable import BulkheadSystem
import Bulkhead
#if canImport(Glibc)
import Glibc
#endif

/// Red team of the stale collection (`SandboxCgroup.collectStale`, run by every root launch and
/// by `bulkhead gc`): names below bulkhead's base that another principal chose must never be
/// taken for a dead launcher's leaf or pod cgroup.
@Suite("red team: the stale collection and names another principal chose (real kernel, root)", .serialized,
       .enabled(if: CgroupKernelGate.enabled,
                Comment(rawValue: (CgroupKernelGate.skipReason ?? "") + " (with CI=true this fails instead of skipping)")))
struct RedTeamPodCollectionTests {
    /// An OCI container's cgroup is `bulkhead/oci/<id>`, and `c-<pid>-<starttime>-<n>` is a valid
    /// container id (runc's alphabet: letters, digits, `_ + - .`). With a pid that does not run,
    /// every root launch (and gc) took the live container for a dead launcher's leaf: SIGKILLed
    /// its processes and removed its cgroup. Nor is anything below a container's cgroup (what its
    /// workload made under a "rw" cgroup mount) walked: the container's cgroup is OCI's to remove
    /// (`delete`), not the collection's.
    @Test("an OCI container whose id reads as a dead launcher's leaf is neither killed nor removed")
    func ociIDShapedAsALeaf() throws {
        try CgroupKernelGate.require()
        try #require(geteuid() == 0, "root's collection")
        signal(SIGPIPE, SIG_IGN)
        let (host, base) = try scratchCgroupBase("bh-rtgc-\(getpid())")
        defer { removeCgroupTree(base) }
        let oci = base + "/oci"
        try #require(mkdir(oci, 0o755) == 0, "mkdir \(oci): errno \(errno)")

        // A launcher that is gone: its pid and real start time.
        let dead = try goneLauncher()
        let id = dead.description
        #expect(throws: Never.self) { try OCIRuntime.checkID(id) }
        let container = oci + "/" + id
        // Below another container: what its workload made in its own cgroup ("rw" mount).
        let other = oci + "/web"
        let nested = other + "/" + CgroupLeafName(launcherPID: dead.launcherPID, launcherStartTime: dead.launcherStartTime, sequence: 1).description
        for d in [container, other, nested] { try #require(mkdir(d, 0o755) == 0, "mkdir \(d): errno \(errno)") }
        let member = try GatedChild(["/bin/sleep", "30"])
        defer { if !member.reaped { kill(member.pid, SIGKILL) }; _ = member.wait(timeoutSeconds: 5) }
        try #require(CgroupPodCollectionTests.attach(member.pid, to: container), "attach to \(container): errno \(errno)")
        let nestedMember = try GatedChild(["/bin/sleep", "30"])
        defer { if !nestedMember.reaped { kill(nestedMember.pid, SIGKILL) }; _ = nestedMember.wait(timeoutSeconds: 5) }
        try #require(CgroupPodCollectionTests.attach(nestedMember.pid, to: nested), "attach to \(nested): errno \(errno)")

        let removed = SandboxCgroup.collectStale(host: host)
        #expect(removed.isEmpty, "removed: \(removed.sorted())")
        for d in [container, other, nested] { #expect(access(d, F_OK) == 0, "\(d) was removed") }
        for (p, what) in [(member.pid, "the container's member"), (nestedMember.pid, "the nested member")] {
            if case .success(let text) = CgroupFS.read("/proc/\(p)/stat") {
                #expect(!ProcStat.hasExited(fromStat: text), "\(what) was killed")
            } else {
                Issue.record("\(what) is gone")
            }
        }
    }
}
