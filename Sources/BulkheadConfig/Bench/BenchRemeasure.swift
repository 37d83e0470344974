import BulkheadModel
/// Adaptive rounds: the one rule for when a cell is measured again and what its result then
/// says. A ratio cell whose interval straddles its band (inconclusive) gets more rounds, once:
/// a sequential design. Where the cell's judgement can be applied to rounds of two runs (the
/// experiments' `BenchJudge`), the second run measures as many rounds again and one more, and
/// the verdict is judged on the rounds of both (`pooled`); otherwise the second run has twice the rounds and
/// its result replaces the first's. Bounded at `maxRounds`; a decided cell, or a
/// cell decided by errnos and counts, costs nothing more. `BenchCellMeasure` applies it (the one
/// path, which `BenchCatalogue.run` and its tests call); these are its pure parts.
///
/// Pooling: each round is a baseline and a loaded window side by side (ABBA), a ratio of its
/// own; a second run's rounds are more rounds of that ratio. The first three are not a fresh
/// sample: they were measured again because they straddled the band, so the pooled rounds
/// always hold one on each side of it. With this interval (the percentile bootstrap of the
/// median; for 3 rounds it is their range, about 75% coverage) that makes the second look
/// conservative, not lax. In a simulation (session 13's review: normal rounds, sd 0.1) of a cell
/// whose true median sits on its band, the cell ends decided in 27% of cases (a false finding in
/// 13%), against 25% (12.5%) for the first look alone and 30% (15%) for the fresh run of 6 this
/// replaced. The cost is resolving power: after a straddle the pooled 6 decide 2% of cells at
/// the band and 24% one sd past it, where a fresh 6 decided 6% and 54%, so more cells stay
/// inconclusive (never a pass); those figures are for 3 + 3 rounds, and the one more round of
/// `extraRounds` (3 + 4) raises the power where the first look held one wild round. At most
/// 12 rounds judged, one second run, never a third.
public enum BenchRemeasure {
    /// No second run at or past this many rounds in all, and none asks for more.
    public static let maxRounds = 12

    /// The rounds of the one more run an inconclusive ratio cell gets after a run of `rounds`
    /// whose rounds are judged again with the second run's (`pooling`): as many again and one
    /// more, so that the judgement rests on an odd count, twice the rounds and one (3, then 4:
    /// 7). A first look that straddles usually holds one wild round; the bootstrap median of 7
    /// keeps a single wild round out of its interval (it is drawn 4 times of 7 in under 2.5% of
    /// resamples), the median of 6 does not (3 times of 6 in 6%: with rounds of 72%, 84% to 87%
    /// against an 80% band, 6 pooled rounds gave [78–87%], 7 gave [84–86%]). A fresh run (not
    /// pooled) has twice as many. At most `maxRounds` in all; none after one round (no
    /// interval) or at the bound.
    public static func extraRounds(after rounds: Int, pooling: Bool) -> Int? {
        guard rounds >= 2 && rounds < maxRounds else { return nil }
        return pooling ? min(2 * rounds + 1, maxRounds) - rounds : min(2 * rounds, maxRounds)
    }

    /// The rounds to measure `first` (a run of `rounds`) again with, or nil when it stands:
    /// only an inconclusive verdict is measured again, once.
    public static func rounds(for first: BenchResult, after rounds: Int, pooling: Bool) -> Int? {
        guard first.verdict.kind == .inconclusive else { return nil }
        return extraRounds(after: rounds, pooling: pooling)
    }

    /// The line that leads the evidence of a result measured again. It starts with "measured
    /// again with N" (MatrixTests and readers look for it) and says what the first run found
    /// (`because`, else its verdict). `judged`: the rounds of both runs that gave a ratio, for a
    /// pooled result; nil for a second run that replaced the first.
    public static func note(_ keyFigure: String, _ verdict: BenchVerdict, firstRounds: Int, more: Int, judged: Int?,
                            because: String? = nil) -> String {
        let why = because ?? "the verdict was \(verdict.kind.rawValue) (\(keyFigure): \(verdict.reason))"
        guard let judged else { return "measured again with \(more) rounds: with \(firstRounds) \(why)" }
        return "measured again with \(more) more rounds, judged on the \(judged) rounds of both runs that gave a ratio (in the windows the second run's rounds follow the first's: its round r is round \(firstRounds) + r; the evidence below is the second run's, in its own round numbers, then the first run's, marked \"first run:\"): with \(firstRounds) \(why)"
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
    /// round) are kept from both, the first run's named "NAME (first run)": a reader of NAME
    /// gets the second run's, never a median of two runs' figures.
    public static func pooledMeasurements(_ a: [BenchMeasurement], _ b: [BenchMeasurement], firstRounds: Int) -> [BenchMeasurement] {
        a.map { m in
            var m = m
            if m.round == nil { m.name += " (first run)" }
            return m
        } + b.map { m in
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
    /// (not a can or cannot) stands, a named failure before a mere straddle, and two findings
    /// that disagree are inconclusive.
    public static func pooledVerdict(first: BenchVerdict, again: BenchVerdict) -> BenchVerdict {
        if first.kind == again.kind { return again }
        let finding: Set<BenchVerdictKind> = [.can, .cannot]
        let firstRun = BenchVerdict(first.kind, "in the first run: \(first.reason)")
        switch (finding.contains(first.kind), finding.contains(again.kind)) {
        case (true, false): return again
        case (false, true): return firstRun
        case (false, false): return again.kind == .inconclusive ? firstRun : again
        case (true, true):
            return BenchVerdict(.inconclusive, "the two runs' judgements of their pooled rounds disagree: the first's \(first.kind.rawValue) (\(first.reason)), the second's \(again.kind.rawValue) (\(again.reason))")
        }
    }
}
