import BulkheadConfig
import BulkheadModel

/// How often one cell and its control are measured (issue 18's adaptive rounds), apart from
/// what measuring them is: `BenchCatalogue.run` hands `result` the cell's real runs, and
/// BulkheadBenchTests synthetic ones. The rules (`BenchRemeasure` holds the pure parts):
/// - The cell runs with the asked rounds. When that run was inconclusive it runs once more: a
///   cell judged by a ratio its judgement can take from two runs (`BenchJudge`) with as many
///   rounds again and one more, its verdict judged on the rounds of both (each run's judgement
///   of the pooled ratio, with what that run showed); any other with twice the rounds, that
///   run's result replacing the first's. The first verdict leads the evidence; a cell still
///   undecided stays inconclusive.
/// - A "cannot" that runs workloads and has a control here (`Mitigations.plan`) has the
///   control measured once: after the cell in a run of its own, or read from each run of the
///   cell when it is measured in the cell's own run (pooled as the cell is). A control that
///   alone did not decide is not measured again: its inconclusive stands, shown as such (never
///   a pass). Measured: in three quiet default runs of session 13 seven controls were measured
///   again (8 to 12 s each, a run of the cell's baseline and control windows) and six stayed
///   inconclusive; a second look after a straddle rarely decides a control that sits near its
///   band (the review's simulation in `BenchRemeasure`), and the default matrix has about 3
///   minutes (issue 18). From session 10 (f0bd8dd) to 13 a control was measured again;
///   MatrixTests measures a cell whose control did not decide once more, as a reader would.
struct BenchCellMeasure {
    /// Where a cell's control is measured (`Mitigations.Plan.inCellRun`).
    enum Control: Equatable {
        /// In a run of its own (its own windows, or a bound read from a run of its own).
        case ownRun
        /// In the cell's own run (a third phase of its windows).
        case inCellRun
    }

    /// The rounds asked (`--rounds`).
    var rounds: Int
    /// The cell's control, or nil when none is measured here (a "can", a cell that runs
    /// nothing, a cell without a plan).
    var control: Control?

    init(rounds: Int, control: Control?) {
        self.rounds = rounds; self.control = control
    }

    /// The measure of `exp` as `BenchCatalogue.run` takes it.
    init(_ exp: BenchExperiment, rounds: Int) {
        let plan = exp.expected == .cannot && exp.runsWorkloads ? Mitigations.plan(exp.cell) : nil
        self.init(rounds: rounds, control: plan.map { $0.inCellRun ? .inCellRun : .ownRun })
    }

    /// The cell's result with its control's in `mitigation`. `cell(n)` runs the cell with `n`
    /// rounds; `control(n)` measures its control after the cell's latest run, with `n` rounds
    /// (a control measured in the cell's run reads what that run left).
    func result(cell: (Int) -> BenchJudged<BenchResult>, control: (Int) -> BenchJudged<BenchMitigation>?) -> BenchResult {
        let first = cell(rounds)
        // A control measured in the cell's run is read after each run of the cell.
        let inCell = self.control == .inCellRun
        let firstControl = inCell ? control(rounds) : nil
        var r = first.result
        var m = firstControl
        if let more = BenchRemeasure.rounds(for: first.result, after: rounds, pooling: Self.poolable(first)) {
            let again = cell(more)
            r = Self.merge(first, firstRounds: rounds, again, more: more, because: nil, sharedWindows: inCell)
            if let a = firstControl, let b = control(more) {
                // Measured again because the cell was, whatever its own verdict.
                let why = "the cell's verdict was inconclusive (\(first.result.keyFigure)); this control's own was \(a.result.verdict.kind.rawValue) (\(a.result.keyFigure): \(a.result.verdict.reason))"
                m = BenchJudged(result: Self.merge(a, firstRounds: rounds, b, more: more, because: why, sharedWindows: true), judged: nil)
            }
        }
        guard let placed = self.control else { return r }
        if placed == .ownRun { m = control(rounds) }
        r.mitigation = m?.result
        return r
    }

    /// Whether a run's judgement can take the rounds of a second run with its own.
    static func poolable<R>(_ run: BenchJudged<R>) -> Bool {
        run.judged.map { $0.ratio != nil } ?? false
    }

