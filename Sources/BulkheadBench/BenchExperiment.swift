import BulkheadConfig
import BulkheadModel
import BulkheadSystem
import Glibc

/// What an experiment's body found: the verdict and the evidence behind it.
struct BenchOutcome {
    var verdict: BenchVerdict
    var keyFigure: String
    var measurements: [BenchMeasurement] = []
    var evidence: [String] = []
    var chartMetric: String?
    /// The victim's ratio over the rounds, for a cell judged by a ratio against a band.
    var ratio: BenchRatioSummary?
    /// How the verdict and key figure follow from the ratio (`BenchJudge`) and the ratio it
    /// judged, for an outcome whose judgement may be applied to the rounds of two runs pooled
    /// (`BenchCellMeasure`); nil for one decided otherwise, which a second run replaces.
    var judged: (ratio: BenchRatioSummary?, judge: BenchJudge)?
}

/// What a ratio outcome's judgement gives: its verdict, its key figure, and the ratio shown
/// (the one judged, unless the judgement shows another: a cache cell whose rounds were too
/// few to judge shows them all).
struct BenchJudgement {
    var verdict: BenchVerdict
    var keyFigure: String
    var shown: BenchRatioSummary?
}

/// An experiment's judgement of its victim's ratio, with what its own run showed captured (the
/// aggressor contained, its preconditions met, the control in place): applied to the rounds of
/// its own run, and to the rounds of that run and a second one pooled (`BenchCellMeasure`), so
/// that one function decides both.
typealias BenchJudge = (BenchRatioSummary?) -> BenchJudgement

extension BenchOutcome {
    /// The outcome `judge` gives `ratio`, remembering both for a pooled judgement later.
    init(judging ratio: BenchRatioSummary?, by judge: @escaping BenchJudge, chartMetric: String? = nil) {
        let j = judge(ratio)
        self.init(verdict: j.verdict, keyFigure: j.keyFigure, chartMetric: chartMetric, ratio: j.shown)
        judged = (ratio, judge)
    }
}

/// A cell's or a control's result and, where it is judged by a ratio that may be pooled, the
/// ratio it judged and its judgement (`BenchOutcome.judged`).
struct BenchJudged<R> {
    var result: R
    var judged: (ratio: BenchRatioSummary?, judge: BenchJudge)?
}

/// One cell's experiment: the claim from LAYERS.md, how it is tested, and the body that runs
/// it inside its own outer cgroup.
struct BenchExperiment: Sendable {
    let cell: BenchCellID
    let expected: BenchVerdictKind
    let claim: String
    let method: String
    let body: @Sendable (BenchContext) throws -> BenchOutcome
    /// False for cells that run nothing here (blocked, or evidence elsewhere).
    var runsWorkloads = true
    /// Why the cell runs only when `--only` names it (it briefly takes a budget others share).
    var onlyWhenNamed: String?
    /// The VM lane's scenarios the cell reads when `bench --vm` boots the VM (BenchVM).
    var vmScenarios: [String] = []

    init(_ resource: BenchResource, _ layer: BenchLayer, expect: BenchVerdictKind, vmScenarios: [String] = [], claim: String,
         method: String, body: @escaping @Sendable (BenchContext) throws -> BenchOutcome) {
        cell = BenchCellID(resource, layer); expected = expect; self.claim = claim; self.method = method; self.body = body
        self.vmScenarios = vmScenarios
    }

    /// Runs the body in a fresh outer cgroup; a failure of the bench itself is reported as
    /// not observed, never as a pass.
    func run(_ ctx: BenchContext) -> BenchResult { runJudged(ctx).result }

