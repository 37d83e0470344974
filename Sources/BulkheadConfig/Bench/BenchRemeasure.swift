import BulkheadModel
/// Adaptive rounds: the one rule for when a cell is measured again and what its result then
/// says. A ratio cell whose interval straddles its band (inconclusive) gets one more run with
/// twice the rounds (a narrower interval), bounded at `maxRounds`; a decided cell, or a cell
/// decided by errnos and counts, costs nothing more. `BenchCatalogue.run` applies it; pure, so
/// that a test can hand it synthetic windows.
public enum BenchRemeasure {
    /// No second run at or past this many rounds, and none asks for more.
    public static let maxRounds = 12

    /// The rounds of the one more run an inconclusive ratio cell gets after a run of `rounds`:
    /// twice as many, at most `maxRounds`; none after one round (no interval) or at the bound.
    public static func extraRounds(after rounds: Int) -> Int? {
        rounds >= 2 && rounds < maxRounds ? min(2 * rounds, maxRounds) : nil
    }

    /// The rounds to measure `first` (a run of `rounds`) again with, or nil when it stands:
    /// only an inconclusive verdict is measured again, once.
    public static func rounds(for first: BenchResult, after rounds: Int) -> Int? {
        guard first.verdict.kind == .inconclusive else { return nil }
        return extraRounds(after: rounds)
    }

    /// Runs a cell (`measure(n)`: one run of `n` rounds) with `rounds`, and once more with
    /// `rounds(for:after:)` when the first run was inconclusive; the combined result.
    public static func measure(rounds: Int, _ measure: (Int) -> BenchResult) -> BenchResult {
        let first = measure(rounds)
        guard let more = self.rounds(for: first, after: rounds) else { return first }
        return combine(first: first, firstRounds: rounds, again: measure(more), rounds: more)
    }

    /// The cell's result after its second run: the second run's verdict, windows and interval,
    /// its evidence led by why it was measured again (`because`, what the first run found:
    /// by default its inconclusive verdict), and the seconds of both runs.
    public static func combine(first: BenchResult, firstRounds: Int, again: BenchResult, rounds more: Int,
                               because: String? = nil) -> BenchResult {
        var r = again
        let why = because ?? "the verdict was inconclusive (\(first.keyFigure): \(first.verdict.reason))"
        r.evidence.insert("measured again with \(more) rounds: with \(firstRounds) \(why)", at: 0)
        r.seconds += first.seconds
        return r
    }
}
