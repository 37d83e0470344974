/// The rules for every number a user gives bulkhead (profiles, Pod manifests, Tenants and
/// ResourceQuotas, the command line), in one place: the unit, the accepted range, and the
/// refusal that names that range. A value outside its range is refused where it is parsed,
/// with a `ConfigError` that names the field; nothing downstream ever sees it, so that the
/// arithmetic done on it later (cgroup quotas, sums over containers and pods, rates) stays
/// far from overflow. The launcher runs as root: a trap there (Swift's overflow check) kills
/// it mid-setup and leaves state behind.
public struct NumberField: Sendable {
    public enum Unit: Sendable {
        /// Thousandths: `500m`, `1.5`, `2` (CPU).
        case milli
        /// A Kubernetes quantity in whole units: `256Mi`, `1G`, `1e6`, `128`.
        case quantity
        /// Plain decimal digits only (ids).
        case digits
    }
    enum Format: Sendable { case milli, bytes, plain }

    /// What the field takes, with examples: "a CPU quantity such as 500m, 1 or 1.5".
    public let what: String
    public let unit: Unit
    public let range: ClosedRange<UInt64>
    /// Why the lower bound is what it is (appended to a refusal below it).
    let lowReason: String?
    /// Why the upper bound is what it is (appended to a refusal above it).
    let highReason: String?
    let format: Format

    init(_ what: String, _ unit: Unit, _ range: ClosedRange<UInt64>, format: Format,
         lowReason: String? = nil, highReason: String? = nil) {
        self.what = what; self.unit = unit; self.range = range; self.format = format
        self.lowReason = lowReason; self.highReason = highReason
    }

    // MARK: the bounds

    /// 1,000,000 CPUs in thousandths. cpu.max's quota is milli × 100 µs per 100 ms, at most
    /// 10^11 µs here, under the kernel's own bound (2^44 µs), and a sum over a million such
    /// limits still fits in 64 bits.
    public static let maxCPUMilli: UInt64 = 1_000_000_000
    /// 4 EiB: beyond any machine, and a sum of four such values still fits in 64 bits.
    public static let maxBytes: UInt64 = 1 << 62
    /// The kernel's PID_MAX_LIMIT: no pids.max above it means anything.
    public static let maxPids: UInt64 = 4_194_304
    /// The most pods a quota may count.
    public static let maxPods: UInt64 = 1_000_000
    /// The largest uid or gid: 4294967295 is (uid_t)-1, which setresuid reads as "unchanged".
    public static let maxID: UInt64 = UInt64(UInt32.max) - 1

    // MARK: the fields

    public static let cpu = NumberField(
        "a CPU quantity such as 500m, 1 or 1.5", .milli, 10...maxCPUMilli, format: .milli,
        lowReason: "the smallest enforceable share (10m: cpu.max needs a quota of at least 1 ms per 100 ms)",
        highReason: "1000000 CPUs")
    public static let memory = NumberField(
        "a memory quantity such as 256Mi or 1Gi", .quantity, (4 << 20)...maxBytes, format: .bytes,
        lowReason: "too small to start a process", highReason: "4Ei")
    /// ephemeral-storage, tmpfs and emptyDir sizes.
    public static let storage = NumberField(
        "a size such as 64Mi", .quantity, 1...maxBytes, format: .bytes, highReason: "4Ei")
    public static let pids = NumberField(
        "a number of processes such as 256", .quantity, 2...maxPids, format: .plain,
        lowReason: "the sandbox's init and the workload", highReason: "the kernel's PID_MAX_LIMIT")
    /// A ResourceQuota's limits.cpu (0 allows no pod with a CPU limit).
    public static let quotaCPU = NumberField(
        "a CPU quantity such as 2 or 1500m", .milli, 0...maxCPUMilli, format: .milli, highReason: "1000000 CPUs")
    public static let quotaMemory = NumberField(
        "a memory quantity such as 4Gi", .quantity, 0...maxBytes, format: .bytes, highReason: "4Ei")
    public static let quotaPods = NumberField(
        "a number of pods", .quantity, 0...maxPods, format: .plain)
    public static let quotaPids = NumberField(
        "a number of processes", .quantity, 0...maxPids, format: .plain, highReason: "the kernel's PID_MAX_LIMIT")
    /// The CNI bandwidth plugin's rates (kubernetes.io/ingress-bandwidth, egress-bandwidth),
    /// in bits per second. The kubelet's ExtractPodBandwidthResources takes 1k to 1P; the
    /// upper bound here is what the node's token bucket can hold: its queue limit (25 ms at
    /// the rate plus a 20 ms burst, NodeNetwork.bucket) is 32 bits, which ends near 763G.
    public static let maxBandwidth: UInt64 = 700_000_000_000
    public static let bandwidth = NumberField(
        "a bandwidth in bits per second as a quantity such as 10M (10 Mbit/s)", .quantity,
        1000...maxBandwidth, format: .plain,
        lowReason: "unreasonably small (< 1kbit/s, the kubelet's lower bound)",
        highReason: "unreasonably large: a token bucket's queue limit of 45 ms at the rate must fit in 32 bits")
    /// io.max rbps/wbps.
    public static let ioBytesPerSecond = NumberField(
        "bytes per second such as 10M", .quantity, 1...maxBytes, format: .plain, highReason: "4Ei per second")
    /// io.max riops/wiops (the kernel keeps them in 32 bits).
    public static let ioPerSecond = NumberField(
        "operations per second such as 1000", .quantity, 1...UInt64(UInt32.max), format: .plain,
        highReason: "the kernel keeps io.max iops in 32 bits")
    /// io.weight (cgroup-v2.rst: 1 to 10000): a profile's `resources.io.weight`, `--io-weight`.
    public static let ioWeight = NumberField(
        "a relative I/O weight such as 100", .digits, 1...10000, format: .plain,
        highReason: "the kernel's io.weight range")
    /// A uid or gid.
    public static let id = NumberField(
        "a numeric uid or gid", .digits, 0...maxID, format: .plain,
        highReason: "4294967295 is (uid_t)-1, which set*id calls read as \"unchanged\"")