    /// `run`, with the outcome's judgement for a pooled second run (`BenchCellMeasure`).
    func runJudged(_ ctx: BenchContext) -> BenchJudged<BenchResult> {
        let start = Monotonic.now()
        var o: BenchOutcome
        ctx.failures = []
        ctx.pressure = []
        ctx.startNotes = []
        ctx.hostLoad = nil
        ctx.cellMitigation = nil
        ctx.cellBaseline = nil
        do {
            o = runsWorkloads ? try ctx.withCeiling { try body(ctx) } : try body(ctx)
        } catch {
            o = BenchOutcome(verdict: BenchVerdict(.notObserved, "the experiment could not run: \(error)"), keyFigure: "error")
        }
        o = o.concluded(asked: ctx.rounds, failures: ctx.failures)
        o.evidence += ctx.startNotes
        // The cells the machine's CPU decides (a ratio of a victim's rate, the CPU shares) say
        // what other work held of it meanwhile (BenchHostLoad: evidence, not a verdict).
        if let load = ctx.hostLoad, o.ratio != nil || cell.resource == .cpu {
            o.evidence.append(load.evidence)
            o.measurements.append(BenchMeasurement("host: other work's CPU over the cell", .evidence, load.otherCPUs, "CPU"))
        }
        // A figure a workload did not report is absent, not NaN (JSON has no NaN).
        o.measurements = o.measurements.filter(\.value.isFinite)
        let r = BenchResult(cell: cell, claim: claim, expected: expected, verdict: o.verdict, keyFigure: o.keyFigure,
                            method: method, measurements: o.measurements, evidence: o.evidence, chartMetric: o.chartMetric,
                            ratio: o.ratio, seconds: Monotonic.now() - start)
        return BenchJudged(result: r, judged: o.judged)
    }

    /// A cell whose evidence is elsewhere, or that needs what is not there: no body runs.
    static func notRun(_ resource: BenchResource, _ layer: BenchLayer, expect: BenchVerdictKind, claim: String,
                       _ kind: BenchVerdictKind, _ reason: String, keyFigure: String) -> BenchExperiment {
        var e = BenchExperiment(resource, layer, expect: expect, claim: claim, method: reason) { _ in
            BenchOutcome(verdict: BenchVerdict(kind, reason), keyFigure: keyFigure)
        }
        e.runsWorkloads = false
        return e
    }
}

extension BenchOutcome {
    /// The "can" of a split by group weight (a tenant's cgroup, the node's reserve): the
    /// victim's share of the CPU must be at most 35% loaded and at least 40% contained, and
    /// `alsoHeld`; the key figure is "LABEL loaded → contained".
    static func shareSplit(loaded: Double?, contained: Double?, alsoHeld: Bool = true, label: String, metric: String,
                           summary: String) -> BenchOutcome {
        let held = (contained ?? 0) >= 0.4 && (loaded ?? 1) <= 0.35 && alsoHeld
        var o = BenchOutcome(verdict: BenchVerdict.judgeObserved(held, .can, summary),
                             keyFigure: "\(label) \(loaded.map(BenchFormat.percent) ?? "?") → \(contained.map(BenchFormat.percent) ?? "?")",
                             chartMetric: metric)
        o.measurements = [
            BenchMeasurement(metric, .loaded, (loaded ?? .nan) * 100, "%"),
            BenchMeasurement(metric, .contained, (contained ?? .nan) * 100, "%"),
        ]
        return o
    }
}

/// The ratio of a victim's loaded figure to its baseline.
func ratio(_ loaded: Double?, _ baseline: Double?) -> Double? {
    guard let l = loaded, let b = baseline, b > 0 else { return nil }
    return l / b
}

extension BenchContext {
    /// The "cannot" shape of a rate: the victim alone, then next to the aggressor, in
    /// `rounds` interleaved rounds of separate runs (ABBA). The shared effect is observed when
    /// the 95% interval of the victim's median `key` ratio lies at or below `atMost`.
    func measureSlowdown(_ placement: BenchPlacement, victim: BenchWorkload, aggressor: BenchWorkload, key: String,
                         metric: String, unit: String, atMost: Double, what: String) throws -> BenchOutcome {
        var w = BenchWindows()
        var problems: [String] = []
        try interleave([.baseline, .loaded]) { round, phase in
            let run = try runPods(placement, phase == .baseline ? [victim] : [aggressor, victim])
            w.record(metric, phase, round: round, run.double(key), unit)
            if !run.problems.isEmpty { problems.append(run.problems) }
        }
        let r = w.summary(metric, .loaded, band: atMost, side: .atMost)
        var o = BenchOutcome(judging: r, by: { q in
            BenchJudgement(verdict: BenchVerdict.judgeSlowdown(summary: q, what: what), keyFigure: "victim \(q?.text ?? "?")", shown: q)
        }, chartMetric: metric)
        o.measurements = w.measurements
        o.evidence = problems
        return o
    }
}
