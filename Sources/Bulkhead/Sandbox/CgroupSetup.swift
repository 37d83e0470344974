import BulkheadModel
import BulkheadSystem
import Glibc
import Synchronization

/// A launcher running several sandboxes (a pod) names each leaf with its own sequence number.
/// Shared by the pod's supervisor threads (one per container): an atomic counter.
enum LeafSequence {
    private static let value = Atomic<UInt64>(0)

    static func next() -> UInt64 {
        value.wrappingAdd(1, ordering: .relaxed).oldValue
    }
}

/// Whether io.weight can have an effect on this host.
enum IOWeightSupport {
    /// nil when some block device uses the BFQ scheduler or iocost is enabled; else the reason.
    static func unsupportedReason() -> String? {
        HostFacts.IOWeightPolicy.probe().unsupportedReason
    }
}

/// The sandbox's cgroup: limits from the profile, created before clone3, measured and
/// removed after the sandbox ends. The tree mirrors the layers: bulkhead/<tenant>/<pod>/<leaf>;
/// a plain `run` uses the tenant and pod "default".
struct CgroupSetup {
    let cgroup: SandboxCgroup?
    let limits: LimitsReport?
    let note: String?

    /// /proc/swaps lists a swap area beyond its header line.
    static var hostHasActiveSwap: Bool {
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
    static func create(_ prepared: PreparedLaunch, pod: [String]? = nil, fixedPath: [String]? = nil,
                       fromHierarchyRoot: Bool = false) throws(LaunchError) -> CgroupSetup {
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
                                     fromHierarchyRoot: fromHierarchyRoot)
        if let ignored = ioWeightIgnored, var l = setup.limits {
            l.notEnforced.append(ignored)
            setup = CgroupSetup(cgroup: setup.cgroup, limits: l, note: setup.note)
        }
        return setup
    }

    private static func createCgroup(_ wanted: CgroupLimits, asked: Bool, enforcement: LimitEnforcement,
                                     pod: [String]?, fixedPath: [String]? = nil, fromHierarchyRoot: Bool = false) throws(LaunchError) -> CgroupSetup {
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
            if inPod || (asked && !bestEffort) { throw LaunchError("detect the host's cgroups", wrapping: error, hint: "run `bulkhead doctor`") }
            return CgroupSetup(cgroup: nil, limits: asked ? report(enforcement, nil, notEnforcedAll: wanted, reason: "\(error)") : nil,
                               note: "no cgroup: \(error)")
        }
        // Leftovers of launchers that were killed are collected before a new leaf is made.
        SandboxCgroup.collectStale(host: host)
        if fromHierarchyRoot {
            // The OCI cgroupsPath: from each hierarchy's root (its components were checked by
            // OCIConfig and are checked again by SandboxCgroup.validate: no "." or "..").
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
                                              limits: wanted, bestEffort: bestEffort, everyHierarchy: fixedPath != nil)
            return CgroupSetup(cgroup: cg, limits: asked ? report(enforcement, cg, notEnforcedAll: nil, reason: nil) : nil, note: nil)
        } catch {
            if inPod || (asked && !bestEffort) {
                throw LaunchError("set up the sandbox's cgroup", wrapping: error,
                                  hint: inPod ? "a pod's container runs only inside its pod's cgroup; run `bulkhead doctor`"
                                      : "or pass --limits best-effort to run without the limits that cannot be enforced")
            }
            return CgroupSetup(cgroup: nil, limits: asked ? report(enforcement, nil, notEnforcedAll: wanted, reason: error.description) : nil,
                               note: "no cgroup: \(error.description)")
        }
    }

    /// The report's `limits`: what `cg` enforced, or without a cgroup every limit of
    /// `notEnforcedAll` as not enforced, for `reason`.
    static func report(_ enforcement: LimitEnforcement, _ cg: SandboxCgroup?, notEnforcedAll: CgroupLimits?, reason: String?) -> LimitsReport {
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
    func finish() -> CgroupReport {
        guard let cg = cgroup else { return CgroupReport(path: nil, directories: [], stats: nil, note: note) }
        let stats = cg.stats()
        var problem: String?
        if !cg.killAll() { problem = "processes remained in the cgroup after SIGKILL" }
        do { try cg.remove(pruneAncestors: false) } catch { problem = "cannot remove the cgroup: \(error.description)" }
        return CgroupReport(path: "bulkhead/" + cg.path.joined(separator: "/"), directories: cg.directories, stats: stats, note: problem)
    }
}
