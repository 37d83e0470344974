#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#endif

/// How this host's cgroups are laid out, and where bulkhead would put its subtree in
/// each hierarchy. Built from /proc/self/mountinfo, /proc/self/cgroup and the cgroup
/// files themselves; changes nothing.
public struct CgroupHost: Sendable, Equatable {
    /// The cgroup layout of a host.
    public enum Mode: String, Sendable, Codable {
        /// Only cgroup2, which owns every controller.
        case unified
        /// cgroup v1 hierarchies own the controllers; a cgroup2 tree exists beside them
        /// (usually with no controllers, but with cgroup.kill/cgroup.events/cgroup.freeze).
        case hybrid
        /// Only cgroup v1.
        case legacy
    }

    public var mode: Mode
    /// Where cgroup2 is mounted, if it is.
    public var unifiedMountPoint: String?
    /// Each v1 controller (cpu, memory, pids, …, and `name=…` hierarchies) → its mount point.
    public var v1MountPoints: [String: String]
    /// The controllers the cgroup2 root offers (its cgroup.controllers).
    public var v2AvailableControllers: Set<String>
    /// The controllers enabled for the children of the v2 directory bulkhead's subtree
    /// hangs from (that directory's cgroup.subtree_control).
    public var v2EnabledControllers: Set<String>
    /// The calling process's own cgroup in each hierarchy, from /proc/self/cgroup: the
    /// key is "unified" for the v2 line, else the v1 controller (one entry per controller).
    public var ownCgroups: [String: String]
    /// Where bulkhead's subtree lives in each usable hierarchy, and whether it is writable.
    public var targets: [CgroupTarget]

    public init(mode: Mode, unifiedMountPoint: String?, v1MountPoints: [String: String],
                v2AvailableControllers: Set<String>, v2EnabledControllers: Set<String>,
                ownCgroups: [String: String], targets: [CgroupTarget]) {
        self.mode = mode
        self.unifiedMountPoint = unifiedMountPoint
        self.v1MountPoints = v1MountPoints
        self.v2AvailableControllers = v2AvailableControllers
        self.v2EnabledControllers = v2EnabledControllers
        self.ownCgroups = ownCgroups
        self.targets = targets
    }

    /// The v1 controllers bulkhead uses: limits (cpu, memory, pids, blkio) and statistics
    /// (cpuacct for CPU usage where it is not co-mounted with cpu); an OCI container's freezer
    /// (`pause`), devices and hugetlb cgroups.
    public static let v1ControllersUsed: [String] = ["cpu", "cpuacct", "memory", "pids", "blkio", "cpuset", "freezer", "devices", "hugetlb"]

    /// The name of bulkhead's directory in every hierarchy.
    public static let subtreeName = "bulkhead"

