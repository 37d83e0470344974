import BulkheadModel
import CShims
#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#endif

/// One sandbox's cgroup: a leaf at `bulkhead/<path…>` in every hierarchy bulkhead uses on
/// this host, with its limits written.
///
/// Drivers: a limit is enforced through cgroup v2 when the cgroup2 root offers its
/// controller, else through the v1 hierarchy that carries it (the v1 fallback). On a
/// hybrid host the cgroup2 tree is still used, without controllers, for three things v1
/// lacks: `cgroup.kill` (an atomic kill of every member, immune to fork races),
/// `cgroup.events` and a directory fd for clone3's `CLONE_INTO_CGROUP`.
///
/// Ownership is explicit: the handle closes its directory fd when it is released, but only
/// `remove()` deletes the cgroups (a supervisor may hand the leaf to a later process).
/// Not thread-safe, and not shared: one owner per handle (a run's supervisor; in a pod, each
/// container's supervisor thread its own leaf, the pod runner's thread the pod's and tenant's).
public final class SandboxCgroup {
    /// One directory of this cgroup in one hierarchy.
    public struct Leaf: Sendable, Equatable {
        public var target: CgroupTarget
        public var directory: String
        /// The topmost directory this launch made for the leaf (the leaf itself when its
        /// ancestors existed; nil when a shared leaf existed already).
        var madeFrom: String? = nil
        public var isUnified: Bool { target.hierarchy == "unified" }
        /// Down to where emptied ancestors are pruned: bulkhead's base in bulkhead's own tree;
        /// for an OCI `linux.cgroupsPath` (from the hierarchy's root) only what this launch made,
        /// never a cgroup that existed before (the host's, a pod's, another container's).
        var pruneBase: String {
            target.baseDirectory != target.mountPoint ? target.baseDirectory : (madeFrom ?? directory)
        }
    }

    /// The path below bulkhead's base, e.g. ["default", "default", "c-12-345-0"].
    public let path: [String]
    /// The leaf directory in each hierarchy, unified first.
    public private(set) var leaves: [Leaf]
    /// Each requested limit the kernel now enforces, with its driver and file.
    public private(set) var enforced: [EnforcedLimit]
    /// Requested limits that could not be enforced (only possible with best effort).
    public private(set) var notEnforced: [NotEnforcedLimit]
    /// `create(deferV1: true)`: the v1 hierarchies whose leaves `createDeferredV1()` makes after
    /// clone3, and the limits it writes there. Nil once made (or when nothing was deferred).
    private var deferred: (targets: [CgroupTarget], assignments: [(CgroupLimitKind, Driver)], limits: CgroupLimits, bestEffort: Bool, everyHierarchy: Bool)?
    /// The v2 controllers this cgroup's limits are enforced through.
    public private(set) var v2Controllers: Set<String>
    /// An O_RDONLY|O_DIRECTORY fd of the cgroup2 leaf, for clone3's `CLONE_INTO_CGROUP`
    /// (Linux 5.7+): the child is born inside the leaf, so not one instruction of it runs
    /// outside. On a hybrid host this places the child only in the cgroup2 leaf; the v1
    /// hierarchies still need `attach(pid:)` or `openJoinFiles()` (`needsAttach`).
    public private(set) var cloneIntoFD: Int32?
    private var removed = false

    /// Whether `attach(pid:)` is needed even when the child was cloned into `cloneIntoFD`:
    /// true when any v1 hierarchy holds a leaf, or will once `createDeferredV1()` has run.
    public var needsAttach: Bool { leaves.contains { !$0.isUnified } || !(deferred?.targets.isEmpty ?? true) }

    /// How many v1 leaves `createDeferredV1()` makes (the `tasks` files the child will join).
    public var deferredV1Count: Int { deferred?.targets.count ?? 0 }
    /// The v1 hierarchies this cgroup has a leaf in, or will have once `createDeferredV1()` ran.
    public var v1Hierarchies: [String] {
        leaves.filter { !$0.isUnified }.map(\.target.hierarchy) + (deferred?.targets.map(\.hierarchy) ?? [])
    }

    /// Every leaf directory.
    public var directories: [String] { leaves.map(\.directory) }

    /// The cgroup2 leaf, if there is one.
    public var unifiedDirectory: String? { leaves.first(where: \.isUnified)?.directory }

    private init(path: [String], leaves: [Leaf], enforced: [EnforcedLimit], notEnforced: [NotEnforcedLimit],
                 v2Controllers: Set<String>, cloneIntoFD: Int32?) {
        self.path = path
        self.leaves = leaves
        self.enforced = enforced
        self.notEnforced = notEnforced
        self.v2Controllers = v2Controllers
        self.cloneIntoFD = cloneIntoFD
    }

    deinit {
        if let fd = cloneIntoFD { close(fd) }
    }

    // MARK: - Creation

