#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#endif
import CShims

extension SandboxCgroup {
    /// Removes the cgroups of sandboxes whose launcher is gone, in every hierarchy of
    /// `host`, and returns the directories it removed.
    ///
    /// Only directories below bulkhead's base directories are looked at. A directory is a
    /// sandbox leaf when its name is a `CgroupLeafName`; it is stale when the launcher it
    /// names no longer runs (no /proc/PID, or a different start time: the pid was
    /// recycled). A stale leaf's leftover members are killed first (cgroup.kill, else
    /// SIGKILL in a bounded loop); a leaf whose launcher is alive is never touched, nor is
    /// anything below it. A pod's cgroup (`CgroupLeafName(podDirectory:)`) is taken as a leaf
    /// of its launcher. OCI containers' cgroups (`bulkhead/oci/<id>`, any id) are never judged
    /// nor walked: they have no launcher. Ancestors emptied by the removal (tenant, pod) are pruned; other
    /// directories are left alone.
    ///
    /// Only directories the caller (or root) owns and no one else may write are looked in (the
    /// base directory and every directory walked to a leaf; `CgroupFS.isTrustedDirectory`,
    /// checked before each is walked): in a directory
    /// another user may write, that user could plant or (cgroup v1 allows rename(2)) rename
    /// entries, e.g. root's tenant holding live sandboxes renamed to a dead launcher's leaf
    /// name, which the collection would then kill and remove as root.
    ///
    /// - Parameter writableOnly: look only in the hierarchies whose base directory the caller
    ///   may write (`CgroupTarget.writable`), the ones it makes its own leaves in. A launch
    ///   passes true: a caller that cannot write a base directory (an ordinary user on a host
    ///   whose hierarchies are root's) could remove nothing there, and its walk of every other
    ///   sandbox's cgroups was a third of a rootless launch's system calls. `bulkhead gc`
    ///   looks everywhere.
    @discardableResult
    public static func collectStale(host: CgroupHost, writableOnly: Bool = false) -> [String] {
        collectStale(host: host, writableOnly: writableOnly, budget: nil)
    }

    /// The same walk for a launch whose workload already runs (`run` collects after the release):
    /// it stops waiting for a stuck leaf (members that SIGKILL does not end at once: frozen by the
    /// v1 freezer, in uninterruptible sleep) as soon as `stop()` says so (the workload's deadline
    /// passed, a signal came), since the launcher does not poll meanwhile; each leaf's wait
    /// is otherwise the kill loop's 2 s and the rmdir retries' 1 s, in every hierarchy.
    /// Returns whether the walk finished; if not, the caller walks again without a budget once
    /// the workload has ended (what is left is then collected, or by the next launch or gc).
    public static func collectStale(host: CgroupHost, writableOnly: Bool, stop: @escaping () -> Bool) -> Bool {
        let budget = WaitBudget(stop)
        collectStale(host: host, writableOnly: writableOnly, budget: budget)
        return !budget.gaveUp
    }

    private static func collectStale(host: CgroupHost, writableOnly: Bool, budget: WaitBudget?) -> [String] {
        var removed: [String] = []
        // A leaf has the same name in every hierarchy: its launcher is looked up once.
        var liveness = LauncherLiveness()
        for target in host.targets where (!writableOnly || target.writable) && CgroupFS.isTrustedDirectory(target.baseDirectory) {
            if budget?.gaveUp == true { break }
            _ = collect(in: target.baseDirectory, base: target.baseDirectory, liveness: &liveness, removed: &removed, budget: budget)
        }
        return removed
    }

    /// `bulkhead/oci`: where an OCI container's cgroup is (`bulkhead/oci/<id>`) when its
    /// config.json names no cgroupsPath.
    public static let ociDirectory = "oci"

    /// Why an OCI `linux.cgroupsPath` (`path`, from every hierarchy's root, its names already
    /// checked by `OCICgroupsPath`) cannot be the container's, or nil: in a hierarchy of `host`,
    /// the directory exists already (a cgroup bulkhead did not make: the host's, another
    /// container's; runc would join it and apply the limits to it, and `delete` would then remove
    /// or kill what is not the container's), or a directory above it holds processes (another
    /// container's cgroup or a session's: the new one would count against its limits, and its
    /// `kill --all`/`delete` would reach the new container's tasks). The leaf's own mkdir stays
    /// exclusive (EEXIST) against a race; this names the cause first.
    /// A directory above it that is another container's cgroup (`containerMark`, set when
    /// bulkhead-runc made it) is refused too, stopped or not: that container's `delete` takes
    /// the tree below its cgroup. A cgroup.procs that cannot be read counts as holding processes.
    public static func foreignPlacement(host: CgroupHost, path: [String]) -> String? {
        for t in host.targets {
            var dir = t.mountPoint
            for (i, part) in path.enumerated() {
                dir += "/" + part
                guard CgroupFS.exists(dir) else { break }
                if i == path.count - 1 {
                    return "the cgroup \(dir) exists already: bulkhead makes a container's cgroup itself and never joins or removes one it did not make"
                }
                switch CgroupFS.read(dir + "/cgroup.procs") {
                case .success(let procs) where procs.utf8.contains(where: { $0 >= 0x30 && $0 <= 0x39 }):
                    return "the cgroup \(dir) above it holds processes (another container's or the host's): the container would count against its limits and be reached by its kill"
                case .success: break
                case .failure(let e):
                    return "the cgroup \(dir) above it cannot be read (\(dir)/cgroup.procs: \(e)), so whether it holds processes is unknown"
                }
                if bh_cgroup_has_mark(dir, containerMark) == 1 {
                    return "the cgroup \(dir) above it is another container's (stopped, not yet deleted): its delete would kill the container and remove its cgroup"
                }
            }
        }
        return nil
    }

