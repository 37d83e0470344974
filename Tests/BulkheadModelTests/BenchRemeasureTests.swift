import BulkheadConfig
import BulkheadModel
import Testing

/// Adaptive rounds (issue 18): the pure parts of the rule (BenchCellMeasureTests runs the rule
/// itself, `BenchCellMeasure.result`, on synthetic runs).
struct BenchRemeasureTests {
    @Test("The second run is bounded: as many rounds again and one more when pooled (an odd count), twice when it replaces the first, at most 12 in all; none after one round or at the bound")
    func bounded() {
        #expect(BenchRemeasure.extraRounds(after: 1, pooling: true) == nil, "one round has no interval to narrow")
        #expect(BenchRemeasure.extraRounds(after: 2, pooling: true) == 3 && BenchRemeasure.extraRounds(after: 2, pooling: false) == 4)
        #expect(BenchRemeasure.extraRounds(after: 3, pooling: true) == 4 && BenchRemeasure.extraRounds(after: 3, pooling: false) == 6)
        #expect(BenchRemeasure.extraRounds(after: 7, pooling: true) == 5 && BenchRemeasure.extraRounds(after: 7, pooling: false) == 12)
        #expect(BenchRemeasure.extraRounds(after: 12, pooling: true) == nil && BenchRemeasure.extraRounds(after: 12, pooling: false) == nil)
        #expect(BenchRemeasure.extraRounds(after: 40, pooling: true) == nil)
        #expect(BenchRemeasure.extraRounds(after: .max, pooling: true) == nil && BenchRemeasure.extraRounds(after: .min, pooling: false) == nil)
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