    /// Creates `bulkhead/<path…>` in each hierarchy bulkhead uses and writes `limits`.
    ///
    /// The last path component is the sandbox's own leaf and must not exist yet; use
    /// `CgroupLeafName` for it so that `collectStale` can recognise it later. Ancestors are
    /// created as needed and shared. A limit that cannot be enforced throws, unless
    /// `bestEffort`, in which case it is listed in `notEnforced`. On a throw nothing this
    /// call created is left behind.
    /// - Parameter shared: the cgroup is shared by several launchers (a tenant's): it may
    ///   exist already, its limits are (re)written, and a failure removes it only if empty.
    /// - Parameter deferV1: make only the cgroup2 leaf now (the child is born in it); the v1
    ///   leaves and their limits are made by `createDeferredV1()`, after clone3. Not with `shared`.
    /// - Parameter everyHierarchy: a leaf in every writable v1 hierarchy of the host's targets
    ///   (an OCI container's: its freezer for `pause`, its devices and blkio cgroups, and each
    ///   hierarchy the config's cgroup mount shows), not only those limits and statistics need.
    public static func create(host: CgroupHost, path: [String], limits: CgroupLimits,
                              bestEffort: Bool, shared: Bool = false, deferV1: Bool = false,
                              everyHierarchy: Bool = false) throws(CgroupError) -> SandboxCgroup {
        try validate(path: path)
        try limits.validate()

        // 1. Choose a driver for each requested limit, before touching anything.
        var assignments: [(CgroupLimitKind, Driver)] = []
        var notEnforced: [NotEnforcedLimit] = []
        for kind in limits.requested {
            switch driver(for: kind, host: host, limits: limits) {
            case .success(let d): assignments.append((kind, d))
            case .failure(let error):
                if bestEffort {
                    notEnforced.append(NotEnforcedLimit(limit: kind, reason: error.description))
                } else {
                    throw error
                }
            }
        }
        let v2Controllers = Set(assignments.compactMap { $0.1 == .v2 ? $0.0.controller : nil })

        // 2. Which hierarchies get a leaf: the cgroup2 tree whenever it is writable (kill,
        // events, CLONE_INTO_CGROUP), the v1 hierarchies that enforce a limit, and the v1
        // hierarchies whose statistics the run report needs.
        var targets: [CgroupTarget] = []
        if let unified = host.unifiedTarget, unified.writable { targets.append(unified) }
        var v1Wanted: [String] = []
        for (kind, d) in assignments where d == .v1 { v1Wanted.append(v1Controller(kind.controller)) }
        // cpuacct enforces nothing, but its leaf is kept also beside a cgroup2 leaf: without it the
        // sandbox's cgroup namespace is rooted at the launcher's cpuacct cgroup, so a workload that
        // may mount cgroupfs reads every host cgroup's CPU times there (RedTeamNsKernelTests; the
        // cut saved ~0.1 ms, BENCHMARKS.md "the kernel's side of a launch").
        for c in ["memory", "cpu", "cpuacct", "pids"] where !v2Controllers.contains(c == "cpuacct" ? "cpu" : c) {
            v1Wanted.append(c)
        }
        for c in v1Wanted {
            guard let t = host.v1Target(for: c), !targets.contains(t) else { continue }
            if t.writable || assignments.contains(where: { $0.1 == .v1 && v1Controller($0.0.controller) == c }) {
                targets.append(t)
            }
        }
        if everyHierarchy {
            for t in host.targets where t.hierarchy != "unified" && t.writable && !targets.contains(t) { targets.append(t) }
        }
        if targets.isEmpty {
            throw CgroupError(code: .createFailed, operation: "find a writable cgroup hierarchy",
                              path: host.unifiedTarget?.baseDirectory ?? host.targets.first?.baseDirectory ?? "/sys/fs/cgroup",
                              errno: Errno(EACCES), fix: "run as root, or delegate a cgroup subtree to this user (chown it); run `bulkhead doctor`")
        }

        // 3. Create the directories and write the limits. `deferV1`: the cgroup2 leaf only (the
        // child is born in it, CLONE_INTO_CGROUP); the v1 leaves come after clone3.
        let deferV1 = deferV1 && !shared
        let now = deferV1 ? targets.filter { $0.hierarchy == "unified" } : targets
        let later = deferV1 ? targets.filter { $0.hierarchy != "unified" } : []
        let cgroup = SandboxCgroup(path: path, leaves: [], enforced: [], notEnforced: notEnforced, v2Controllers: [], cloneIntoFD: nil)
        try cgroup.make(now, assignments: assignments.filter { !deferV1 || $0.1 == .v2 }, limits: limits, bestEffort: bestEffort,
                        shared: shared, v2Controllers: v2Controllers, everyHierarchy: everyHierarchy)
        if deferV1 {
            cgroup.deferred = (later, assignments.filter { $0.1 == .v1 }, limits, bestEffort, everyHierarchy)
        }

        // 4. The fd for CLONE_INTO_CGROUP.
        if let unified = cgroup.leaves.first(where: \.isUnified) {
            switch CgroupFS.openDirectory(unified.directory) {
            case .success(let opened): cgroup.cloneIntoFD = opened
            case .failure(let e):
                rollback(cgroup.leaves, path: path, shared: shared)
                cgroup.removed = true
                throw CgroupError(code: .createFailed, operation: "open the cgroup directory", path: unified.directory,
                                  errno: e, fix: "run `bulkhead doctor`")
            }
        }
        return cgroup
    }

    /// After clone3 (`create(deferV1: true)`): creates the v1 leaves and writes their limits,
    /// while the kernel builds the child's namespaces and the child mounts; the child joins them
    /// at its `.joinCgroups` step, which waits for `openJoinFiles()`. A limit that cannot be
    /// enforced throws, unless best effort (then listed in `notEnforced`). On a throw the v1
    /// leaves this call made are removed; the cgroup2 leaf is the caller's to remove (`remove()`).
    /// - Parameter faultAfterLeaves: test-only: fail (ECANCELED) once the leaves exist, before
    ///   any limit is written (`FaultPoint.cgroupLimits`).
    public func createDeferredV1(faultAfterLeaves: Bool = false) throws(CgroupError) {
        guard let d = deferred else { return }
        deferred = nil
        guard !removed else {
            throw CgroupError(code: .alreadyRemoved, operation: "create the cgroup v1 leaves", path: path.joined(separator: "/"),
                              fix: "create a new SandboxCgroup")
        }
        do throws(CgroupError) {
            try make(d.targets, assignments: d.assignments, limits: d.limits, bestEffort: d.bestEffort, shared: false,
                     v2Controllers: [], everyHierarchy: d.everyHierarchy, faultAfterLeaves: faultAfterLeaves)
        } catch {
            // Best effort: a leaf that cannot be made leaves its limits unenforced, as before clone3.
            guard d.bestEffort, !faultAfterLeaves else { throw error }
            notEnforced += d.assignments.map { NotEnforcedLimit(limit: $0.0, reason: error.description) }
        }
    }

    /// Makes a leaf in each of `targets` and writes `assignments` (enabling the v2 controllers
    /// first); appends to `leaves`, `enforced`, `notEnforced`. On a throw the leaves this call
    /// made are removed again.
    private func make(_ targets: [CgroupTarget], assignments: [(CgroupLimitKind, Driver)], limits: CgroupLimits,
                      bestEffort: Bool, shared: Bool, v2Controllers: Set<String>, everyHierarchy: Bool = false,
                      faultAfterLeaves: Bool = false) throws(CgroupError) {
        var made: [Leaf] = []
        for t in targets {
            do throws(CgroupError) {
                let (dir, madeFrom) = try Self.makeLeaf(base: t.baseDirectory, path: path, allowExisting: shared)
                made.append(Leaf(target: t, directory: dir, madeFrom: madeFrom))
                // An OCI cgroupsPath's leaf is marked as a container's in its first hierarchy, so
                // that no later cgroupsPath is placed below it, stopped or not (`foreignPlacement`).
                if everyHierarchy, t.baseDirectory == t.mountPoint, leaves.isEmpty, made.count == 1 {
                    let e = bh_cgroup_set_mark(dir, Self.containerMark)
                    if e != 0 && ![EOPNOTSUPP, EPERM, EACCES].contains(e) {
                        throw CgroupError(code: .createFailed, operation: "mark the container's cgroup (setxattr \(Self.containerMark))",
                                          path: dir, errno: Errno(e), fix: "run `bulkhead doctor`")
                    }
                }
                // A v1 cpuset cgroup takes no task until its cpus and mems are set.
                if everyHierarchy, t.hierarchy != "unified", t.controllers.contains("cpuset") {
                    try Self.inheritV1Cpuset(dir, base: t.baseDirectory)
                }
            } catch {
                Self.rollback(made, path: path, shared: shared)
                throw error
            }
        }
        let before = leaves
        leaves += made

        var newEnforced: [EnforcedLimit] = []
        var newNotEnforced: [NotEnforcedLimit] = []
        var v2Enforcing: Set<String> = []
        do throws(CgroupError) {
            if faultAfterLeaves {
                throw CgroupError(code: .writeFailed, operation: "write the cgroup v1 limits (fault injected for testing)",
                                  path: made.first?.directory ?? path.joined(separator: "/"), errno: Errno(ECANCELED), fix: "")
            }
            if let unified = made.first(where: \.isUnified), !v2Controllers.isEmpty {
                for c in v2Controllers.sorted() {
                    do throws(CgroupError) {
                        try Self.enableV2Controller(c, mountPoint: unified.target.mountPoint, leaf: unified.directory)
                        v2Enforcing.insert(c)
                    } catch {
                        if !bestEffort { throw error }
                    }
                }
            }
            for (kind, d) in assignments {
                do throws(CgroupError) {
                    if d == .v2 && !v2Enforcing.contains(kind.controller) {
                        throw CgroupError(code: .enableControllerFailed, operation: "enable the \(kind.controller) controller",
                                          path: unifiedDirectory ?? "", fix: "run `bulkhead doctor`")
                    }
                    newEnforced += try write(kind, limits: limits, driver: d)
                } catch {
                    if bestEffort {
                        newNotEnforced.append(NotEnforcedLimit(limit: kind, reason: error.description))
                    } else {
                        throw error
                    }
                }
            }
        } catch {
            leaves = before
            Self.rollback(made, path: path, shared: shared)
            throw error
        }
        enforced += newEnforced
        notEnforced += newNotEnforced
        self.v2Controllers.formUnion(v2Enforcing)
    }

