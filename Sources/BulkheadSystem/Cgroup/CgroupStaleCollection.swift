#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#endif

extension SandboxCgroup {
    /// Removes the cgroups of sandboxes whose launcher is gone, in every hierarchy of
    /// `host`, and returns the directories it removed.
    ///
    /// Only directories below bulkhead's base directories are looked at. A directory is a
    /// sandbox leaf when its name is a `CgroupLeafName`; it is stale when the launcher it
    /// names no longer runs (no /proc/PID, or a different start time: the pid was
    /// recycled). A stale leaf's leftover members are killed first (cgroup.kill, else
    /// SIGKILL in a bounded loop); a leaf whose launcher is alive is never touched, nor is
    /// anything below it. Ancestors emptied by the removal (tenant, pod) are pruned; other
    /// directories are left alone.
    @discardableResult
    public static func collectStale(host: CgroupHost) -> [String] {
        var removed: [String] = []
        for target in host.targets where CgroupFS.exists(target.baseDirectory) {
            _ = collect(in: target.baseDirectory, base: target.baseDirectory, removed: &removed)
        }
        return removed
    }

    /// Returns whether a stale leaf was removed somewhere below `dir`.
    private static func collect(in dir: String, base: String, removed: inout [String]) -> Bool {
        var removedBelow = false
        for name in CgroupFS.subdirectories(dir) {
            let child = dir + "/" + name
            if let leaf = CgroupLeafName(parsing: name) {
                guard !leaf.launcherIsAlive else { continue }
                if CgroupFS.exists(child + "/cgroup.kill") {
                    _ = CgroupFS.write(child + "/cgroup.kill", "1")
                }
                _ = killLoop(directories: [child], signalFirst: true)
                if case .success = removeTree(child) {
                    removed.append(child)
                    removedBelow = true
                }
            } else if collect(in: child, base: base, removed: &removed) {
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
