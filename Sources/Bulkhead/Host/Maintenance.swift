import BulkheadLaunch
import BulkheadModel
import BulkheadSystem

/// The host's readiness for sandboxes (`bulkhead doctor`).
public typealias HostReport = BulkheadSystem.HostReport
/// Compiled seccomp programs by content hash.
public typealias SeccompCache = BulkheadSystem.SeccompCache

public enum Maintenance {
    /// Probes the kernel features bulkhead uses; each check says what is missing and the fix.
    public static func doctor() -> HostReport {
        var facts = HostFacts.gather()
        // Read as a launch reads them: the checked reader, root-owned files only.
        do {
            facts.subordinateIDs = try HostIdentity.subordinateRanges().map { .ranges(uid: $0.uid, gid: $0.gid) }
                ?? .none(defaultRange: EffectiveProfile.defaultHostIDRange)
        } catch {
            facts.subordinateIDs = .refused(error.description)
        }
        return HostReport.evaluate(facts)
    }

    /// Removes the cgroups of sandboxes whose launcher is gone (`bulkhead gc`); a live
    /// launcher's cgroup is never touched. Returns the directories removed.
    public static func collectGarbage() throws(LaunchError) -> [String] {
        let host: CgroupHost
        do { host = try CgroupHost.detect() } catch { throw LaunchError("detect the host's cgroups", wrapping: error) }
        // Pod directories first: their volumes are unmounted before the node and cgroups go.
        let pods = PodState.collectStale()
        return pods + SandboxRegistry.collectStale() + NodeNetwork.collectStale() + SandboxCgroup.collectStale(host: host)
    }
}