    enum Driver: Equatable { case v1, v2 }

    /// The v1 name of a v2 controller.
    static func v1Controller(_ v2: String) -> String { v2 == "io" ? "blkio" : v2 }

    static func validate(path: [String]) throws(CgroupError) {
        guard !path.isEmpty else {
            throw CgroupError(code: .invalidArgument, operation: "name the cgroup", path: "",
                              fix: "give at least the leaf's name, e.g. c-<pid>-<starttime>-<n>")
        }
        for part in path {
            if part.isEmpty || part == "." || part == ".." || part.contains("/") || part.contains("\n")
                || part.hasPrefix("cgroup.") || part.utf8.count > 255 {
                throw CgroupError(code: .invalidArgument, operation: "name the cgroup \"\(part)\"",
                                  path: path.joined(separator: "/"),
                                  fix: "use names without '/', not '.', '..' or starting with 'cgroup.'")
            }
        }
    }

    static func driver(for kind: CgroupLimitKind, host: CgroupHost,
                       limits: CgroupLimits) -> Result<Driver, CgroupError> {
        let c = kind.controller
        if let unified = host.unifiedTarget, unified.controllers.contains(c) {
            if unified.writable { return .success(.v2) }
            return .failure(CgroupError(
                code: .controllerUnavailable, operation: "set \(kind.rawValue)", path: unified.baseDirectory, errno: Errno(EACCES),
                fix: "bulkhead cannot create cgroups here; run as root or delegate this subtree to the user (chown); run `bulkhead doctor`"))
        }
        if let t = host.v1Target(for: v1Controller(c)) {
            if kind == .memoryHigh {
                return .failure(CgroupError(
                    code: .controllerUnavailable, operation: "set memory.high", path: t.baseDirectory,
                    fix: "cgroup v1 has no memory.high (soft_limit_in_bytes means something else); use memoryMax, or a cgroup v2 host"))
            }
            if kind == .memorySwapMax && limits.memoryMax == nil {
                return .failure(CgroupError(
                    code: .controllerUnavailable, operation: "set a swap limit without a memory limit", path: t.baseDirectory,
                    fix: "cgroup v1 limits memory+swap together (memory.memsw.limit_in_bytes); also set memoryMax"))
            }
            if t.writable { return .success(.v1) }
            return .failure(CgroupError(
                code: .controllerUnavailable, operation: "set \(kind.rawValue)", path: t.baseDirectory, errno: Errno(EACCES),
                fix: "bulkhead cannot create cgroups in the v1 \(t.hierarchy) hierarchy (its base must be writable by the caller, owned by the caller or root, and writable by no one else); run as root, or chown \(t.baseDirectory) to the user (never a base root shares)"))
        }
        let place = host.unifiedTarget.map { $0.mountPoint + "/cgroup.controllers" } ?? "/proc/self/mountinfo"
        return .failure(CgroupError(
            code: .controllerUnavailable, operation: "set \(kind.rawValue)", path: place,
            fix: "the \(c) controller is neither offered by cgroup2 nor mounted as a v1 hierarchy on this host; run `bulkhead doctor`"))
    }

    /// mkdir -p base/path…; the leaf itself must be new. A missing parent (ENOENT) is
    /// retried: another launcher's cleanup may have pruned a shared ancestor meanwhile.
    /// Returns the leaf and the topmost directory this call made (`Leaf.madeFrom`). On a throw
    /// the directories it made are removed again (deepest first; one another launcher made a
    /// child in meanwhile stays, EBUSY): a failed mkdir -p leaves nothing behind.
    static func makeLeaf(base: String, path: [String], allowExisting: Bool = false) throws(CgroupError) -> (leaf: String, madeFrom: String?) {
        // The ancestors usually exist (launchers keep them): one mkdir(2) instead of one per level.
        let leaf = base + "/" + path.joined(separator: "/")
        switch CgroupFS.makeDirectory(leaf) {
        case .success(true): return (leaf, leaf)
        case .success(false) where allowExisting: return (leaf, nil)
        default: break
        }
        var madeHere: [String] = []
        func undo() { for d in madeHere.sorted(by: { $0.utf8.count > $1.utf8.count }) { _ = CgroupFS.removeDirectory(d) } }
        var attempt = 0
        while true {
            attempt += 1
            var dir = base
            var retry = false
            for (i, part) in ([nil] + path.map(Optional.some)).enumerated() {
                if let part { dir += "/" + part }
                let isLeaf = i == path.count
                switch CgroupFS.makeDirectory(dir) {
                case .success(let created):
                    if created { madeHere.append(dir) }
                    if isLeaf && !created && !allowExisting {
                        undo()
                        throw CgroupError(code: .createFailed, operation: "create the sandbox cgroup", path: dir, errno: Errno(EEXIST),
                                          fix: "the leaf already exists: choose a new name (CgroupLeafName) or remove the stale one (`bulkhead gc`)")
                    }
                case .failure(let e) where e.rawValue == ENOENT && attempt < 5:
                    retry = true
                case .failure(let e):
                    undo()
                    throw CgroupError(code: .createFailed, operation: "create a cgroup directory", path: dir, errno: e,
                                      fix: e.rawValue == EACCES || e.rawValue == EPERM
                                          ? "run as root, or delegate the subtree to this user (chown); run `bulkhead doctor`"
                                          : "run `bulkhead doctor`")
                }
                if retry { break }
            }
            if !retry { return (dir, madeHere.min(by: { $0.utf8.count < $1.utf8.count })) }
        }
    }

