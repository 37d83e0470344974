import BulkheadModel
/// The bench's statistics: medians, percentiles and a percentile-bootstrap interval of the
/// median, computed with a fixed-seed generator so that one report's windows always give the
/// same interval. Pure: no clock, no system randomness.
public enum BenchStatistics {
    /// The seed every interval of a report is drawn with (reproducible from its JSON).
    public static let seed: UInt64 = 0x0B0B_5EED_2026_0018
    /// Bootstrap resamples per interval.
    public static let resamples = 2000
    /// The interval's coverage.
    public static let confidence = 0.95

    /// The median of the finite values, or nil when there are none.
    public static func median(_ values: [Double]) -> Double? {
        let s = values.filter(\.isFinite).sorted()
        guard !s.isEmpty else { return nil }
        return percentile(sorted: s, 0.5)
    }

    /// The `p` quantile (0...1) of sorted, non-empty values, interpolating linearly between
    /// order statistics (Hyndman and Fan's type 7, what R and NumPy use by default).
    public static func percentile(sorted s: [Double], _ p: Double) -> Double {
        precondition(!s.isEmpty, "percentile of no values")
        let q = min(1, max(0, p.isFinite ? p : 0.5))
        let h = Double(s.count - 1) * q
        let lo = Int(h.rounded(.down))
        let hi = min(s.count - 1, lo + 1)
        return s[lo] + (h - Double(lo)) * (s[hi] - s[lo])
    }

    /// The percentile-bootstrap interval of the median: `resamples` resamples of the values
    /// with replacement, the median of each, and the (1−c)/2 and (1+c)/2 quantiles of those.
    /// One value gives the degenerate interval [v, v]; none (or none finite) gives nil.
    /// With few values the interval is about their range (for 3 to 5 values exactly the
    /// smallest and the largest): the honest width of so few rounds.
    public static func bootstrapMedianInterval(_ values: [Double], confidence: Double = confidence,
                                               resamples: Int = resamples, seed: UInt64 = seed) -> ClosedRange<Double>? {
        let x = values.filter(\.isFinite)
        guard !x.isEmpty else { return nil }
        guard x.count > 1 else { return x[0]...x[0] }
        var rng = BenchRandom(seed: seed)
        var medians: [Double] = []
        medians.reserveCapacity(max(1, resamples))
        var sample = [Double](repeating: 0, count: x.count)
        for _ in 0..<max(1, resamples) {
            for i in 0..<x.count { sample[i] = x[Int(rng.next(below: UInt64(x.count)))] }
            sample.sort()
            medians.append(percentile(sorted: sample, 0.5))
        }
        medians.sort()
        let c = min(1, max(0, confidence))
        let low = percentile(sorted: medians, (1 - c) / 2), high = percentile(sorted: medians, (1 + c) / 2)
        return low...high
    }
}

/// SplitMix64 (Steele, Lea and Flood 2014): a small generator whose sequence depends on its
/// seed alone, so a bootstrap interval is the same on every machine and every run.
public struct BenchRandom: RandomNumberGenerator, Sendable {
    private var state: UInt64

    public init(seed: UInt64) { state = seed }

    public mutating func next() -> UInt64 {
        state &+= 0x9E37_79B9_7F4A_7C15
        var z = state
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }

    /// A uniform value in 0..<bound (bound > 0), without modulo bias (Lemire's method).
    public mutating func next(below bound: UInt64) -> UInt64 {
        precondition(bound > 0, "next(below: 0)")
        var m = next().multipliedFullWidth(by: bound)
        if m.low < bound {
            let t = (0 &- bound) % bound
            while m.low < t { m = next().multipliedFullWidth(by: bound) }
        }
        return m.high
    }
}

/// Which side of its band a "can" or "cannot" claim needs the victim's ratio on.
public enum BenchBandSide: String, Codable, Sendable {
    /// A "can": the victim keeps at least the band (loaded or contained over baseline ≥ band).
    case atLeast = "at-least"
    /// A "cannot": the victim falls to the band or below (loaded over baseline ≤ band).
    case atMost = "at-most"
}

/// Where a ratio's interval lies against its band.
public enum BenchIntervalPosition: String, Codable, Sendable {
    /// Wholly on the side the claim needs.
    case confirms
    /// Wholly on the other side.
    case refutes
    /// Across the band: the rounds do not decide.
    case straddles
}

/// A cell's victim ratio over its rounds: each round's loaded (or contained) window over the
/// same round's baseline window, their median and the bootstrap interval of that median.
public struct BenchRatioSummary: Codable, Sendable, Equatable {
    /// The victim measurement the ratio is of ("victim work rate").
    public var metric: String
    /// The phase divided by the baseline: loaded (a "cannot") or contained (a "can").
    public var phase: BenchPhase
    /// One ratio per round, in round order (rounds whose windows reported nothing are left out).
    public var ratios: [Double]
    /// Rounds that gave a ratio.
    public var rounds: Int
    public var median: Double
    /// The interval's ends (equal to the median for one round).
    public var low: Double
    public var high: Double
    public var confidence: Double
    public var band: Double
    public var side: BenchBandSide

    /// The summary of per-round ratios, or nil when no round gave a finite ratio.
    public init?(metric: String, phase: BenchPhase, ratios: [Double], band: Double, side: BenchBandSide) {
        let r = ratios.filter(\.isFinite)
        guard let m = BenchStatistics.median(r), let ci = BenchStatistics.bootstrapMedianInterval(r) else { return nil }
        self.metric = metric; self.phase = phase; self.ratios = r; rounds = r.count
        median = m; low = ci.lowerBound; high = ci.upperBound
        confidence = BenchStatistics.confidence; self.band = band; self.side = side
    }

    /// The interval against the band: a claim is confirmed only by an interval wholly on its side.
    public var position: BenchIntervalPosition {
        switch side {
        case .atLeast: low >= band ? .confirms : high < band ? .refutes : .straddles
        case .atMost: high <= band ? .confirms : low > band ? .refutes : .straddles
        }
    }

    /// "96% [91–101%]"; one round: "96%".
    public var text: String {
        rounds > 1 ? "\(BenchFormat.percent(median)) [\(BenchFormat.percentNumber(low))–\(BenchFormat.percent(high))]"
                   : BenchFormat.percent(median)
    }
}
