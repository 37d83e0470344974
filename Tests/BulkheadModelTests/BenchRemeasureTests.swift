import BulkheadConfig
import BulkheadModel
import Testing

/// Adaptive rounds (issue 18): the rule that measures an inconclusive ratio cell once more
/// with twice the rounds, on synthetic windows, so that it is checked whether or not a real
/// run happens to be inconclusive (MatrixTests' check only fires when one is).
struct BenchRemeasureTests {
    /// A disk-like cell ("cannot" when the victim's rate falls to at most 67%) measured with
    /// `rounds` rounds: per round a baseline window of 100 and a loaded window of
    /// `loaded(round)`, every window kept with its round, the verdict from the interval.
    static func run(rounds: Int, seconds: Double = 8, loaded: (Int) -> Double) -> BenchResult {
        var windows: [BenchMeasurement] = []
        var ratios: [Double] = []
        for r in 0..<rounds {
            let l = loaded(r)
            windows.append(BenchMeasurement("victim rate", .baseline, 100, "ops/s", round: r))
            windows.append(BenchMeasurement("victim rate", .loaded, l, "ops/s", round: r))
            ratios.append(l / 100)
        }
        let summary = BenchRatioSummary(metric: "victim rate", phase: .loaded, ratios: ratios, band: 0.67, side: .atMost)
        let verdict = BenchVerdict.judgeSlowdown(summary: summary, what: "rate next to a writer")
        return BenchResult(cell: BenchCellID(.diskBandwidth, .pod), claim: "synthetic", expected: .cannot, verdict: verdict,
                           keyFigure: summary.map { "victim \($0.text)" } ?? "?", method: "synthetic windows",
                           measurements: windows, chartMetric: "victim rate", ratio: summary, seconds: seconds)
    }

    @Test("An inconclusive cell is measured once more with twice the rounds: the result is the second run's, with more rounds, both runs' seconds and the first verdict in its evidence")
    func inconclusiveIsMeasuredAgain() throws {
        var asked: [Int] = []
        // 3 rounds: ratios 50%, 60%, 90%: the interval (the range) straddles 67%. With 6 rounds
        // every loaded window is 40: decided.
        let r = BenchRemeasure.measure(rounds: 3) { n in
            asked.append(n)
            return n == 3 ? Self.run(rounds: 3, seconds: 8) { [50, 60, 90][$0] } : Self.run(rounds: n, seconds: 15) { _ in 40 }
        }
        #expect(asked == [3, 6], "one run of 3 rounds, then one of 6: \(asked)")
        let q = try #require(r.ratio)
        #expect(r.verdict.kind == .cannot, "\(r.verdict.reason)")
        #expect(q.rounds == 6 && q.rounds > 3, "the reported interval is the second run's: \(q.rounds) rounds")
        #expect(Set(r.measurements.compactMap(\.round)).count == 6, "every window of the second run is kept with its round")
        #expect(r.seconds == 23, "both runs' seconds count: \(r.seconds)")
        let first = try #require(r.evidence.first)
        #expect(first.hasPrefix("measured again with 6 rounds: with 3 the verdict was inconclusive"), "\(first)")
        #expect(first.contains("straddles"), "the first run's reason is kept: \(first)")
    }

    @Test("A decided cell is not measured again; neither is one of errnos and counts")
    func decidedStands() {
        var asked: [Int] = []
        let cannot = BenchRemeasure.measure(rounds: 3) { n in asked.append(n); return Self.run(rounds: n) { _ in 10 } }
        #expect(asked == [3] && cannot.verdict.kind == .cannot && cannot.evidence.isEmpty)
        // The other side of the band (not-observed) is decided too: no second run.
        asked = []
        let refuted = BenchRemeasure.measure(rounds: 3) { n in asked.append(n); return Self.run(rounds: n) { _ in 95 } }
        #expect(asked == [3] && refuted.verdict.kind == .notObserved)
        asked = []
        let counted = BenchRemeasure.measure(rounds: 3) { n in
            asked.append(n)
            return BenchResult(cell: BenchCellID(.pids, .pod), claim: "synthetic", expected: .can,
                               verdict: BenchVerdict(.can, "EAGAIN after 29 forks"), keyFigure: "EAGAIN", method: "synthetic")
        }
        #expect(asked == [3] && counted.verdict.kind == .can)
    }

    @Test("The second run is bounded: twice the rounds, at most 12; none after one round or at the bound; only once")
    func bounded() {
        #expect(BenchRemeasure.extraRounds(after: 1) == nil, "one round has no interval to narrow")
        #expect(BenchRemeasure.extraRounds(after: 2) == 4)
        #expect(BenchRemeasure.extraRounds(after: 3) == 6)
        #expect(BenchRemeasure.extraRounds(after: 7) == 12)
        #expect(BenchRemeasure.extraRounds(after: 12) == nil)
        #expect(BenchRemeasure.extraRounds(after: 40) == nil)
        // Still inconclusive after the second run: it stays so, and there is no third run.
        var asked: [Int] = []
        let r = BenchRemeasure.measure(rounds: 3) { n in asked.append(n); return Self.run(rounds: n) { [50, 60, 90][$0 % 3] } }
        #expect(asked == [3, 6] && r.verdict.kind == .inconclusive, "\(asked): \(r.verdict.kind)")
        asked = []
        _ = BenchRemeasure.measure(rounds: 1) { n in asked.append(n); return Self.run(rounds: n) { _ in 67 } }
        #expect(asked == [1], "one round (--quick) is never measured again: \(asked)")
    }
}