    /// Enables `controller` in the cgroup.subtree_control of every ancestor of `leaf` from
    /// the cgroup2 root down, where it is not yet enabled (a controller reaches a cgroup
    /// only if every ancestor enables it for its children).
    /// OCI `linux.resources.hugepageLimits` on the container's cgroups (`directories`, its
    /// leaves): hugetlb.SIZE.limit_in_bytes in the v1 hugetlb hierarchy, else hugetlb.SIZE.max in
    /// the cgroup2 leaf (the controller enabled from the hierarchy's root down first). No
    /// hugetlb controller, or no file for a size (a page size this kernel lacks): refused, named.
    public static func writeHugepageLimits(_ limits: [(pageSize: String, bytes: UInt64)], directories: [String], host: CgroupHost) throws(CgroupError) {
        guard !limits.isEmpty else { return }
        func leaf(_ hierarchy: (CgroupTarget) -> Bool) -> (String, CgroupTarget)? {
            for d in directories {
                if let t = host.targets.filter({ d.hasPrefix($0.mountPoint + "/") }).max(by: { $0.mountPoint.count < $1.mountPoint.count }), hierarchy(t) { return (d, t) }
            }
            return nil
        }
        let dir: String, suffix: String
        if let (d, _) = leaf({ $0.hierarchy != "unified" && $0.controllers.contains("hugetlb") }) {
            (dir, suffix) = (d, "limit_in_bytes")
        } else if let (d, t) = leaf({ $0.hierarchy == "unified" }),
                  t.controllers.contains("hugetlb") {
            try enableV2Controller("hugetlb", mountPoint: t.mountPoint, leaf: d)
            (dir, suffix) = (d, "max")
        } else {
            throw CgroupError(code: .controllerUnavailable, operation: "set linux.resources.hugepageLimits", path: directories.first ?? "",
                              errno: Errno(ENOENT), fix: "this host has no hugetlb controller (v1: mount the hugetlb hierarchy; v2: hugetlb in cgroup.controllers); remove hugepageLimits or run on a host with it")
        }
        for l in limits {
            let file = dir + "/hugetlb.\(l.pageSize).\(suffix)"
            guard CgroupFS.exists(file) else {
                throw CgroupError(code: .controllerUnavailable, operation: "set the \(l.pageSize) huge page limit", path: file, errno: Errno(ENOENT),
                                  fix: "this kernel has no \(l.pageSize) huge pages (see /sys/kernel/mm/hugepages); use a size it has")
            }
            try writeLimit(file, String(l.bytes), controller: "hugetlb")
        }
    }

    static func enableV2Controller(_ controller: String, mountPoint: String, leaf: String) throws(CgroupError) {
        let relative = leaf.dropFirst(mountPoint.count).split(separator: "/").map(String.init)
        var dir = mountPoint
        for part in relative {
            let file = dir + "/cgroup.subtree_control"
            if !CgroupHost.readControllers(file).contains(controller) {
                if case .failure(let e) = CgroupFS.write(file, "+" + controller) {
                    let fix: String
                    switch e.rawValue {
                    case EBUSY:
                        fix = "\(dir) holds processes, and cgroup v2 forbids enabling controllers for the children of a cgroup with processes; move them to a leaf, or run bulkhead from a delegated cgroup whose processes live in a child"
                    case ENOENT, EINVAL:
                        fix = "the \(controller) controller is not available in \(dir)/cgroup.controllers (bound to a v1 hierarchy?); run `bulkhead doctor`"
                    default:
                        fix = "the \(controller) controller is not enabled in \(file); run `bulkhead doctor`"
                    }
                    throw CgroupError(code: .enableControllerFailed, operation: "enable +\(controller)", path: file,
                                      errno: e, fix: fix)
                }
            }
            dir += "/" + part
        }
    }

    static func rollback(_ leaves: [Leaf], path: [String], shared: Bool = false) {
        if shared {
            for leaf in leaves.reversed() { _ = CgroupFS.removeDirectory(leaf.directory) }
            return
        }
        for leaf in leaves.reversed() {
            _ = removeTree(leaf.directory)
            pruneAncestors(of: leaf.directory, base: leaf.pruneBase)
        }
    }

    // MARK: - Update

    /// OCI `update`: writes `limits` into a live container's leaves (`directories`, as its state
    /// records them; each must lie in one of `host`'s hierarchies), with the drivers and files
    /// `create` uses. On v1, a memory limit keeps the container's swap allowance (memsw minus
    /// the limit) unless swap is given, and memsw is written first when the limit grows (the
    /// kernel wants memsw >= the limit at every step). Returns what was written.
    /// Transactional: every file's value is read before it is written; when a write fails,
    /// those written before it get their old values back, in reverse order, and the error says
    /// which write failed (its errno and fix) and whether the cgroup is as it was.
    public static func update(directories: [String], host: CgroupHost, limits given: CgroupLimits) throws(CgroupError) -> [EnforcedLimit] {
        try given.validate()
        let journal = WriteJournal()
        do throws(CgroupError) {
            return try update(directories: directories, host: host, limits: given, journal: journal)
        } catch {
            throw journal.rollBack(after: error)
        }
    }

    static func update(directories: [String], host: CgroupHost, limits given: CgroupLimits, journal: WriteJournal) throws(CgroupError) -> [EnforcedLimit] {
        var leaves: [Leaf] = []
        for d in directories {
            guard let t = host.targets.filter({ d.hasPrefix($0.mountPoint + "/") }).max(by: { $0.mountPoint.count < $1.mountPoint.count }) else {
                throw CgroupError(code: .invalidArgument, operation: "find the hierarchy of the container's cgroup", path: d,
                                  fix: "the state names a cgroup outside this host's hierarchies; `delete --force` the container")
            }
            try validate(path: d.dropFirst(t.mountPoint.count + 1).split(separator: "/").map(String.init))
            leaves.append(Leaf(target: t, directory: d))
        }
        let cg = SandboxCgroup(path: [], leaves: leaves, enforced: [], notEnforced: [], v2Controllers: [], cloneIntoFD: nil)
        var limits = given
        func number(_ file: String) -> UInt64? { (try? CgroupFS.read(file).get()).flatMap { UInt64($0.filter { !$0.isWhitespace }) } }
        if let mem = limits.memoryMax, case .success(.v1) = driver(for: .memoryMax, host: host, limits: limits),
           let leaf = cg.leaf(.v1, controller: "memory"), let memsw = number(leaf.directory + "/memory.memsw.limit_in_bytes"),
           let current = number(leaf.directory + "/memory.limit_in_bytes") {
            if limits.memorySwapMax == nil, memsw >= current, memsw < (1 << 62) { limits.memorySwapMax = memsw - current }
            if let swap = limits.memorySwapMax, mem > current {
                let (sum, over) = mem.addingReportingOverflow(swap)
                try writeLimit(leaf.directory + "/memory.memsw.limit_in_bytes", over ? "-1" : String(sum), controller: "memory", journal: journal)
            }
        }
        var enforced: [EnforcedLimit] = []
        for kind in limits.requested {
            let d: Driver
            switch driver(for: kind, host: host, limits: limits) {
            case .success(let x): d = x
            case .failure(let e): throw e
            }
            if d == .v2, let unified = leaves.first(where: \.isUnified) {
                try enableV2Controller(kind.controller, mountPoint: unified.target.mountPoint, leaf: unified.directory)
            }
            enforced += try cg.write(kind, limits: limits, driver: d, journal: journal)
        }
        return enforced
    }

    // MARK: - Limits

