import BulkheadModel

/// The resource limits of one cgroup, in kernel units. Every field is optional: `nil`
/// means "leave the kernel's default" (no limit).
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
        return kinds
    }

    /// The kernel's bound on a CFS quota (kernel/sched/core.c max_cfs_runtime: 2^44 - 1 µs).
    public static let maxCPUQuotaMicros: UInt64 = (1 << 44) - 1

    /// Rejects values the kernel would reject, before any directory is created.
    public func validate() throws(CgroupError) {
        func invalid(_ what: String, _ fix: String) -> CgroupError {
            CgroupError(code: .invalidArgument, operation: "set \(what)", path: "", fix: fix)
        }
        if let p = cpuPeriodMicros, !(1_000...1_000_000).contains(p) {
            throw invalid("cpu period \(p)µs", "the CFS period must be between 1000 and 1000000 µs")
        }
        if let q = cpuQuotaMicros, q < 1_000 {
            throw invalid("cpu quota \(q)µs", "the CFS quota must be at least 1000 µs")
        }
        if let q = cpuQuotaMicros, q > Self.maxCPUQuotaMicros {
            throw invalid("cpu quota \(q)µs", "the CFS quota must be at most \(Self.maxCPUQuotaMicros) µs (the kernel's max_cfs_runtime)")
        }
        if let w = cpuWeight, !(1...10_000).contains(w) {
            throw invalid("cpu weight \(w)", "cpu.weight must be between 1 and 10000")
        }
        if let w = ioWeight, !(1...10_000).contains(w) {
            throw invalid("io weight \(w)", "io.weight must be between 1 and 10000")
        }
        if let p = pidsMax, p < 1 {
            throw invalid("pids.max \(p)", "pids.max must be at least 1")
        }
        for e in ioMax where e.readBytesPerSecond == nil && e.writeBytesPerSecond == nil
            && e.readIOPerSecond == nil && e.writeIOPerSecond == nil {
            throw invalid("io.max for \(e.major):\(e.minor)", "give at least one of rbps, wbps, riops, wiops")
        }
    }

    /// The controllers these limits need (v2 names: cpu, memory, pids, io).
    public var controllers: Set<String> {
        Set(requested.map(\.controller))
    }
}

/// One device's line of io.max: the model's `IOThrottle` (one type for the profile, the
/// command line and the driver).
public typealias IOMaxEntry = IOThrottle

/// The kinds of limit, named by their cgroup v2 file.
public enum CgroupLimitKind: String, Sendable, Codable, CaseIterable {
    case cpuMax = "cpu.max"
    case cpuWeight = "cpu.weight"
    case memoryMax = "memory.max"
    case memoryHigh = "memory.high"
    case memorySwapMax = "memory.swap.max"
    case pidsMax = "pids.max"
    case ioWeight = "io.weight"
    case ioMax = "io.max"

    /// The controller that enforces this limit (the v2 name; v1 calls io "blkio").
    public var controller: String {
        switch self {
        case .cpuMax, .cpuWeight: "cpu"
        case .memoryMax, .memoryHigh, .memorySwapMax: "memory"
        case .pidsMax: "pids"
        case .ioWeight, .ioMax: "io"
        }
    }
}

/// Which cgroup version enforced a limit.
public enum CgroupDriverKind: String, Sendable, Codable {
    case v1
    case v2
}

/// A limit that the kernel now enforces: what, the value written, by which driver, where.
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

/// A requested limit that was not enforced (only with best effort), and why.
public struct NotEnforcedLimit: Sendable, Equatable, Codable {
    public var limit: CgroupLimitKind
    public var reason: String

    public init(limit: CgroupLimitKind, reason: String) {
        self.limit = limit
        self.reason = reason
    }
}

/// Conversions between the v2 values bulkhead takes and the v1 files.
public enum CgroupConversions {
    /// cpu.weight (1...10000) → v1 cpu.shares (2...262144).
    ///
    /// The inverse of the shares→weight mapping runc (opencontainers/cgroups#20, runc
    /// 1.3.2) and crun (containers/crun#1767) adopted in 2025:
    /// `weight = ⌈10^((L² + 125·L)/612 − 7/34)⌉` with `L = log2(shares)`, which maps
    /// 2→1, 1024→100 (the two defaults) and 262144→10000. Solving the quadratic for L
    /// gives exact inverses at those anchors, so the default weight 100 is the default
    /// 1024 shares (the older linear formula mapped 1024 shares to weight 39).
    public static func cpuShares(fromWeight weight: UInt64) -> UInt64 {
        let w = Double(min(max(weight, 1), 10_000))
        let c = 612.0 * (log10(w) + 7.0 / 34.0)
        let l = (-125.0 + (125.0 * 125.0 + 4.0 * c).squareRoot()) / 2.0
        let shares = pow(2.0, l).rounded()
        return UInt64(min(max(shares, 2), 262_144))
    }

    /// io.weight (1...10000) → v1 blkio.weight (10...1000), linearly as runc and crun
    /// convert in the other direction (`1 + (blkio − 10) · 9999 / 990`).
    public static func blkioWeight(fromIOWeight weight: UInt64) -> UInt64 {
        let w = min(max(weight, 1), 10_000)
        return 10 + (w - 1) * 990 / 9999
    }
}

#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#endif
