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

/// One named value of an experiment.
public struct BenchMeasurement: Codable, Sendable, Equatable {
    public var name: String
    public var phase: BenchPhase
    public var value: Double
    public var unit: String

    public init(_ name: String, _ phase: BenchPhase, _ value: Double, _ unit: String) {
        self.name = name; self.phase = phase; self.value = value; self.unit = unit
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
    public var seconds: Double
    /// For a "cannot" cell: the run with the control that closes it, where this host has one.
    public var mitigation: BenchMitigation? = nil

    public init(cell: BenchCellID, claim: String, expected: BenchVerdictKind, verdict: BenchVerdict, keyFigure: String,
                method: String, measurements: [BenchMeasurement] = [], evidence: [String] = [], chartMetric: String? = nil,
                seconds: Double = 0) {
        self.cell = cell; self.claim = claim; self.expected = expected; self.verdict = verdict; self.keyFigure = keyFigure
        self.method = method; self.measurements = measurements; self.evidence = evidence; self.chartMetric = chartMetric
        self.seconds = seconds
    }

    /// The verdict matches the claim of the matrix.
    public var confirmsClaim: Bool { verdict.kind == expected }

    /// The value of `name` in `phase`, if measured.
    public func value(_ name: String, _ phase: BenchPhase) -> Double? {
        measurements.first { $0.name == name && $0.phase == phase }?.value
    }

    /// The chart's bars: the chart metric in each phase that measured it.
    public var chartBars: [BenchMeasurement] {
        guard let m = chartMetric else { return [] }
        return [BenchPhase.baseline, .loaded, .contained].compactMap { p in measurements.first { $0.name == m && $0.phase == p } }
    }
}

/// Facts about the machine a matrix was measured on.
public struct BenchHostFacts: Codable, Sendable, Equatable {
    public var kernel: String
    public var cgroupMode: String
    public var cpuCount: Int
    public var memoryBytes: UInt64?
    public var bulkheadVersion: String

    public init(kernel: String, cgroupMode: String, cpuCount: Int, memoryBytes: UInt64?, bulkheadVersion: String) {
        self.kernel = kernel; self.cgroupMode = cgroupMode; self.cpuCount = cpuCount; self.memoryBytes = memoryBytes
        self.bulkheadVersion = bulkheadVersion
    }
}

/// Every cell measured in one `bulkhead bench` run.
public struct BenchMatrixReport: Codable, Sendable, Equatable {
    public var host: BenchHostFacts
    /// ISO 8601 UTC.
    public var startedAt: String
    /// Seconds per measured phase.
    public var phaseSeconds: Double
    public var totalSeconds: Double
    public var results: [BenchResult]

    public init(host: BenchHostFacts, startedAt: String, phaseSeconds: Double, totalSeconds: Double, results: [BenchResult]) {
        self.host = host; self.startedAt = startedAt; self.phaseSeconds = phaseSeconds; self.totalSeconds = totalSeconds
        self.results = results
    }

    public func result(_ cell: BenchCellID) -> BenchResult? { results.first { $0.cell == cell } }
}