    /// Every directory from bulkhead's `base` down to `dir` (a v1 cpuset cgroup) gets its
    /// parent's cpus and mems where it has none. Only bulkhead's own directories are written.
    static func inheritV1Cpuset(_ dir: String, base: String, journal: WriteJournal? = nil) throws(CgroupError) {
        var parent = String(base[..<(base.lastIndex(of: "/") ?? base.startIndex)])
        func value(_ file: String) -> String { String(((try? CgroupFS.read(file).get()) ?? "").filter { !$0.isWhitespace }) }
        for part in dir.dropFirst(parent.count).split(separator: "/") {
            let child = parent + "/" + part
            for file in ["cpuset.cpus", "cpuset.mems"] where value(child + "/" + file).isEmpty {
                try writeLimit(child + "/" + file, value(parent + "/" + file), controller: "cpuset", journal: journal)
            }
            parent = child
        }
    }

    private func leaf(_ driver: Driver, controller: String) -> Leaf? {
        switch driver {
        case .v2: leaves.first(where: \.isUnified)
        case .v1: leaves.first { !$0.isUnified && $0.target.controllers.contains(Self.v1Controller(controller)) }
        }
    }

    /// Writes one limit with its driver; returns what was enforced.
    private func write(_ kind: CgroupLimitKind, limits l: CgroupLimits, driver: Driver, journal: WriteJournal? = nil) throws(CgroupError) -> [EnforcedLimit] {
        guard let leaf = leaf(driver, controller: kind.controller) else {
            throw CgroupError(code: .controllerUnavailable, operation: "set \(kind.rawValue)", path: path.joined(separator: "/"),
                              fix: "no writable hierarchy carries the \(kind.controller) controller; run `bulkhead doctor`")
        }
        let dir = leaf.directory
        let kindOf: CgroupDriverKind = driver == .v2 ? .v2 : .v1
        func put(_ file: String, _ value: String) throws(CgroupError) -> EnforcedLimit {
            try Self.writeLimit(dir + "/" + file, value, controller: kind.controller, journal: journal)
            return EnforcedLimit(limit: kind, value: value, driver: kindOf, file: dir + "/" + file)
        }
        switch (kind, driver) {
        case (.cpuMax, .v2):
            let quota = l.cpuQuotaMicros.map(String.init) ?? "max"
            return [try put("cpu.max", "\(quota) \(l.cpuPeriodMicros ?? 100_000)")]
        case (.cpuMax, .v1):
            // The period first: the kernel checks the quota against the current period.
            let periodMicros = l.cpuPeriodMicros ?? 100_000
            let period = try put("cpu.cfs_period_us", String(periodMicros))
            // v1 refuses (EINVAL) a quota whose rate exceeds an ancestor's; v2 accepts it and
            // enforces the ancestor's. Write what v2 would enforce: a container at 1 CPU in a
            // pod of 500m gets the pod's 500m.
            var quotaMicros = l.cpuQuotaMicros
            if let q = quotaMicros, let cap = Self.v1AncestorCPURate(above: dir, mountPoint: leaf.target.mountPoint),
               Double(q) / Double(periodMicros) > cap {
                // The rate comes from files: a conversion that cannot fit keeps the asked quota.
                quotaMicros = max(1000, Checked.uint64(cap * Double(periodMicros)) ?? q)
            }
            let quota = try put("cpu.cfs_quota_us", quotaMicros.map(String.init) ?? "-1")
            return [quota, period]
        case (.cpuWeight, .v2):
            return [try put("cpu.weight", String(l.cpuWeight!))]
        case (.cpuWeight, .v1):
            return [try put("cpu.shares", String(CgroupConversions.cpuShares(fromWeight: l.cpuWeight!)))]
        case (.memoryMax, .v2):
            return [try put("memory.max", String(l.memoryMax!))]
        case (.memoryMax, .v1):
            return [try put("memory.limit_in_bytes", String(l.memoryMax!))]
        case (.memoryHigh, .v2):
            return [try put("memory.high", String(l.memoryHigh!))]
        case (.memorySwapMax, .v2):
            return [try put("memory.swap.max", String(l.memorySwapMax!))]
        case (.memorySwapMax, .v1):
            // memsw counts memory + swap, and must be written after limit_in_bytes
            // (the kernel requires memsw >= the memory limit at every step).
            guard CgroupFS.exists(dir + "/memory.memsw.limit_in_bytes") else {
                throw CgroupError(code: .controllerUnavailable, operation: "set the swap limit",
                                  path: dir + "/memory.memsw.limit_in_bytes", errno: Errno(ENOENT),
                                  fix: "swap accounting is off; boot with swapaccount=1 or use a cgroup v2 host")
            }
            let (sum, overflow) = l.memoryMax!.addingReportingOverflow(l.memorySwapMax!)
            return [try put("memory.memsw.limit_in_bytes", overflow ? "-1" : String(sum))]
        case (.cpusetCPUs, .v2):
            let pinned = try put("cpuset.cpus", l.cpusetCPUs!)
            try Self.checkEffectiveCPUs(dir, file: "cpuset.cpus.effective", asked: l.cpusetCPUs!)
            return [pinned]
        case (.cpusetCPUs, .v1):
            // A v1 cpuset cgroup starts with empty cpus and mems, and takes no task until both
            // are set: every directory from the hierarchy's root down gets its parent's where
            // it has none (shared ancestors included), then the leaf gets the CPUs asked for.
            // Only bulkhead's own directories (its base and below) are written.
            try Self.inheritV1Cpuset(dir, base: leaf.target.baseDirectory, journal: journal)
            let pinned = try put("cpuset.cpus", l.cpusetCPUs!)
            if CgroupFS.exists(dir + "/cpuset.effective_cpus") {
                try Self.checkEffectiveCPUs(dir, file: "cpuset.effective_cpus", asked: l.cpusetCPUs!)
            }
            return [pinned]
        case (.pidsMax, _):
            return [try put("pids.max", String(l.pidsMax!))]
        case (.ioWeight, .v2):
            return [try put("io.weight", "default \(l.ioWeight!)")]
        case (.ioWeight, .v1):
            let v1 = String(CgroupConversions.blkioWeight(fromIOWeight: l.ioWeight!))
            for file in ["blkio.weight", "blkio.bfq.weight"] where CgroupFS.exists(dir + "/" + file) {
                return [try put(file, v1)]
            }
            throw CgroupError(code: .controllerUnavailable, operation: "set the IO weight", path: dir + "/blkio.weight",
                              errno: Errno(ENOENT), fix: "this kernel's blkio controller has no proportional weight (it needs the BFQ scheduler); use ioMax, or a cgroup v2 host with io.weight")
        case (.ioMax, .v2):
            var done: [EnforcedLimit] = []
            for entry in l.ioMax { done.append(try put("io.max", entry.v2Line)) }
            return done
        case (.ioMax, .v1):
            var done: [EnforcedLimit] = []
            for e in l.ioMax {
                let device = "\(e.major):\(e.minor)"
                let pairs: [(String, UInt64?)] = [
                    ("blkio.throttle.read_bps_device", e.readBytesPerSecond),
                    ("blkio.throttle.write_bps_device", e.writeBytesPerSecond),
                    ("blkio.throttle.read_iops_device", e.readIOPerSecond),
                    ("blkio.throttle.write_iops_device", e.writeIOPerSecond),
                ]
                for (file, value) in pairs { if let value { done.append(try put(file, "\(device) \(value)")) } }
            }
            return done
        case (.memoryHigh, .v1):
            throw CgroupError(code: .controllerUnavailable, operation: "set memory.high", path: dir,
                              fix: "cgroup v1 has no memory.high; use memoryMax, or a cgroup v2 host")
        }
    }

