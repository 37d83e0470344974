import BulkheadConfig
import BulkheadModel

/// How often one cell and its control are measured (issue 18's adaptive rounds), apart from
/// what measuring them is: `BenchCatalogue.run` hands `result` the cell's real runs, and
/// BulkheadBenchTests synthetic ones. The rules:
/// - The cell runs with the asked rounds, and once more with twice the rounds when that run
///   was inconclusive (`BenchRemeasure`: the second run's result, the first verdict in its
///   evidence; a cell still undecided stays inconclusive).
/// - A "cannot" that runs workloads and has a control here (`Mitigations.plan`) has the
///   control measured after the cell (one measured in the cell's own run is read from the
///   cell's latest run). When only the control was inconclusive it is measured once more with
///   twice the rounds: a control of its own run in a run of its own; one measured in the
///   cell's run by running the cell again, whose second run is then the cell's result
///   (`BenchRemeasure.combine`), unless the cell's own re-measure already ran it with more
///   rounds. Never when the VM lane's figures were read (a second run would read them again).
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
    /// The VM lane was booted and its figures read (`bench --vm`): no control is measured again.
    var vmLane: Bool

    init(rounds: Int, control: Control?, vmLane: Bool = false) {
        self.rounds = rounds; self.control = control; self.vmLane = vmLane
    }

    /// The measure of `exp` as `BenchCatalogue.run` takes it.
    init(_ exp: BenchExperiment, rounds: Int, vmLane: Bool) {
        let plan = exp.expected == .cannot && exp.runsWorkloads ? Mitigations.plan(exp.cell) : nil
        self.init(rounds: rounds, control: plan.map { $0.inCellRun ? .inCellRun : .ownRun }, vmLane: vmLane)
    }

    /// The cell's result with its control's in `mitigation`. `cell(n)` runs the cell with `n`
    /// rounds; `control(n)` measures its control after the cell's latest run, with `n` rounds
    /// (a control measured in the cell's run reads what that run left).
    func result(cell: (Int) -> BenchResult, control: (Int) -> BenchMitigation?) -> BenchResult {
        var cellRuns = 0
        var r = BenchRemeasure.measure(rounds: rounds) { n in
            cellRuns += 1
            return cell(n)
        }
        guard let placed = self.control else { return r }
        var m = control(rounds)
        // A decided cell whose control measured in its run was inconclusive was otherwise never
        // measured again (CI, session 10: network-bandwidth/namespace's shaping at 82% [71-82%]
        // against an 80% band, the cell cannot at 70% [68-72%]).
        if let first = m, first.verdict.kind == .inconclusive, !vmLane, placed == .ownRun || cellRuns == 1,
           let more = BenchRemeasure.extraRounds(after: rounds) {
            if placed == .inCellRun {
                // The cell's own verdict was decided: its note says that the control's was not
                // (combine's would say the cell's verdict was inconclusive).
                let why = "its control (\(first.control)) was inconclusive (\(first.keyFigure): \(first.verdict.reason)); the cell's own verdict was \(r.verdict.kind.rawValue) (\(r.keyFigure))"
                r = BenchRemeasure.combine(first: r, firstRounds: rounds, again: cell(more), rounds: more, because: why)
            }
            m = control(more)
            m?.evidence.insert("measured again with \(more) rounds: with \(rounds) the verdict was inconclusive (\(first.keyFigure): \(first.verdict.reason))", at: 0)
        }
        r.mitigation = m
        return r
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
    /// (`BenchExperiment.run`, `Mitigations.run`).
    func requiringInterval(_ ratio: BenchRatioSummary?, asked: Int) -> BenchVerdict {
        guard let q = ratio, asked >= 2, q.rounds < 2, [.can, .cannot, .notObserved].contains(kind) else { return self }
        return BenchVerdict(.inconclusive, "only \(q.rounds) of \(asked) rounds gave a ratio (the others missed a window): one round is no interval; it alone gave \(kind.rawValue): \(reason)")
    }
}
