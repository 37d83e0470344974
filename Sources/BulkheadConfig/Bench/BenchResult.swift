import BulkheadModel
/// The phase of an experiment a measurement belongs to (the Isolation Benchmark Suite's shape).
public enum BenchPhase: String, Codable, Sendable, CaseIterable {
    /// The victim alone.
    case baseline
    /// The victim next to the aggressor, with no control between them.
    case loaded
    /// The victim next to the aggressor, with the layer's control in place.
    case contained
    /// Facts about the aggressor or the kernel (events, errnos, counters).
    case evidence
}

/// One named value of an experiment: one window of one round (the JSON keeps every window).
public struct BenchMeasurement: Codable, Sendable, Equatable {
    public var name: String
    public var phase: BenchPhase
    public var value: Double
    public var unit: String
    /// The round (0-based) whose window measured it; nil for a value of the experiment as a
    /// whole (evidence, or a cell that runs one window per phase).
    public var round: Int?

    public init(_ name: String, _ phase: BenchPhase, _ value: Double, _ unit: String, round: Int? = nil) {
        self.name = name; self.phase = phase; self.value = value; self.unit = unit; self.round = round
    }
}

/// The outcome of one cell's experiment.
public struct BenchResult: Codable, Sendable, Equatable {
    public var cell: BenchCellID
    /// The claim under test, in words ("a hog limited to 0.5 CPU gets about half a core").
    public var claim: String
    /// The verdict the matrix expects for this cell (LAYERS.md).
    public var expected: BenchVerdictKind
    public var verdict: BenchVerdict
    /// The figure shown in the matrix cell ("victim 96%", "EAGAIN").
    public var keyFigure: String
    /// What the victim and the aggressor were, in a sentence each.
    public var method: String
    public var measurements: [BenchMeasurement]
    /// Facts that are not numbers: errnos seen, cgroup events, files compared.
    public var evidence: [String]
    /// The measurement plotted per phase (victim alone / loaded / contained), if any.
    public var chartMetric: String?
    /// The victim's ratio over the rounds (median, 95% interval, band), for the cells whose
    /// verdict is a ratio against a band; nil for cells decided by errnos and counts.
    public var ratio: BenchRatioSummary?
    public var seconds: Double
    /// Processes the cell launched (pods, sandboxes, host processes it measures), its runs
    /// again and its mitigation's included: the setup a cell costs, a count load does not move.
    /// Nil in reports written before it was counted.
    public var launches: Int? = nil
    /// For a "cannot" cell: the run with the control that closes it, where this host has one.
    public var mitigation: BenchMitigation? = nil

    public init(cell: BenchCellID, claim: String, expected: BenchVerdictKind, verdict: BenchVerdict, keyFigure: String,
                method: String, measurements: [BenchMeasurement] = [], evidence: [String] = [], chartMetric: String? = nil,
                ratio: BenchRatioSummary? = nil, seconds: Double = 0) {
        self.cell = cell; self.claim = claim; self.expected = expected; self.verdict = verdict; self.keyFigure = keyFigure
        self.method = method; self.measurements = measurements; self.evidence = evidence; self.chartMetric = chartMetric
        self.ratio = ratio; self.seconds = seconds
    }

    /// The verdict matches the claim of the matrix.
    public var confirmsClaim: Bool { verdict.kind == expected }

    /// The value of `name` in `phase`, if measured: the median over its rounds' windows.
    public func value(_ name: String, _ phase: BenchPhase) -> Double? {
        BenchStatistics.median(windows(name, phase).map(\.value))
    }

    /// Every window of `name` in `phase`, in round order.
    public func windows(_ name: String, _ phase: BenchPhase) -> [BenchMeasurement] {
        measurements.filter { $0.name == name && $0.phase == phase }
    }

    /// The chart's bars: the chart metric in each phase that measured it, as the median of
    /// the phase's windows (round nil).
    public var chartBars: [BenchMeasurement] {
        guard let m = chartMetric else { return [] }
        return [BenchPhase.baseline, .loaded, .contained].compactMap { p in
            let w = windows(m, p)
            guard let first = w.first, let med = BenchStatistics.median(w.map(\.value)) else { return nil }
            return BenchMeasurement(m, p, med, first.unit)
        }
    }

    /// The error bar of a chart bar: the 95% bootstrap interval of the phase's median over
    /// its windows; nil with fewer than two windows.
    public func chartInterval(_ phase: BenchPhase) -> ClosedRange<Double>? {
        guard let m = chartMetric else { return nil }
        let w = windows(m, phase).map(\.value)
        guard w.count > 1 else { return nil }
        return BenchStatistics.bootstrapMedianInterval(w)
    }
}

/// Facts about the machine a matrix was measured on.
public struct BenchHostFacts: Codable, Sendable, Equatable {
    public var kernel: String
    public var cgroupMode: String
    public var cpuCount: Int
    public var memoryBytes: UInt64?
    public var bulkheadVersion: String
    /// The node's name: `bench --node-name`, else the host name. `bench merge` makes a column
    /// group per node. Nil in reports written before it existed (they still decode).
    public var node: String?
    /// The CPU's model name (/proc/cpuinfo), where the kernel gives one.
    public var cpuModel: String?

    public init(kernel: String, cgroupMode: String, cpuCount: Int, memoryBytes: UInt64?, bulkheadVersion: String,
                node: String? = nil, cpuModel: String? = nil) {
        self.kernel = kernel; self.cgroupMode = cgroupMode; self.cpuCount = cpuCount; self.memoryBytes = memoryBytes
        self.bulkheadVersion = bulkheadVersion; self.node = node; self.cpuModel = cpuModel
    }
}

/// Every cell measured in one `bulkhead bench` run.
public struct BenchMatrixReport: Codable, Sendable, Equatable {
    public var host: BenchHostFacts
    /// ISO 8601 UTC.
    public var startedAt: String
    /// Seconds per measured phase (one window).
    public var phaseSeconds: Double
    /// Interleaved rounds of baseline and loaded (and contained) windows per ratio cell;
    /// 1 with `--quick`.
    public var rounds: Int
    public var totalSeconds: Double
    public var results: [BenchResult]

    public init(host: BenchHostFacts, startedAt: String, phaseSeconds: Double, rounds: Int = 1, totalSeconds: Double,
                results: [BenchResult]) {
        self.host = host; self.startedAt = startedAt; self.phaseSeconds = phaseSeconds; self.rounds = rounds
        self.totalSeconds = totalSeconds; self.results = results
    }

    enum CodingKeys: String, CodingKey { case host, startedAt, phaseSeconds, rounds, totalSeconds, results }

    /// A report written before rounds existed reads as one round.
    public init(from decoder: any Decoder) throws {
        let c = try decoder.container(keyedBy: CodingKeys.self)
        host = try c.decode(BenchHostFacts.self, forKey: .host)
        startedAt = try c.decode(String.self, forKey: .startedAt)
        phaseSeconds = try c.decode(Double.self, forKey: .phaseSeconds)
        rounds = try c.decodeIfPresent(Int.self, forKey: .rounds) ?? 1
        totalSeconds = try c.decode(Double.self, forKey: .totalSeconds)
        results = try c.decode([BenchResult].self, forKey: .results)
    }

    public func result(_ cell: BenchCellID) -> BenchResult? { results.first { $0.cell == cell } }
}