    /// cgroup v2 takes in `cpuset.cpus` any CPU the host has, and grants the cgroup only those
    /// its parent grants too (all of the parent's when none is left): the CPUs granted
    /// (`cpuset.cpus.effective`; v1's `cpuset.effective_cpus`) must be the ones asked for, or the
    /// launch stops here rather than run the workload on CPUs it did not ask for.
    static func checkEffectiveCPUs(_ dir: String, file: String, asked: String) throws(CgroupError) {
        func cpus(_ path: String) -> [UInt32]? {
            guard case .success(let text) = CgroupFS.read(path),
                  case .success(let list) = FieldRules.cpuList(String(text.filter { !$0.isWhitespace })) else { return nil }
            return list
        }
        let path = dir + "/" + file
        guard let want = try? FieldRules.cpuList(asked).get() else {
            throw CgroupError(code: .invalidArgument, operation: "pin the sandbox to CPUs \(asked.prefix(64))", path: path,
                              fix: "give a CPU list such as 0-3,6")
        }
        let granted = cpus(path)
        guard granted != want else { return }
        let parent = String(dir[..<(dir.lastIndex(of: "/") ?? dir.endIndex)])
        let parentCPUs = cpus(parent + "/" + file).map(FieldRules.cpuListText) ?? "unknown"
        throw CgroupError(code: .writeFailed,
                          operation: "pin the sandbox to CPUs \(FieldRules.cpuListText(want)): \(file) grants \(granted.map(FieldRules.cpuListText) ?? "nothing readable")",
                          path: path,
                          fix: "the parent cgroup \(parent) grants only CPUs \(parentCPUs) (its \(file)): ask for CPUs among them (--cpuset-cpus, resources.cpusetCpus), or widen the parent's cpuset.cpus")
    }

    /// The tightest CPU rate (quota / period) of the v1 cgroups above `dir`, up to the
    /// hierarchy's mount point; nil when none has a quota.
    static func v1AncestorCPURate(above dir: String, mountPoint: String) -> Double? {
        var rate: Double?
        var current = dir
        while let slash = current.lastIndex(of: "/"), current.count > mountPoint.count {
            current = String(current[..<slash])
            guard current.hasPrefix(mountPoint) else { break }
            // The period only where there is a quota (-1, the default, is none): half the reads.
            // Parsed by `CgroupStatParser.singleValue` (-1 is `.max`), not Foundation's
            // trimming, whose first use cost this launch-path function a scan of the binary's
            // conformance records (about a third of a millisecond).
            guard case .success(let q) = CgroupFS.read(current + "/cpu.cfs_quota_us"),
                  case .value(let quota)? = CgroupStatParser.singleValue(q), quota > 0,
                  case .success(let p) = CgroupFS.read(current + "/cpu.cfs_period_us"),
                  case .value(let period)? = CgroupStatParser.singleValue(p), period > 0 else { continue }
            rate = min(rate ?? .infinity, Double(quota) / Double(period))
        }
        return rate
    }

    /// - Parameter journal: `update`'s: the file's value is read first (a file that cannot be
    ///   read is not written) and recorded once the write succeeded.
    static func writeLimit(_ file: String, _ value: String, controller: String, journal: WriteJournal? = nil) throws(CgroupError) {
        var restore: String?
        if journal != nil {
            switch CgroupFS.read(file) {
            case .success(let old): restore = WriteJournal.restoreValue(file: file, old: old, written: value)
            case .failure(let e):
                throw CgroupError(code: .writeFailed, operation: "read \(file.split(separator: "/").last.map(String.init) ?? file) before changing it",
                                  path: file, errno: e, fix: "nothing was written to it; run `bulkhead doctor`")
            }
        }
        guard case .failure(let e) = CgroupFS.write(file, value) else {
            if let journal, let restore { journal.entries.append((file, restore)) }
            return
        }
        let name = file.split(separator: "/").last.map(String.init) ?? file
        let fix: String
        switch e.rawValue {
        case ENOENT:
            fix = "\(name) does not exist: the \(controller) controller is not enabled for this cgroup (check the parent's cgroup.subtree_control); run `bulkhead doctor`"
        case EACCES, EPERM:
            fix = "run as root, or delegate the cgroup subtree to this user (chown)"
        case EINVAL, ERANGE:
            fix = "the kernel rejected the value \"\(value)\"; check the limit's unit and range"
        case EBUSY:
            fix = "the value conflicts with the current usage or a related limit (e.g. memsw below the memory limit)"
        default:
            fix = "run `bulkhead doctor`"
        }
        throw CgroupError(code: .writeFailed, operation: "write \(name)", path: file, errno: e, fix: fix)
    }

    // MARK: - Members

    /// Moves `pid` into this cgroup in every hierarchy (writes it to each leaf's
    /// cgroup.procs). The launcher calls this before it lets the child execve.
    public func attach(pid: Int32) throws(CgroupError) {
        guard !removed else {
            throw CgroupError(code: .alreadyRemoved, operation: "attach pid \(pid)", path: path.joined(separator: "/"),
                              fix: "create a new SandboxCgroup")
        }
        for leaf in leaves {
            let file = leaf.directory + "/cgroup.procs"
            if case .failure(let e) = CgroupFS.write(file, String(pid)) {
                throw CgroupError(code: .attachFailed, operation: "move pid \(pid) into the cgroup", path: file, errno: e,
                                  fix: e.rawValue == ESRCH ? "the process has exited"
                                      : "the caller needs write access to cgroup.procs of the common ancestor; run as root or from inside the delegated subtree")
            }
        }
    }

    /// The `tasks` file of every v1 leaf, opened for writing (close-on-exec), for a child that
    /// joins them itself (`ChildSpawner.spawn(cgroupJoinFDs:)`): a thread that writes "0" there
    /// moves itself without the kernel's global threadgroup lock (Linux 6.0), which `attach(pid:)`
    /// takes and whose write side waits for an RCU grace period, milliseconds on a busy host. The
    /// kernel checks the write against the credentials of this open (cgroup-v1.c), so a child in
    /// a user namespace may use them. The caller owns the fds. Empty on a pure cgroup v2 host.
    public func openJoinFiles() throws(CgroupError) -> [Int32] {
        guard !removed else {
            throw CgroupError(code: .alreadyRemoved, operation: "open the cgroup's tasks files", path: path.joined(separator: "/"),
                              fix: "create a new SandboxCgroup")
        }
        var fds: [Int32] = []
        for leaf in leaves where !leaf.isUnified {
            let file = leaf.directory + "/tasks"
            let fd = open(file, O_WRONLY | O_CLOEXEC)
            if fd < 0 {
                let e = errno
                for f in fds { close(f) }
                throw CgroupError(code: .attachFailed, operation: "open the cgroup's tasks file", path: file, errno: Errno(e),
                                  fix: "the caller needs write access to the sandbox's cgroup; run as root or from inside the delegated subtree")
            }
            fds.append(fd)
        }
        return fds
    }

