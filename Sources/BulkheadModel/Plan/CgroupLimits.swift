/// The resource limits of one cgroup, in kernel units: decided before any process exists
/// (`CgroupLimits(profile:boundSwap:)`, carried in `PreparedLaunch`), written by
/// BulkheadSystem's `SandboxCgroup.create`, which applies a value and computes none. Every
/// field is optional: `nil` means "leave the kernel's default" (no limit).
public struct CgroupLimits: Sendable, Equatable {
    /// CPU bandwidth: at most `cpuQuotaMicros` of CPU time per `cpuPeriodMicros`
    /// (v2 cpu.max, v1 cpu.cfs_quota_us + cpu.cfs_period_us). A quota without a period
    /// uses the kernel's default period of 100 ms.
    public var cpuQuotaMicros: UInt64?
    public var cpuPeriodMicros: UInt64?
    /// Relative CPU share, 1...10000 (v2 cpu.weight; default 100). On v1 it becomes
    /// cpu.shares by `CgroupConversions.cpuShares(fromWeight:)`.
    public var cpuWeight: UInt64?
    /// Hard memory limit in bytes (v2 memory.max, v1 memory.limit_in_bytes).
    public var memoryMax: UInt64?
    /// Memory throttling threshold in bytes (v2 memory.high; v1 has no equivalent).
    public var memoryHigh: UInt64?
    /// Swap limit in bytes, swap only (v2 memory.swap.max). On v1 it becomes
    /// memory.memsw.limit_in_bytes = memoryMax + memorySwapMax, which needs memoryMax.
    public var memorySwapMax: UInt64?
    /// Maximum number of tasks (pids.max).
    public var pidsMax: UInt64?
    /// Relative IO share, 1...10000 (v2 io.weight; v1 blkio.weight / blkio.bfq.weight
    /// where the host has them, mapped to 10...1000).
    public var ioWeight: UInt64?
    /// Per-device IO limits (v2 io.max, v1 blkio.throttle.*_device).
    public var ioMax: [IOMaxEntry]
    /// The CPUs, as a cpuset list (`0-1,3`): v2 cpuset.cpus; v1 cpuset.cpus, with cpuset.mems
    /// (and every ancestor's empty pair) copied from the parent.
    public var cpusetCPUs: String? = nil

    public init(
        cpuQuotaMicros: UInt64? = nil, cpuPeriodMicros: UInt64? = nil, cpuWeight: UInt64? = nil,
        memoryMax: UInt64? = nil, memoryHigh: UInt64? = nil, memorySwapMax: UInt64? = nil,
        pidsMax: UInt64? = nil, ioWeight: UInt64? = nil, ioMax: [IOMaxEntry] = []
    ) {
        self.cpuQuotaMicros = cpuQuotaMicros
        self.cpuPeriodMicros = cpuPeriodMicros
        self.cpuWeight = cpuWeight
        self.memoryMax = memoryMax
        self.memoryHigh = memoryHigh
        self.memorySwapMax = memorySwapMax
        self.pidsMax = pidsMax
        self.ioWeight = ioWeight
        self.ioMax = ioMax
    }

    /// The limits that are set, in the order the drivers apply them.
    public var requested: [CgroupLimitKind] {
        var kinds: [CgroupLimitKind] = []
        if cpuQuotaMicros != nil || cpuPeriodMicros != nil { kinds.append(.cpuMax) }
        if cpuWeight != nil { kinds.append(.cpuWeight) }
        if memoryMax != nil { kinds.append(.memoryMax) }
        if memoryHigh != nil { kinds.append(.memoryHigh) }
        if memorySwapMax != nil { kinds.append(.memorySwapMax) }
        if pidsMax != nil { kinds.append(.pidsMax) }
        if ioWeight != nil { kinds.append(.ioWeight) }
        if !ioMax.isEmpty { kinds.append(.ioMax) }
        if cpusetCPUs != nil { kinds.append(.cpusetCPUs) }
        return kinds
    }

    /// The controllers these limits need (v2 names: cpu, memory, pids, io).
    public var controllers: Set<String> {
        Set(requested.map(\.controller))
    }

    /// The kernel's bound on a CFS quota (kernel/sched/core.c max_cfs_runtime: 2^44 - 1 µs).
    public static let maxCPUQuotaMicros: UInt64 = (1 << 44) - 1
}

// MARK: - From the profile and the manifests (pure)

