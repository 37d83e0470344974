import BulkheadModel
/// Adaptive rounds: the one rule for when a cell is measured again and what its result then
/// says. A ratio cell whose interval straddles its band (inconclusive) gets more rounds, once:
/// a sequential design. Where the cell's judgement can be applied to rounds of two runs (the
/// experiments' `BenchJudge`), the second run measures as many rounds again and the verdict is
/// judged on the rounds of both (`pooled`); otherwise the second run has twice the rounds and
/// its result replaces the first's (`combine`). Bounded at `maxRounds`; a decided cell, or a
/// cell decided by errnos and counts, costs nothing more. `BenchCatalogue.run` applies it
/// (`BenchCellMeasure`); pure, so that a test can hand it synthetic windows.
///
/// Why pooling is sound here: each round is a baseline and a loaded window side by side (ABBA),
/// a ratio of its own; the rounds of a second run are more draws of the same ratio on the same
/// machine minutes later, as a round of the first run is of its neighbours. Judging on 3 + 3
/// rounds looks at the data twice (the first look decided to take more), which widens the
/// chance of a wrong verdict a little over one look; the bound is the same as the fresh run of
/// 6 it replaces: 6 rounds, one second look, never a third.
public enum BenchRemeasure {
    /// No second run at or past this many rounds in all, and none asks for more.
    public static let maxRounds = 12

    /// The rounds of the one more run an inconclusive ratio cell gets after a run of `rounds`
    /// whose rounds are judged again with the second run's (`pooling`): as many again, so that
    /// the judgement rests on twice the rounds; a fresh run (not pooled) has twice as many. At
    /// most `maxRounds` in all; none after one round (no interval) or at the bound.
    public static func extraRounds(after rounds: Int, pooling: Bool = true) -> Int? {
        guard rounds >= 2 && rounds < maxRounds else { return nil }
        let total = min(2 * rounds, maxRounds)
        return pooling ? total - rounds : total
    }

    /// The rounds to measure `first` (a run of `rounds`) again with, or nil when it stands:
    /// only an inconclusive verdict is measured again, once.
    public static func rounds(for first: BenchResult, after rounds: Int, pooling: Bool = true) -> Int? {
        guard first.verdict.kind == .inconclusive else { return nil }
        return extraRounds(after: rounds, pooling: pooling)
    }

    /// Runs a cell (`measure(n)`: one run of `n` rounds) with `rounds`, and once more with
    /// twice the rounds when the first run was inconclusive: the second run's result
    /// (`combine`). For a cell whose judgement cannot be repeated on the rounds of two runs.
    public static func measure(rounds: Int, _ measure: (Int) -> BenchResult) -> BenchResult {
        let first = measure(rounds)
        guard let more = self.rounds(for: first, after: rounds, pooling: false) else { return first }
        return combine(first: first, firstRounds: rounds, again: measure(more), rounds: more)
    }

    /// The cell's result after a second run that replaces the first: the second run's verdict,
    /// windows and interval, its evidence led by why it was measured again (`because`, what the
    /// first run found: by default its inconclusive verdict), and the seconds of both runs.
    public static func combine(first: BenchResult, firstRounds: Int, again: BenchResult, rounds more: Int,
                               because: String? = nil) -> BenchResult {
        var r = again
        r.evidence.insert(note(first.keyFigure, first.verdict, firstRounds: firstRounds, more: more, pooled: false, because: because), at: 0)
        r.seconds += first.seconds
        return r
    }

    /// The line that leads the evidence of a result measured again. It starts with "measured
    /// again with N" (MatrixTests and readers look for it) and says what the first run found.
    public static func note(_ keyFigure: String, _ verdict: BenchVerdict, firstRounds: Int, more: Int, pooled: Bool,
                            because: String? = nil) -> String {
        let why = because ?? "the verdict was inconclusive (\(keyFigure): \(verdict.reason))"
        return pooled
            ? "measured again with \(more) more rounds, judged on all \(firstRounds + more) with the first run's (in the windows the second run's rounds follow the first's; the evidence after this line is the second run's): with \(firstRounds) \(why)"
            : "measured again with \(more) rounds: with \(firstRounds) \(why)"
    }

    /// The ratio of two runs' rounds judged together: the first run's per-round ratios and the
    /// second's, summarised again (median, bootstrap interval) against the same band. Nil when
    /// either run has none, or when they are not the same ratio (metric, phase, band, side):
    /// then the runs are not pooled.
    public static func pooled(_ a: BenchRatioSummary?, _ b: BenchRatioSummary?) -> BenchRatioSummary? {
        guard let a, let b, a.metric == b.metric, a.phase == b.phase, a.band == b.band, a.side == b.side else { return nil }
        return BenchRatioSummary(metric: a.metric, phase: a.phase, ratios: a.ratios + b.ratios, band: a.band, side: a.side)
    }

    /// Both runs' figures: the first run's, then the second's with its rounds after the
    /// first run's `firstRounds` (round r of the second run is round `firstRounds + r`), so that
    /// the JSON keeps every window under a round of its own. Figures of a run as a whole (no
    /// round) are kept from both.
    public static func pooledMeasurements(_ a: [BenchMeasurement], _ b: [BenchMeasurement], firstRounds: Int) -> [BenchMeasurement] {
        a + b.map { m in
            var m = m
            if let r = m.round {
                let (shifted, overflow) = r.addingReportingOverflow(firstRounds)
                m.round = overflow ? nil : shifted
            }
            return m
        }
    }

    /// The verdict of two runs judged on their pooled rounds: each run's judgement of the same
    /// pooled ratio (`first`, `again`; each with what its own run showed: the aggressor
    /// contained, its preconditions met). They differ only where one run's own conditions
    /// failed; then the pool is not a finding: the verdict that names the failed condition
    /// (not a can or cannot) stands, and two findings that disagree are inconclusive.
    public static func pooledVerdict(first: BenchVerdict, again: BenchVerdict) -> BenchVerdict {
        if first.kind == again.kind { return again }
        let finding: Set<BenchVerdictKind> = [.can, .cannot]
        switch (finding.contains(first.kind), finding.contains(again.kind)) {
        case (true, false): return again
        case (false, true): return BenchVerdict(first.kind, "in the first run: \(first.reason)")
        case (false, false): return again
        case (true, true):
            return BenchVerdict(.inconclusive, "the two runs' judgements of their pooled rounds disagree: the first's \(first.kind.rawValue) (\(first.reason)), the second's \(again.kind.rawValue) (\(again.reason))")
        }
    }
}