    /// The pids in this cgroup (any hierarchy, including nested child cgroups).
    public func memberPIDs() -> Set<Int32> {
        var pids: Set<Int32> = []
        for leaf in leaves { pids.formUnion(Self.members(ofTree: leaf.directory)) }
        return pids
    }

    /// Kills every process in the cgroup and waits (at most about 2 s) until it is empty.
    /// cgroup2's `cgroup.kill` (Linux 5.14+) where present, which the kernel applies to
    /// every member atomically, including ones forking at that moment; otherwise (v1) a
    /// bounded loop that reads cgroup.procs and sends SIGKILL until nothing is left. A
    /// fork bomb can outrun one round of that loop but not pids.max, so the loop ends.
    /// Returns whether the cgroup is empty.
    @discardableResult
    public func killAll() -> Bool {
        var usedKill = false
        if let unified = leaves.first(where: \.isUnified), CgroupFS.exists(unified.directory + "/cgroup.kill") {
            usedKill = (try? CgroupFS.write(unified.directory + "/cgroup.kill", "1").get()) != nil
        }
        return Self.killLoop(directories: directories, signalFirst: !usedKill)
    }

    /// `killAll()` then `remove(pruneAncestors: false)`, for a cgroup whose processes are
    /// usually gone already (a run's init was reaped, and its PID namespace's end killed every
    /// process in it): cgroup.kill, then one rmdir(2) per leaf. The kernel refuses (EBUSY) to
    /// remove a cgroup that has a member or a nested cgroup, so a leaf rmdir removed was empty;
    /// only when one is refused (or already missing) does the kill loop read the leaves'
    /// members, and `remove()` take them, as `killAll()` and `remove()` do. Saves reading every
    /// leaf's cgroup.procs and directory (seven system calls a leaf) when nothing is left.
    /// Returns whether the cgroup was empty after the kill (`killAll()`'s answer) and what
    /// `remove()` threw.
    public func killAllAndRemove() -> (empty: Bool, removeError: CgroupError?) {
        guard !removed else { return (true, nil) }
        var usedKill = false
        if let unified = leaves.first(where: \.isUnified) {
            // ENOENT: no cgroup.kill (Linux < 5.14); the loop below signals instead.
            usedKill = (try? CgroupFS.write(unified.directory + "/cgroup.kill", "1").get()) != nil
        }
        var left: [Leaf] = []
        for leaf in leaves.reversed() where rmdir(leaf.directory) != 0 { left.append(leaf) }
        if left.isEmpty {
            if let fd = cloneIntoFD {
                close(fd)
                cloneIntoFD = nil
            }
            removed = true
            return (true, nil)
        }
        let empty = Self.killLoop(directories: left.map(\.directory), signalFirst: !usedKill)
        do throws(CgroupError) { try remove(pruneAncestors: false) } catch { return (empty, error) }
        return (empty, nil)
    }

    /// SIGKILL through pidfds: a pid read from cgroup.procs is free again once its member exits,
    /// and a process outside these cgroups may take it before the signal (v1 has no cgroup.kill).
    /// Each pid is opened as a pidfd first and cgroup.procs read again; only a pidfd whose pid is
    /// still listed is signalled, and it is that member or, if the member exited meanwhile,
    /// nothing. In batches of 256 descriptors. `readMembers` is `members(ofTree:)` (tests pass
    /// a racing read).
    /// - Parameter budget: where the loop may stop waiting (a launch's walk with its workload
    ///   already running): checked before each 10 ms wait, never when nothing is left.
    static func killLoop(directories: [String], signalFirst: Bool, budget: WaitBudget? = nil,
                         readMembers: (String) -> Set<Int32> = { SandboxCgroup.members(ofTree: $0) }) -> Bool {
        func listed() -> Set<Int32> { directories.reduce(into: []) { $0.formUnion(readMembers($1)) } }
        for round in 0..<200 {
            let pids = listed()
            if pids.isEmpty { return true }
            if signalFirst || round > 0 {
                let candidates = pids.filter { $0 > 1 && $0 != getpid() }.sorted()
                for start in stride(from: 0, to: candidates.count, by: 256) {
                    let handles = candidates[start..<min(start + 256, candidates.count)]
                        .compactMap { ProcessHandle(pid: $0, checkedBy: { _ in true }) }
                    guard !handles.isEmpty else { continue }
                    let still = listed()
                    for h in handles where still.contains(h.pid) { h.signal(SIGKILL) }
                }
            }
            if budget?.exhausted() == true { return false }
            usleep(10_000)
        }
        return false
    }

    /// The pids listed in cgroup.procs of `dir` and of every cgroup below it.
    static func members(ofTree dir: String) -> Set<Int32> {
        var pids: Set<Int32> = []
        if case .success(let text) = CgroupFS.read(dir + "/cgroup.procs") {
            for line in text.split(separator: "\n") { if let p = Int32(line) { pids.insert(p) } }
        }
        for child in CgroupFS.subdirectories(dir) { pids.formUnion(members(ofTree: dir + "/" + child)) }
        return pids
    }

    // MARK: - Statistics

    /// Reads what the kernel measured. A figure the host does not provide stays nil.
    public func stats() -> CgroupStats {
        var s = CgroupStats()
        let unified = leaves.first(where: \.isUnified)?.directory
        func v1(_ controller: String) -> String? {
            leaves.first { !$0.isUnified && $0.target.controllers.contains(controller) }?.directory
        }
        func read(_ dir: String?, _ file: String) -> String? {
            guard let dir, case .success(let text) = CgroupFS.read(dir + "/" + file) else { return nil }
            return text
        }
        func number(_ dir: String?, _ file: String) -> UInt64? {
            guard let text = read(dir, file), case .value(let v)? = CgroupStatParser.singleValue(text) else { return nil }
            return v
        }

        // Memory: the v2 files only exist where the memory controller is enabled.
        s.memoryPeakBytes = number(unified, "memory.peak") ?? number(v1("memory"), "memory.max_usage_in_bytes")
        if let text = read(unified, "memory.events") {
            s.oomKills = CgroupStatParser.memoryEvents(text).oomKill
        } else if let text = read(v1("memory"), "memory.oom_control") {
            s.oomKills = CgroupStatParser.memoryOOMControl(text).oomKill
        }

        // CPU: cgroup2's cpu.stat always has usage_usec (even without the cpu controller);
        // the bandwidth fields come from whichever hierarchy enforces cpu.
        let v2cpu = read(unified, "cpu.stat").map(CgroupStatParser.cpuStat) ?? CpuStat()
        let v1cpu = read(v1("cpu"), "cpu.stat").map(CgroupStatParser.cpuStat) ?? CpuStat()
        s.cpuUsageMicros = v2cpu.usageMicros ?? number(v1("cpuacct"), "cpuacct.usage").map { $0 / 1000 }
        s.cpuPeriods = v2cpu.periods ?? v1cpu.periods
        s.cpuThrottledPeriods = v2cpu.throttledPeriods ?? v1cpu.throttledPeriods
        s.cpuThrottledMicros = v2cpu.throttledMicros ?? v1cpu.throttledMicros

        // pids: the files exist where the pids controller reaches the leaf (v2: enabled for a
        // pids limit; v1: the pids hierarchy's leaf). pids.peak is Linux 6.1+ on both.
        if let text = read(unified, "pids.events") ?? read(v1("pids"), "pids.events") {
            s.pidsMaxHits = CgroupStatParser.pidsMaxEvents(text)
        }
        s.pidsPeak = number(unified, "pids.peak") ?? number(v1("pids"), "pids.peak")
        return s
    }