    /// Reads the host's cgroup layout.
    public static func detect() throws(CgroupError) -> CgroupHost {
        let mountinfo: String
        switch CgroupFS.read("/proc/self/mountinfo") {
        case .success(let text): mountinfo = text
        case .failure(let e):
            throw CgroupError(code: .hostDetection, operation: "read mount table", path: "/proc/self/mountinfo",
                              errno: e, fix: "mount /proc")
        }
        let procCgroup: String
        switch CgroupFS.read("/proc/self/cgroup") {
        case .success(let text): procCgroup = text
        case .failure(let e):
            throw CgroupError(code: .hostDetection, operation: "read own cgroups", path: "/proc/self/cgroup",
                              errno: e, fix: "mount /proc; the kernel needs CONFIG_CGROUPS")
        }
        let membership = ProcCgroupEntry.parse(procCgroup)
        let layout = CgroupLayout.resolve(mounts: MountInfoEntry.parse(mountinfo), membership: membership)
        guard let mode = layout.mode else {
            throw CgroupError(code: .hostDetection, operation: "find a cgroup file system", path: "/proc/self/mountinfo",
                              fix: "mount cgroup2 at /sys/fs/cgroup (mount -t cgroup2 none /sys/fs/cgroup)")
        }

        var available: Set<String> = []
        var enabled: Set<String> = []
        var targets: [CgroupTarget] = []
        if let unified = layout.unified {
            let rootDirectory = unified.mountPoint
            available = readControllers(rootDirectory + "/cgroup.controllers")
            // As root, bulkhead hangs its v2 subtree from the top of the tree: v2's
            // "no internal processes" rule forbids enabling controllers below a cgroup
            // that holds processes, and the launcher's own cgroup does. Rootless, only a
            // delegated subtree (the caller's own cgroup, chowned to it) can be written.
            let parent = CgroupFS.isWritable(rootDirectory) ? rootDirectory : unified.ownDirectory
            enabled = readControllers(parent + "/cgroup.subtree_control")
            targets.append(CgroupTarget(hierarchy: "unified", controllers: available, mountPoint: unified.mountPoint,
                                        ownPath: unified.ownPath, baseDirectory: parent + "/" + subtreeName,
                                        writable: CgroupTarget.checkWritable(parent + "/" + subtreeName)))
        }
        for v1 in layout.v1 where !Set(v1.controllers).isDisjoint(with: v1ControllersUsed) {
            // v1 has no internal-process rule, so bulkhead nests under the caller's own
            // cgroup: the sandbox then stays inside whatever bounds the caller's own
            // supervisor put on it.
            targets.append(CgroupTarget(hierarchy: v1.controllers.joined(separator: ","), controllers: Set(v1.controllers),
                                        mountPoint: v1.mountPoint, ownPath: v1.ownPath,
                                        baseDirectory: v1.ownDirectory + "/" + subtreeName,
                                        writable: CgroupTarget.checkWritable(v1.ownDirectory + "/" + subtreeName)))
        }
        var own: [String: String] = [:]
        for entry in membership {
            if entry.isUnified { own["unified"] = entry.path }
            for c in entry.controllers { own[c] = entry.path }
        }
        return CgroupHost(mode: mode, unifiedMountPoint: layout.unified?.mountPoint,
                          v1MountPoints: layout.v1MountPoints, v2AvailableControllers: available,
                          v2EnabledControllers: enabled, ownCgroups: own, targets: targets)
    }

    /// The target for the unified hierarchy, if cgroup2 is mounted.
    public var unifiedTarget: CgroupTarget? {
        targets.first { $0.hierarchy == "unified" }
    }

    /// Whether the cgroup2 file system at `mountPoint` was mounted with `nsdelegate`: then a
    /// task inside a cgroup namespace cannot write the interface files of the namespace's root
    /// (its own limits), only `cgroup.procs` and `cgroup.subtree_control` (cgroups(7)).
    public static func hasNamespaceDelegation(mountPoint: String) -> Bool {
        guard case .success(let text) = CgroupFS.read("/proc/self/mountinfo") else { return false }
        return MountInfoEntry.parse(text).contains { $0.mountPoint == mountPoint && $0.fileSystemType == "cgroup2" && $0.superOptions.contains("nsdelegate") }
    }

    /// The v1 target whose hierarchy carries `controller`.
    public func v1Target(for controller: String) -> CgroupTarget? {
        targets.first { $0.hierarchy != "unified" && $0.controllers.contains(controller) }
    }

    static func readControllers(_ path: String) -> Set<String> {
        guard case .success(let text) = CgroupFS.read(path) else { return [] }
        return Set(text.split(whereSeparator: { $0 == " " || $0 == "\n" }).map(String.init))
    }
}

/// Where bulkhead's subtree lives in one hierarchy.
public struct CgroupTarget: Sendable, Equatable {
    /// "unified" for cgroup2, else the v1 hierarchy's controllers joined by ",".
    public var hierarchy: String
    /// The controllers this hierarchy carries (for "unified": those the root offers).
    public var controllers: Set<String>
    public var mountPoint: String
    /// The caller's cgroup in this hierarchy, as /proc/self/cgroup names it.
    public var ownPath: String
    /// `…/bulkhead`: the directory under which sandboxes get their cgroups.
    public var baseDirectory: String

    /// Whether the caller could create bulkhead's cgroups here when the host was
    /// detected: access(W_OK) on the base directory if it exists, else on its parent.
    public var writable: Bool

    public init(hierarchy: String, controllers: Set<String>, mountPoint: String, ownPath: String,
                baseDirectory: String, writable: Bool) {
        self.hierarchy = hierarchy
        self.controllers = controllers
        self.mountPoint = mountPoint
        self.ownPath = ownPath
        self.baseDirectory = baseDirectory
        self.writable = writable
    }

