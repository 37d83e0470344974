import BulkheadModel

/// What the kernel would refuse in a `CgroupLimits` (the value itself is the model's: pure
/// data, computed from the profile before any process exists).
extension CgroupLimits {
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