    // MARK: - Removal

    /// Removes the leaf in every hierarchy (with any cgroups nested below it), then each
    /// ancestor up to and including bulkhead's base directory that is now empty; an
    /// ancestor that still has children (another sandbox's) stays. rmdir(2) fails with
    /// EBUSY while a member is still exiting, so that is retried for about a second.
    /// Call `killAll()` first.
    /// - Parameter pruneAncestors: also remove emptied shared ancestors (`bulkhead/<tenant>/<pod>`).
    ///   A launcher keeps them (creating and removing them on every run costs milliseconds and
    ///   races with concurrent launches); `collectStale` prunes them.
    public func remove(pruneAncestors: Bool = true) throws(CgroupError) {
        guard !removed else { return }
        if let fd = cloneIntoFD {
            close(fd)
            cloneIntoFD = nil
        }
        var firstError: CgroupError?
        for leaf in leaves.reversed() {
            if case .failure(let e) = Self.removeTree(leaf.directory) {
                firstError = firstError ?? CgroupError(
                    code: .removeFailed, operation: "remove the sandbox cgroup", path: leaf.directory, errno: e,
                    fix: e.rawValue == EBUSY ? "processes are still inside: call killAll() first (members: \(memberPIDs().sorted()))"
                        : "run `bulkhead doctor`")
                continue
            }
            if pruneAncestors { Self.pruneAncestors(of: leaf.directory, base: leaf.pruneBase) }
        }
        if let firstError { throw firstError }
        removed = true
    }

    /// A shared cgroup (a tenant's): removed when no other cgroup or process is left in it,
    /// else kept; one rmdir(2) per hierarchy, never recursive, so another launcher's pod
    /// inside is never touched. The caller holds the lock that orders such launchers.
    public func removeIfUnused() {
        if let fd = cloneIntoFD {
            close(fd)
            cloneIntoFD = nil
        }
        for leaf in leaves.reversed() { _ = CgroupFS.removeDirectory(leaf.directory) }
    }

    /// The pids in `dirs` and in every cgroup below them (cgroups a container made under a "rw"
    /// cgroup mount, or that anything else made there), deduplicated and sorted: a task moved
    /// below its container's cgroup is still the container's.
    public static func treeProcesses(_ dirs: [String]) -> [Int32] {
        var pids = Set<Int32>(), pending = dirs
        while let d = pending.popLast() {
            if case .success(let text) = CgroupFS.read(d + "/cgroup.procs") {
                for line in text.split(separator: "\n") { if let p = Int32(line) { pids.insert(p) } }
            }
            pending += CgroupFS.subdirectories(d).map { d + "/" + $0 }
        }
        return pids.sorted()
    }

    /// rmdir of `dir` after its child cgroups, depth first; ENOENT counts as removed.
    /// The common case, a leaf without child cgroups, is one rmdir(2): the kernel refuses
    /// (EBUSY) to remove a cgroup that has children or members, and only then are the
    /// children looked for (a directory read costs five system calls a leaf).
    /// `budget`: as `killLoop`'s, checked before each retry's wait (EBUSY then).
    public static func removeTree(_ dir: String, budget: WaitBudget? = nil) -> Result<Void, Errno> {
        if rmdir(dir) == 0 { return .success(()) }
        let first = Glibc.errno
        if first == ENOENT { return .success(()) }
        guard first == EBUSY else { return .failure(Errno(first)) }
        for child in CgroupFS.subdirectories(dir) {
            if case .failure(let e) = removeTree(dir + "/" + child, budget: budget) { return .failure(e) }
        }
        for _ in 0..<100 {
            switch CgroupFS.removeDirectory(dir) {
            case .success: return .success(())
            case .failure(let e) where e.rawValue == ENOENT: return .success(())
            case .failure(let e) where e.rawValue == EBUSY:
                if budget?.exhausted() == true { return .failure(e) }
                usleep(10_000)
            case .failure(let e): return .failure(e)
            }
        }
        return .failure(Errno(EBUSY))
    }

    /// rmdir each ancestor of `dir` up to and including `base` until one is still in use.
    static func pruneAncestors(of dir: String, base: String) {
        var current = dir
        while current.count > base.count, let slash = current.lastIndex(of: "/") {
            current = String(current[..<slash])
            guard current.count >= base.count, current.hasPrefix(base) else { return }
            if case .failure(let e) = CgroupFS.removeDirectory(current), e.rawValue != ENOENT { return }
        }
    }
}

/// `SandboxCgroup.update`'s record of what it changed: each file written and the value that
/// puts it back, in the order written.
final class WriteJournal {
    var entries: [(file: String, value: String)] = []

    /// The value that undoes writing `written` to `file` whose content was `old`: the old
    /// content, or for the per-device files (io.max, blkio.throttle.*, io.weight) the old line
    /// of the device written (no line: the kernel's "no limit" for it).
    static func restoreValue(file: String, old: String, written: String) -> String {
        let name = file.split(separator: "/").last.map(String.init) ?? file
        let lines = old.split(separator: "\n").map { $0.trimming(" \t") }
        let key = written.split(separator: " ").first.map(String.init) ?? ""
        if name == "io.max" || name.hasPrefix("blkio.throttle.") || name == "io.weight" {
            if let line = lines.first(where: { $0.hasPrefix(key + " ") }) { return line }
            return name == "io.max" ? key + " rbps=max wbps=max riops=max wiops=max" : key + " 0"
        }
        return old.trimming(" \t\n\r")
    }

    /// Puts back every value written, last first, and returns `error` saying so (or naming
    /// what could not be put back).
    func rollBack(after error: CgroupError) -> CgroupError {
        var failed: [String] = []
        for (file, value) in entries.reversed() {
            if case .failure(let e) = CgroupFS.write(file, value) { failed.append("\(file) (\(e))") }
        }
        var out = error
        let n = entries.count
        entries = []
        if failed.isEmpty {
            out.fix += n == 0 ? "; nothing had been written: the cgroup is as it was"
                : "; the \(n) value\(n == 1 ? "" : "s") written before it \(n == 1 ? "was" : "were") put back: the cgroup is as it was"
        } else {
            out.fix += "; putting back the values written before it failed for \(failed.joined(separator: ", ")): the cgroup is partly updated; `update` again or `delete --force`"
        }
        return out
    }
}