    /// access(2) W_OK on `baseDirectory` if it exists, else on the directory that would hold it;
    /// and both must be trusted (`CgroupFS.isTrustedDirectory`: owned by the caller or root,
    /// writable by no one else). In a base another user may write (a v1 base chowned to a
    /// user, which root launched from the same cgroup would share) that user could rename a
    /// launch's tenant away during its run, and its teardown, which goes by path, would then
    /// kill nothing and remove nothing.
    static func checkWritable(_ baseDirectory: String) -> Bool {
        let cut = String(baseDirectory[..<(baseDirectory.lastIndex(of: "/") ?? baseDirectory.endIndex)])
        let parent = cut.isEmpty ? "/" : cut
        // Four system calls (of six before): it runs for every hierarchy at every launch
        // (BENCHMARKS.md, session 18). A base that is there but not a trusted directory (a
        // symbolic link, dangling or not, included) is refused; one that cannot be looked up for
        // another reason than ENOENT is not written either.
        let euid = geteuid()
        var st = stat()
        guard lstat(parent, &st) == 0, CgroupFS.isTrustedDirectory(st, euid: euid) else { return false }
        if lstat(baseDirectory, &st) == 0 {
            return CgroupFS.isTrustedDirectory(st, euid: euid) && CgroupFS.isWritable(baseDirectory)
        }
        return errno == ENOENT && CgroupFS.isWritable(parent)
    }
}

/// The pure part of host detection: which cgroup file systems are mounted where, and
/// where the caller's own cgroup is in each. Tested with tables of real mountinfo and
/// /proc/self/cgroup contents.
public struct CgroupLayout: Sendable, Equatable {
    public struct Hierarchy: Sendable, Equatable {
        public var controllers: [String]
        public var mountPoint: String
        /// The caller's cgroup in this hierarchy (from /proc/self/cgroup).
        public var ownPath: String
        /// The directory of the caller's cgroup: the mount point plus the own path made
        /// relative to the mount's root (which is not "/" inside a cgroup namespace or a
        /// bind-mounted subtree).
        public var ownDirectory: String
    }

    public var unified: Hierarchy?
    public var v1: [Hierarchy]

    /// unified: only cgroup2; hybrid: v1 controllers and cgroup2; legacy: only v1; nil: none.
    public var mode: CgroupHost.Mode? {
        let hasV1Controllers = v1.contains { $0.controllers.contains { !$0.hasPrefix("name=") } }
        switch (unified != nil, hasV1Controllers) {
        case (true, false): return .unified
        case (true, true): return .hybrid
        case (false, true): return .legacy
        case (false, false): return nil
        }
    }

    /// Each v1 controller → its mount point.
    public var v1MountPoints: [String: String] {
        var map: [String: String] = [:]
        for h in v1 { for c in h.controllers where map[c] == nil { map[c] = h.mountPoint } }
        return map
    }

    public static func resolve(mounts: [MountInfoEntry], membership: [ProcCgroupEntry]) -> CgroupLayout {
        var unified: Hierarchy?
        var v1: [Hierarchy] = []
        for mount in mounts {
            if mount.fileSystemType == "cgroup2" {
                guard unified == nil else { continue }  // the first mount of a hierarchy wins
                let own = membership.first(where: \.isUnified)?.path ?? "/"
                unified = Hierarchy(controllers: [], mountPoint: mount.mountPoint, ownPath: own,
                                    ownDirectory: directory(mount: mount, ownPath: own))
            } else if mount.fileSystemType == "cgroup" {
                let controllers = mount.v1Controllers
                guard !controllers.isEmpty, !v1.contains(where: { $0.controllers == controllers }) else { continue }
                let own = membership.first(where: { !$0.isUnified && Set($0.controllers) == Set(controllers) })?.path ?? "/"
                v1.append(Hierarchy(controllers: controllers, mountPoint: mount.mountPoint, ownPath: own,
                                    ownDirectory: directory(mount: mount, ownPath: own)))
            }
        }
        return CgroupLayout(unified: unified, v1: v1)
    }

    static func directory(mount: MountInfoEntry, ownPath: String) -> String {
        var relative = ownPath
        if mount.root != "/" {
            if relative == mount.root {
                relative = "/"
            } else if relative.hasPrefix(mount.root + "/") {
                relative = String(relative.dropFirst(mount.root.count))
            }
        }
        if relative == "/" { return mount.mountPoint }
        return mount.mountPoint + relative
    }
}
