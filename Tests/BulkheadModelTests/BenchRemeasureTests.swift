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

    @Test("The second run is bounded: as many rounds again and one more when pooled (an odd count), twice when it replaces the first, at most 12 in all; none after one round or at the bound; only once")
    func bounded() {
        #expect(BenchRemeasure.extraRounds(after: 1, pooling: true) == nil, "one round has no interval to narrow")
        #expect(BenchRemeasure.extraRounds(after: 2, pooling: true) == 3 && BenchRemeasure.extraRounds(after: 2, pooling: false) == 4)
        #expect(BenchRemeasure.extraRounds(after: 3, pooling: true) == 4 && BenchRemeasure.extraRounds(after: 3, pooling: false) == 6)
        #expect(BenchRemeasure.extraRounds(after: 7, pooling: true) == 5 && BenchRemeasure.extraRounds(after: 7, pooling: false) == 12)
        #expect(BenchRemeasure.extraRounds(after: 12, pooling: true) == nil && BenchRemeasure.extraRounds(after: 12, pooling: false) == nil)
        #expect(BenchRemeasure.extraRounds(after: 40, pooling: true) == nil)
        #expect(BenchRemeasure.extraRounds(after: .max, pooling: true) == nil && BenchRemeasure.extraRounds(after: .min, pooling: false) == nil)
        // Still inconclusive after the second run: it stays so, and there is no third run.
        var asked: [Int] = []
        let r = BenchRemeasure.measure(rounds: 3) { n in asked.append(n); return Self.run(rounds: n) { [50, 60, 90][$0 % 3] } }
        #expect(asked == [3, 6] && r.verdict.kind == .inconclusive, "\(asked): \(r.verdict.kind)")
        asked = []
        _ = BenchRemeasure.measure(rounds: 1) { n in asked.append(n); return Self.run(rounds: n) { _ in 67 } }
        #expect(asked == [1], "one round (--quick) is never measured again: \(asked)")
    }

    @Test("Two runs' rounds pooled: one ratio per round of both, summarised again against the same band; different ratios are not pooled")
    func pooledRatio() throws {
        let a = try #require(BenchRatioSummary(metric: "victim rate", phase: .loaded, ratios: [0.5, 0.6, 0.7], band: 0.67, side: .atMost))
        let b = try #require(BenchRatioSummary(metric: "victim rate", phase: .loaded, ratios: [0.4, 0.4, 0.4], band: 0.67, side: .atMost))
        let q = try #require(BenchRemeasure.pooled(a, b))
        #expect(q.ratios == [0.5, 0.6, 0.7, 0.4, 0.4, 0.4] && q.rounds == 6 && q.band == 0.67 && q.side == .atMost)
        #expect(a.position == .straddles && q.position == .confirms, "\(a.text) → \(q.text)")
        #expect(q == BenchRatioSummary(metric: "victim rate", phase: .loaded, ratios: a.ratios + b.ratios, band: 0.67, side: .atMost))
        var other = b
        for change in [{ (s: inout BenchRatioSummary) in s.metric = "victim p90" }, { $0.phase = .contained }, { $0.band = 0.8 }, { $0.side = .atLeast }] {
            other = b
            change(&other)
            #expect(BenchRemeasure.pooled(a, other) == nil, "\(other)")
        }
        #expect(BenchRemeasure.pooled(nil, b) == nil && BenchRemeasure.pooled(a, nil) == nil)
    }

    @Test("Two runs' windows: the second run's rounds follow the first's, figures of a whole run kept from both")
    func pooledMeasurements() {
        let a = [BenchMeasurement("v", .baseline, 1, "", round: 0), BenchMeasurement("v", .loaded, 2, "", round: 2), BenchMeasurement("share", .evidence, 0.5, "")]
        let b = [BenchMeasurement("v", .baseline, 3, "", round: 0), BenchMeasurement("v", .loaded, 4, "", round: 1), BenchMeasurement("share", .evidence, 0.4, "")]
        let m = BenchRemeasure.pooledMeasurements(a, b, firstRounds: 3)
        #expect(m.map(\.round) == [0, 2, nil, 3, 4, nil] && m.map(\.value) == [1, 2, 0.5, 3, 4, 0.4], "\(m)")
        #expect(m.map(\.name) == ["v", "v", "share (first run)", "v", "v", "share"], "\(m.map(\.name))")
        // A round number that would overflow is kept as a figure of the run, never wrapped.
        let huge = BenchRemeasure.pooledMeasurements([], [BenchMeasurement("v", .loaded, 1, "", round: .max)], firstRounds: 3)
        #expect(huge.map(\.round) == [nil])
    }

    @Test("The verdict of pooled rounds: the runs' judgements agree, or the one naming a failed condition stands; two findings that disagree are inconclusive")
    func pooledVerdict() {
        let can = BenchVerdict(.can, "victim at 97%"), cannot = BenchVerdict(.cannot, "victim at 40%")
        let free = BenchVerdict(.notObserved, "the aggressor was not contained"), short = BenchVerdict(.notMeasurable, "the hog got 0.2 CPU")
        #expect(BenchRemeasure.pooledVerdict(first: can, again: BenchVerdict(.can, "second")) == BenchVerdict(.can, "second"))
        #expect(BenchRemeasure.pooledVerdict(first: can, again: free) == free)
        let first = BenchRemeasure.pooledVerdict(first: short, again: can)
        #expect(first.kind == .notMeasurable && first.reason == "in the first run: the hog got 0.2 CPU", "\(first)")
        #expect(BenchRemeasure.pooledVerdict(first: free, again: short) == short)
        // A first run's failed condition is named before the second's mere straddle.
        let named = BenchRemeasure.pooledVerdict(first: free, again: BenchVerdict(.inconclusive, "straddles"))
        #expect(named.kind == .notObserved && named.reason == "in the first run: the aggressor was not contained", "\(named)")
        let both = BenchRemeasure.pooledVerdict(first: can, again: cannot)
        #expect(both.kind == .inconclusive && both.reason.contains("disagree"), "\(both)")
    }
}