    /// A run measured again: both runs' rounds judged together where both can be
    /// (`BenchRemeasure.pooled`: each run's judgement of the pooled ratio, combined by
    /// `pooledVerdict`; every window of both kept, the second run's rounds after the first's;
    /// the first run's evidence kept, marked). Where the second run gave no ratio to pool with
    /// the first's, the first run's result stands with the second's failure in its evidence.
    /// Otherwise the second run replaces the first (a cell or control without a
    /// judgement, measured again with twice the rounds). `sharedWindows`: a cell and its
    /// control measured in its run share their baseline windows, so both runs' windows are
    /// kept even when the second replaces the first. Either way the evidence is led by why
    /// (`because`, else the first verdict) and the seconds are both runs'.
    static func merge<R: BenchRemeasured>(_ a: BenchJudged<R>, firstRounds: Int, _ b: BenchJudged<R>, more: Int, because: String?,
                                          sharedWindows: Bool = false) -> R {
        let both = BenchRemeasure.pooledMeasurements(a.result.measurements, b.result.measurements, firstRounds: firstRounds)
        let firstEvidence = a.result.evidence.map { "first run: " + $0 }
        if let ja = a.judged, let jb = b.judged, let q = BenchRemeasure.pooled(ja.ratio, jb.ratio) {
            let x = ja.judge(q), y = jb.judge(q)
            var r = b.result
            r.verdict = BenchRemeasure.pooledVerdict(first: x.verdict, again: y.verdict).requiringInterval(q, asked: firstRounds + more)
            r.keyFigure = y.keyFigure
            r.ratio = y.shown
            r.measurements = both
            r.evidence = [BenchRemeasure.note(a.result.keyFigure, a.result.verdict, firstRounds: firstRounds, more: more, judged: q.rounds, because: because)]
                + r.evidence + firstEvidence
            r.runSeconds += a.result.runSeconds
            return r
        }
        if let ja = a.judged, ja.ratio != nil, b.judged?.ratio == nil {
            // The first run's result, with the second run's windows after its own; the second
            // run's figures of the run as a whole are not the result's (its evidence says why).
            var r = a.result
            r.measurements = a.result.measurements
                + BenchRemeasure.pooledMeasurements([], b.result.measurements.filter { $0.round != nil }, firstRounds: firstRounds)
            r.evidence = ["measured again with \(more) more rounds, which gave no ratio (\(b.result.keyFigure): \(b.result.verdict.kind.rawValue): \(b.result.verdict.reason)): the first run's \(firstRounds) rounds stand"]
                + r.evidence + b.result.evidence.map { "second run: " + $0 }
            r.runSeconds += b.result.runSeconds
            return r
        }
        var r = b.result
        if sharedWindows { r.measurements = both }
        r.evidence.insert(BenchRemeasure.note(a.result.keyFigure, a.result.verdict, firstRounds: firstRounds, more: more, judged: nil, because: because), at: 0)
        r.runSeconds += a.result.runSeconds
        return r
    }
}

/// What a second run changes of a cell's result or a control's (`BenchCellMeasure.merge`).
protocol BenchRemeasured {
    var verdict: BenchVerdict { get set }
    var keyFigure: String { get set }
    var measurements: [BenchMeasurement] { get set }
    var evidence: [String] { get set }
    var ratio: BenchRatioSummary? { get set }
    /// The run's wall-clock seconds.
    var runSeconds: Double { get set }
}

extension BenchResult: BenchRemeasured {
    var runSeconds: Double {
        get { seconds }
        set { seconds = newValue }
    }
}

extension BenchMitigation: BenchRemeasured {
    var runSeconds: Double {
        get { seconds ?? 0 }
        set { seconds = newValue }
    }
}

extension BenchOutcome {
    /// The outcome as a cell's or a control's result records it (`BenchExperiment.run`,
    /// `Mitigations.run`): a ratio verdict resting on one round of several is inconclusive
    /// (`BenchVerdict.requiringInterval`), and the launch failures of the run (`failures`, each
    /// a process's status and stderr) join the evidence of a run that observed nothing, also
    /// when that not-observed then became inconclusive: a round without a ratio is often a
    /// launch that failed, and the failure is what a reader needs to see why.
    func concluded(asked: Int, failures: [String]) -> BenchOutcome {
        var o = self
        let observedNothing = o.verdict.kind == .notObserved
        o.verdict = o.verdict.requiringInterval(o.ratio, asked: asked)
        if observedNothing { o.evidence += failures }
        return o
    }
}

extension BenchVerdict {
    /// `self` unless a ratio verdict rests on fewer than two rounds where `asked` (two or more)
    /// were asked, the other rounds' windows missed (begun late under load): the interval of one
    /// round is a point, so its can, cannot or not-observed decides nothing. It is inconclusive,
    /// which the bench measures again (`BenchCellMeasure`). One round asked (`--quick`) keeps its
    /// single-sample verdict. Applied where a cell's or a control's outcome becomes its result
    /// (`BenchExperiment.run`, `Mitigations.run`) and to the rounds of two runs pooled.
    func requiringInterval(_ ratio: BenchRatioSummary?, asked: Int) -> BenchVerdict {
        guard let q = ratio, asked >= 2, q.rounds < 2, [.can, .cannot, .notObserved].contains(kind) else { return self }
        return BenchVerdict(.inconclusive, "only \(q.rounds) of \(asked) rounds gave a ratio (the others missed a window): one round is no interval; it alone gave \(kind.rawValue): \(reason)")
    }
}