extension CgroupLimits {
    /// A sandbox's limits: its effective profile's `resources` and `io`.
    /// - Parameter boundSwap: with a memory limit, bound swap to 0 (see `init(limits:requests:boundSwap:)`).
    public init(profile p: EffectiveProfile, boundSwap: Bool) {
        self.init(limits: p.limits, requests: p.requests, boundSwap: boundSwap)
        ioWeight = p.ioWeight
        ioMax = p.ioMax
        // memorySwap is memory plus swap (docker's --memory-swap); resolve checked it is at
        // least the memory limit. Unlimited leaves swap unbounded.
        if let total = p.memorySwapBytes {
            memorySwapMax = total == .max ? nil : memoryMax.map { total - $0 }
        }
        cpusetCPUs = p.cpusetCPUs.map(FieldRules.cpuListText)
    }

    /// The cgroup values of `resources.limits` and `resources.requests` (a container's, a
    /// pod's sum, or a tenant's quota: `QuotaLimits.tenantCgroupLimits`).
    /// - Parameter boundSwap: Kubernetes runs containers without swap: with a memory limit,
    ///   swap is bounded to 0 so that memory.max is the whole bound. The caller passes true only
    ///   where swap is active on the host; without it there is nothing to bound (and hosts
    ///   without swap accounting would fail for nothing).
    public init(limits: ResourceSpec, requests: ResourceSpec = ResourceSpec(), boundSwap: Bool) {
        self.init()
        if let milli = limits.cpuMilli {
            // cpu.max "QUOTA PERIOD": 1000m is one full period of 100 ms.
            cpuPeriodMicros = 100_000
            // The parsers bound milli (NumberField.maxCPUMilli); beyond 64 bits the quota is
            // UInt64.max, which validate() refuses by name instead of trapping here.
            cpuQuotaMicros = Checked.product(milli, 100) ?? UInt64.max
        }
        if let milli = requests.cpuMilli {
            // requests.cpu becomes a relative weight the way the kubelet and runc map it:
            // shares = milli * 1024 / 1000, then weight = 1 + (shares - 2) * 9999 / 262142.
            let shares = max(2, min(262_144, (Checked.product(milli, 1024) ?? UInt64.max) / 1000))
            cpuWeight = 1 + (shares - 2) * 9999 / 262_142
        }
        memoryMax = limits.memoryBytes
        if memoryMax != nil && boundSwap { memorySwapMax = 0 }
        pidsMax = limits.pids
    }
}

/// One device's line of io.max: the model's `IOThrottle` (one type for the profile, the
/// command line and the driver).
public typealias IOMaxEntry = IOThrottle

/// The kinds of limit, named by their cgroup v2 file (the report's `limit`).
public enum CgroupLimitKind: String, Sendable, Codable, CaseIterable {
    case cpuMax = "cpu.max"
    case cpuWeight = "cpu.weight"
    case memoryMax = "memory.max"
    case memoryHigh = "memory.high"
    case memorySwapMax = "memory.swap.max"
    case pidsMax = "pids.max"
    case ioWeight = "io.weight"
    case ioMax = "io.max"
    case cpusetCPUs = "cpuset.cpus"

    /// The controller that enforces this limit (the v2 name; v1 calls io "blkio").
    public var controller: String {
        switch self {
        case .cpuMax, .cpuWeight: "cpu"
        case .memoryMax, .memoryHigh, .memorySwapMax: "memory"
        case .pidsMax: "pids"
        case .ioWeight, .ioMax: "io"
        case .cpusetCPUs: "cpuset"
        }
    }
}

/// Which cgroup version enforced a limit (the report's `driver`).
public enum CgroupDriverKind: String, Sendable, Codable {
    case v1
    case v2
}

/// A limit that the kernel now enforces: what, the value written, by which driver, where.
/// What `SandboxCgroup` returns and what the report's `limits.enforced` lists.
public struct EnforcedLimit: Sendable, Equatable, Codable {
    public var limit: CgroupLimitKind
    public var value: String
    public var driver: CgroupDriverKind
    public var file: String

    public init(limit: CgroupLimitKind, value: String, driver: CgroupDriverKind, file: String) {
        self.limit = limit
        self.value = value
        self.driver = driver
        self.file = file
    }
}

/// A requested limit that was not enforced (only with best effort), and why: the report's
/// `limits.notEnforced`.
public struct NotEnforcedLimit: Sendable, Equatable, Codable {
    public var limit: CgroupLimitKind
    public var reason: String

    public init(limit: CgroupLimitKind, reason: String) {
        self.limit = limit
        self.reason = reason
    }
}