    /// The extended attribute bulkhead-runc sets on an OCI container's own cgroup (a
    /// `linux.cgroupsPath` leaf, in its first hierarchy): only CAP_SYS_ADMIN sets a trusted.*
    /// one, so no user forges or removes it; it goes with the cgroup.
    public static let containerMark = "trusted.bulkhead.oci-container"

    /// The launchers already looked up during one collection: a leaf's launcher is read from
    /// /proc once, not once per hierarchy. A small list (a launch sees its siblings), searched
    /// linearly.
    struct LauncherLiveness {
        private var known: [(pid: Int32, startTime: UInt64, alive: Bool)] = []

        mutating func isAlive(_ leaf: CgroupLeafName) -> Bool {
            if let hit = known.first(where: { $0.pid == leaf.launcherPID && $0.startTime == leaf.launcherStartTime }) {
                return hit.alive
            }
            let alive = leaf.launcherIsAlive
            known.append((leaf.launcherPID, leaf.launcherStartTime, alive))
            return alive
        }
    }

    /// Returns whether a stale leaf was removed somewhere below `dir`.
    private static func collect(in dir: String, base: String, liveness: inout LauncherLiveness,
                                removed: inout [String], budget: WaitBudget?) -> Bool {
        var removedBelow = false
        // `bulkhead/oci/<id>`: an OCI container's cgroup. It has no launcher (`delete` removes
        // it), and its id is the OCI caller's choice: `c-<pid>-<starttime>-<n>` is a valid runc
        // id, and was taken for a dead launcher's leaf (the live container SIGKILLed and
        // removed). Ids have no '@': only a pod's cgroup (of a tenant named "oci") is looked at
        // there; a container, and whatever its workload made below it, is neither judged nor walked.
        let containers = dir == base + "/" + ociDirectory
        for name in CgroupFS.subdirectories(dir) where !containers || name.contains("@") {
            if budget?.gaveUp == true { break }
            let child = dir + "/" + name
            // A pod's cgroup (`bulkhead/<tenant>/<pod>@<pid>-<start>`) names its launcher too: one
            // killed between making it and its containers' leaves, or after removing them, left
            // it with nothing below naming the launcher. It goes whole as a stale leaf does, and
            // only from a trusted directory of its own (owner, mode, type: no symlink).
            let leaf = CgroupLeafName(parsing: name)
            let pod = leaf == nil && dir != base ? CgroupLeafName(podDirectory: name) : nil
            if let owner = leaf ?? pod {
                guard !liveness.isAlive(owner), pod == nil || CgroupFS.isTrustedDirectory(child) else { continue }
                if CgroupFS.exists(child + "/cgroup.kill") {
                    _ = CgroupFS.write(child + "/cgroup.kill", "1")
                }
                _ = killLoop(directories: [child], signalFirst: true, budget: budget)
                if budget?.gaveUp == true { break }
                if case .success = removeTree(child, budget: budget) {
                    removed.append(child)
                    removedBelow = true
                }
            } else if CgroupFS.isTrustedDirectory(child),
                      collect(in: child, base: base, liveness: &liveness, removed: &removed, budget: budget) {
                removedBelow = true
                // Emptied by us: prune it (rmdir fails harmlessly if it is still in use).
                if case .success = CgroupFS.removeDirectory(child) { removed.append(child) }
            }
        }
        if removedBelow && dir == base, case .success = CgroupFS.removeDirectory(dir) {
            removed.append(dir)
        }
        return removedBelow
    }
}

/// When a wait of the stale-leaf walk (`SandboxCgroup.killLoop`, `removeTree`) is to stop: asked
/// only before a wait, and once it said so it stays so (`gaveUp`).
public final class WaitBudget {
    private let stop: () -> Bool
    public private(set) var gaveUp = false

    public init(_ stop: @escaping () -> Bool) { self.stop = stop }

    func exhausted() -> Bool {
        if !gaveUp && stop() { gaveUp = true }
        return gaveUp
    }
}