    // MARK: parsing

    public struct Refusal: Error, Sendable, Equatable {
        public var message: String
        package init(message: String) { self.message = message }
    }

    public func formatted(_ v: UInt64) -> String {
        switch format {
        case .milli: Quantity.formatMilli(v)
        case .bytes: Quantity.formatBytes(v)
        case .plain: "\(v)"
        }
    }

    /// The accepted range in the field's own notation: "10m to 1000000".
    public var rangeText: String { "\(formatted(range.lowerBound)) to \(formatted(range.upperBound))" }

    /// The value, or a refusal naming the accepted range. Never traps.
    public func parse(_ text: String) -> Result<UInt64, Refusal> {
        let shown = text.count > 64 ? String(text.prefix(64)) + "…" : text
        let value: UInt64?
        switch unit {
        case .milli: value = Quantity.milli(text)
        case .quantity: value = Quantity.integer(text)
        case .digits: value = !text.isEmpty && text.utf8.allSatisfy { (48...57).contains($0) } ? UInt64(text) : nil
        }
        guard let value else {
            return .failure(Refusal(message: "expected \(what); accepted: \(rangeText), got \"\(shown)\""))
        }
        if value < range.lowerBound {
            return .failure(Refusal(message: "\(shown) is below the minimum: it must be at least \(formatted(range.lowerBound))"
                + (lowReason.map { " (\($0))" } ?? "") + "; accepted: \(rangeText)"))
        }
        if value > range.upperBound {
            return .failure(Refusal(message: "\(shown) is above the maximum: it must be at most \(formatted(range.upperBound))"
                + (highReason.map { " (\($0))" } ?? "") + "; accepted: \(rangeText)"))
        }
        return .success(value)
    }


    /// The sum of values of this field, or nil when it leaves the field's range (or 64 bits).
    public func sum(_ values: some Sequence<UInt64>) -> UInt64? {
        var total: UInt64 = 0
        for v in values {
            let (s, o) = total.addingReportingOverflow(v)
            guard !o, s <= range.upperBound else { return nil }
            total = s
        }
        return total
    }
}

/// Durations: `--timeout` (`500ms`, `10s`, `2m`, `1h`, or plain seconds), kept as seconds.
public enum DurationField {
    /// 1 ms to 2^32 - 1 s (136 years, activeDeadlineSeconds' bound): the supervisor turns the
    /// remaining time into poll(2) milliseconds and a monotonic deadline, both far from overflow.
    public static let maxSeconds: UInt64 = UInt64(UInt32.max)
    public static let range: ClosedRange<Double> = 0.001...Double(maxSeconds)
    public static let rangeText = "1ms to 4294967295s"

    public static func seconds(_ text: String) -> Result<Double, NumberField.Refusal> {
        let shown = text.count > 64 ? String(text.prefix(64)) + "…" : text
        let units: [(String, Double)] = [("ms", 0.001), ("s", 1), ("m", 60), ("h", 3600)]
        var number = Substring(text), scale = 1.0
        if let (suffix, s) = units.first(where: { text.hasSuffix($0.0) }) {
            number = number.dropLast(suffix.count); scale = s
        }
        // Digits and one dot only: no sign, exponent, "nan", "inf" or hex float.
        let digitsAndDot = number.utf8.allSatisfy { (48...57).contains($0) || $0 == UInt8(ascii: ".") }
        guard !number.isEmpty, digitsAndDot, number.utf8.filter({ $0 == UInt8(ascii: ".") }).count <= 1,
              let v = Double(number), v.isFinite else {
            return .failure(NumberField.Refusal(message: "expected a duration such as 500ms, 10s or 2m; accepted: \(rangeText), got \"\(shown)\""))
        }
        let seconds = v * scale
        guard seconds.isFinite, range.contains(seconds) else {
            return .failure(NumberField.Refusal(message: "\(shown) is out of range; accepted: \(rangeText)"))
        }
        return .success(seconds)
    }
}

/// Conversions that trap in Swift when the value does not fit, made total: nil instead.
public enum Checked {
    /// `Double` → `UInt64`, rounding down; nil for NaN, infinities, negatives and values of
    /// 2^64 or more (where `UInt64(_:)` traps).
    public static func uint64(_ d: Double) -> UInt64? {
        guard d.isFinite, d >= 0 else { return nil }
        return UInt64(exactly: d.rounded(.down))
    }

    /// `a × b`, nil on overflow.
    public static func product(_ a: UInt64, _ b: UInt64) -> UInt64? {
        let (p, o) = a.multipliedReportingOverflow(by: b)
        return o ? nil : p
    }

    /// `a + b`, nil on overflow.
    public static func sum(_ a: UInt64, _ b: UInt64) -> UInt64? {
        let (s, o) = a.addingReportingOverflow(b)
        return o ? nil : s
    }
}
