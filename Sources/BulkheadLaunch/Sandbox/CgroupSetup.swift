import BulkheadModel
import BulkheadSystem
import Glibc
import Synchronization

/// A launcher running several sandboxes (a pod) names each leaf with its own sequence number.
/// Shared by the pod's supervisor threads (one per container): an atomic counter.
package enum LeafSequence {
    private static let value = Atomic<UInt64>(0)

    package static func next() -> UInt64 {
        value.wrappingAdd(1, ordering: .relaxed).oldValue
    }
}

/// Whether io.weight can have an effect on this host.
package enum IOWeightSupport {
    /// nil when some block device uses the BFQ scheduler or iocost is enabled; else the reason.
    package static func unsupportedReason() -> String? {
        HostFacts.IOWeightPolicy.probe().unsupportedReason
    }
}

/// The sandbox's cgroup: limits from the profile; the cgroup2 leaf created before clone3 (the
/// child is born in it), the v1 leaves after (`createDeferredV1`, while the kernel builds the
/// namespaces); measured and removed after the sandbox ends. The tree mirrors the layers: bulkhead/<tenant>/<pod>/<leaf>;
/// a plain `run` uses the tenant and pod "default".
package struct CgroupSetup {
    package let cgroup: SandboxCgroup?
    package private(set) var limits: LimitsReport?
    package let note: String?
    /// For `createDeferredV1`: how the limits were asked for, and what was already known unenforced.
    private var enforcement: LimitEnforcement = .strict
    private var inPod = false
    private var ioWeightIgnored: NotEnforcedLimit?
    /// `create(deferStaleCollection: true)`: the host whose dead launchers' leaves
    /// `collectStale()` still has to collect. Nil once collected (or when nothing is pending).
    private var pendingStaleCollection: CgroupHost?

    package init(cgroup: SandboxCgroup?, limits: LimitsReport?, note: String?) {
        self.cgroup = cgroup; self.limits = limits; self.note = note
    }

    /// /proc/swaps lists a swap area beyond its header line.
    package static var hostHasActiveSwap: Bool {
        (FileIO.read("/proc/swaps") ?? "").split(separator: "\n").count > 1
    }

    /// Creates the sandbox's cgroup and writes the launch's limits (`PreparedLaunch.cgroupLimits`,
    /// decided from the profile in `Sandbox.prepare`). Throws when a requested limit cannot be
    /// enforced (strict) or the cgroup cannot be created. Without limits no cgroup is made, except
    /// in a pod (`pod` is the pod's cgroup path): a pod's container always gets its leaf under
    /// the pod's cgroup, whose limits and whose tenant's quota bound it, and a container that
    /// cannot get one does not start.
    /// `fixedPath`: an OCI container's own cgroup (bulkhead/oci/<id>), made whether or not it
    /// has limits (`kill --all`, `delete` and the caller's statistics need it) and named so that
    /// `collectStale` never takes it for a dead launcher's: the creating process exits at once.
    /// `fromHierarchyRoot`: `fixedPath` is an OCI `linux.cgroupsPath`, taken from the root of
    /// every hierarchy (as runc does) rather than under bulkhead's subtree.
    /// `deferV1`: on a host with cgroup v1 hierarchies, only the cgroup2 leaf is made here; the
    /// v1 leaves and their limits are `createDeferredV1`'s, after clone3.
    /// `rootlessOptional`: an OCI container created without root (as runc rootless): with no
    /// limits asked and no cgroup it may create (EACCES, EPERM, EROFS: nothing delegated to this
    /// user), it runs in no cgroup of its own; with limits asked that is refused, naming the
    /// cgroup, the errno and the fix (delegate a cgroup, or ask for no limits).
    package static func create(_ prepared: PreparedLaunch, pod: [String]? = nil, fixedPath: [String]? = nil,
                       fromHierarchyRoot: Bool = false, deferV1: Bool = false, rootlessOptional: Bool = false,
                       deferStaleCollection: Bool = false) throws(LaunchError) -> CgroupSetup {
        var wanted = prepared.cgroupLimits
        let asked = !wanted.requested.isEmpty
        let enforcement = prepared.profile.enforcement
        // io.weight is only a number in a file unless a proportional I/O policy reads it (BFQ
        // on the device, or iocost): never report it as enforced when nothing enforces it.
        var ioWeightIgnored: NotEnforcedLimit?
        if wanted.ioWeight != nil, let why = IOWeightSupport.unsupportedReason() {
            if enforcement == .strict {
                throw LaunchError(operation: "enforce io.weight: \(why)",
                                  hint: "use --io-max for a hard bound, or pass --limits best-effort")
            }
            wanted.ioWeight = nil
            ioWeightIgnored = NotEnforcedLimit(limit: .ioWeight, reason: why)
        }
        var setup = try createCgroup(wanted, asked: asked, enforcement: enforcement, pod: pod, fixedPath: fixedPath,
                                     fromHierarchyRoot: fromHierarchyRoot, deferV1: deferV1, rootlessOptional: rootlessOptional,
                                     deferStaleCollection: deferStaleCollection)
        if let ignored = ioWeightIgnored, var l = setup.limits {
            l.notEnforced.append(ignored)
            setup.limits = l
        }
        setup.enforcement = enforcement
        setup.inPod = pod != nil || fixedPath != nil
        setup.ioWeightIgnored = ioWeightIgnored
        return setup
    }

    /// How many cgroup v1 `tasks` files the child will be sent (`ChildSpawner.spawn(cgroupJoinCount:)`).
    package var deferredV1Count: Int { cgroup?.deferredV1Count ?? 0 }

    /// After clone3, before the child's `.joinCgroups` step: the v1 leaves and their limits
    /// (`SandboxCgroup.createDeferredV1`), then the report's limits again. A failure is the
    /// launch's (strict limits, or a pod's container); the caller kills the child and `finish()`
    /// removes every leaf. `fault`: `.cgroupLeaves` fails before any v1 leaf is made,
    /// `.cgroupLimits` once they exist and before their limits are written.
    package mutating func createDeferredV1(fault: FaultPoint?) throws(LaunchError) {
        guard let cg = cgroup, cg.deferredV1Count > 0 else { return }
        do throws(CgroupError) {
            if fault == .cgroupLeaves {
                throw CgroupError(code: .createFailed, operation: "create the cgroup v1 leaves (fault injected for testing)",
                                  path: cg.path.joined(separator: "/"), errno: Errno(ECANCELED), fix: "")
            }
            try cg.createDeferredV1(faultAfterLeaves: fault == .cgroupLimits)
        } catch {
            throw LaunchError("set up the sandbox's cgroup v1 leaves after clone3", wrapping: error,
                              hint: inPod ? "a pod's container runs only inside its pod's cgroup; run `bulkhead doctor`"
                                  : "or pass --limits best-effort to run without the limits that cannot be enforced")
        }
        guard var l = limits else { return }
        l = Self.report(enforcement, cg, notEnforcedAll: nil, reason: nil)
        if let ignored = ioWeightIgnored { l.notEnforced.append(ignored) }
        limits = l
    }

    private static func createCgroup(_ wanted: CgroupLimits, asked: Bool, enforcement: LimitEnforcement,
                                     pod: [String]?, fixedPath: [String]? = nil, fromHierarchyRoot: Bool = false,
                                     deferV1: Bool, rootlessOptional: Bool = false, deferStaleCollection: Bool = false) throws(LaunchError) -> CgroupSetup {
        // Without limits there is no cgroup: the PID namespace's teardown already kills every
        // process of the sandbox, and getrusage reports its CPU time and peak memory. A cgroup
        // would only add the cost of creating, joining (slow on v1) and removing it. A pod's
        // container is the exception: outside the pod's cgroup it would escape the pod's limits
        // and its tenant's quota (pids ceiling included), so it needs its leaf, limits or not.
        let inPod = pod != nil || fixedPath != nil
        guard asked || inPod else { return CgroupSetup(cgroup: nil, limits: nil, note: "no cgroup limits requested") }
        let bestEffort = enforcement == .bestEffort
        var host: CgroupHost
        do {
            host = try CgroupHost.detect()
        } catch {
            if rootlessOptional && !asked { return CgroupSetup(cgroup: nil, limits: nil, note: "no cgroup (rootless): \(error)") }
            if inPod || (asked && !bestEffort) { throw LaunchError("detect the host's cgroups", wrapping: error, hint: "run `bulkhead doctor`") }
            return CgroupSetup(cgroup: nil, limits: asked ? report(enforcement, nil, notEnforcedAll: wanted, reason: "\(error)") : nil,
                               note: "no cgroup: \(error)")
        }
        // Leftovers of launchers that were killed are collected in the hierarchies this caller
        // can write (where its own leaves go; `bulkhead gc` looks everywhere): here, before the
        // new leaf, or (`deferStaleCollection`) by `collectStale()` after clone3. The new leaf's
        // name is this live launcher's, so the collection never takes it, whenever it runs.
        // Not for an OCI container (`fixedPath`): it makes no launcher's leaf, and its walk of
        // bulkhead's tree in every hierarchy was about 200 system calls of each `create` (issue
        // 13); the next `run` or `pod run` collects, and `bulkhead gc`.
        if !deferStaleCollection && fixedPath == nil { SandboxCgroup.collectStale(host: host, writableOnly: true) }
        if fromHierarchyRoot, let path = fixedPath {
            // The OCI cgroupsPath: from each hierarchy's root (its components were checked by
            // OCIConfig and are checked again by SandboxCgroup.validate: no "." or ".."); a
            // cgroup that exists or sits below one with processes is never the container's.
            if let why = SandboxCgroup.foreignPlacement(host: host, path: path) {
                throw LaunchError(operation: "place the container's cgroup at linux.cgroupsPath: \(why)",
                                  hint: "give linux.cgroupsPath a new path of its own (e.g. /k8s.io/<container id>), or none for bulkhead/oci/<id>")
            }
            for i in host.targets.indices {
                host.targets[i].baseDirectory = host.targets[i].mountPoint
                host.targets[i].writable = access(host.targets[i].mountPoint, W_OK) == 0
            }
        }
        guard let leaf = CgroupLeafName.forCurrentProcess(sequence: LeafSequence.next()) else {
            throw LaunchError(operation: "name the sandbox's cgroup (read /proc/self/stat)")
        }
        do {
            let cg = try SandboxCgroup.create(host: host, path: fixedPath ?? ((pod ?? ["default", "default"]) + [leaf.description]),
                                              limits: wanted, bestEffort: bestEffort, deferV1: deferV1,
                                              everyHierarchy: fixedPath != nil)
            var setup = CgroupSetup(cgroup: cg, limits: asked ? report(enforcement, cg, notEnforcedAll: nil, reason: nil) : nil, note: nil)
            if deferStaleCollection { setup.pendingStaleCollection = host }
            return setup
        } catch {
            if deferStaleCollection { SandboxCgroup.collectStale(host: host, writableOnly: true) }
            let noAccess = [EACCES, EPERM, EROFS].contains(error.errno?.rawValue ?? 0)
            if rootlessOptional && noAccess {
                // runc rootless: no cgroup of its own when nothing is delegated and nothing asked.
                guard asked else { return CgroupSetup(cgroup: nil, limits: nil, note: "no cgroup (rootless, nothing delegated): \(error.description)") }
                throw LaunchError("set up the container's cgroup (linux.resources sets limits, and without root a cgroup is needed to enforce them)", wrapping: error,
                                  hint: "delegate a cgroup to this user (systemd-run --user --scope -p Delegate=yes, or chown a cgroup2 subtree to it and run from inside it), or remove linux.resources from config.json")
            }
            if inPod || (asked && !bestEffort) {
                throw LaunchError("set up the sandbox's cgroup", wrapping: error,
                                  hint: inPod ? "a pod's container runs only inside its pod's cgroup; run `bulkhead doctor`"
                                      : "or pass --limits best-effort to run without the limits that cannot be enforced")
            }
            return CgroupSetup(cgroup: nil, limits: asked ? report(enforcement, nil, notEnforcedAll: wanted, reason: error.description) : nil,
                               note: "no cgroup: \(error.description)")
        }
    }

    /// The collection `create(deferStaleCollection: true)` left for later, once: the leaves of
    /// dead launchers in the hierarchies this caller can write (`SandboxCgroup.collectStale`).
    /// A `run` calls it after the v1 leaves were sent to the init, while the init mounts and
    /// the workload starts, and again (a no-op then) before `finish()`.
    /// `stop`: the workload already runs and the launcher does not poll meanwhile, so a wait for a
    /// stuck leaf ends when it says so (its deadline passed, a signal came); the walk is then
    /// left pending, and the call without `stop` after the workload ended finishes it.
    package mutating func collectStale(stop: (() -> Bool)? = nil) {
        guard let host = pendingStaleCollection else { return }
        if let stop {
            if SandboxCgroup.collectStale(host: host, writableOnly: true, stop: stop) { pendingStaleCollection = nil }
            return
        }
        pendingStaleCollection = nil
        SandboxCgroup.collectStale(host: host, writableOnly: true)
    }

    /// The report's `limits`: what `cg` enforced, or without a cgroup every limit of
    /// `notEnforcedAll` as not enforced, for `reason`.
    package static func report(_ enforcement: LimitEnforcement, _ cg: SandboxCgroup?, notEnforcedAll: CgroupLimits?, reason: String?) -> LimitsReport {
        guard let cg else {
            let kinds = notEnforcedAll?.requested ?? []
            return LimitsReport(enforcement: enforcement.rawValue, driver: nil, enforced: [],
                                notEnforced: kinds.map { NotEnforcedLimit(limit: $0, reason: reason ?? "no cgroup") })
        }
        let drivers = Set(cg.enforced.map(\.driver.rawValue)).sorted()
        return LimitsReport(enforcement: enforcement.rawValue, driver: drivers.isEmpty ? nil : drivers.joined(separator: "+"),
                            enforced: cg.enforced, notEnforced: cg.notEnforced)
    }

    /// Statistics, then kill whatever is left and remove the cgroup. Every exit path of the
    /// supervisor ends here.
    package func finish() -> CgroupReport {
        guard let cg = cgroup else { return CgroupReport(path: nil, directories: [], stats: nil, note: note) }
        let stats = cg.stats()
        var problem: String?
        let (empty, removeError) = cg.killAllAndRemove()
        if !empty { problem = "processes remained in the cgroup after SIGKILL" }
        if let removeError { problem = "cannot remove the cgroup: \(removeError.description)" }
        return CgroupReport(path: "bulkhead/" + cg.path.joined(separator: "/"), directories: cg.directories, stats: stats, note: problem)
    }
}
