import BulkheadConfig
import BulkheadModel
import Foundation
import Testing

/// The bench's statistics (issue 18): medians, the bootstrap interval of the median, and
/// verdicts that need the whole interval on the claim's side of the band.
struct BenchStatisticsTests {
    @Test("Median and percentiles of known samples (type 7, as R and NumPy)")
    func medianAndPercentile() {
        #expect(BenchStatistics.median([3, 1, 2]) == 2)
        #expect(BenchStatistics.median([4, 1, 3, 2]) == 2.5)
        #expect(BenchStatistics.median([7]) == 7)
        #expect(BenchStatistics.median([]) == nil)
        #expect(BenchStatistics.median([.nan, 5, .infinity]) == 5, "only finite values count")
        #expect(BenchStatistics.percentile(sorted: [1, 2, 3, 4], 0.25) == 1.75)
        #expect(BenchStatistics.percentile(sorted: [1, 2, 3, 4], 0) == 1)
        #expect(BenchStatistics.percentile(sorted: [1, 2, 3, 4], 1) == 4)
        #expect(BenchStatistics.percentile(sorted: [10, 20], 0.975) == 19.75)
    }

    @Test("The generator is SplitMix64: its first outputs for seed 0 are the reference values")
    func generator() {
        var g = BenchRandom(seed: 0)
        // Reference: Vigna's splitmix64.c with x = 0.
        #expect(g.next() == 0xE220_A839_7B1D_CDAF)
        #expect(g.next() == 0x6E78_9E6A_A1B9_65F4)
        var h = BenchRandom(seed: 42)
        for _ in 0..<1000 { #expect(h.next(below: 5) < 5) }
    }

    @Test("Bootstrap interval of a known sample: few rounds give their range, many a narrower interval around the median")
    func bootstrapKnownSample() throws {
        // Three or five values: the median of a resample is the smallest value with
        // probability 7/27 (n=3) or 0.058 (n=5), more than 2.5%: the interval is the range.
        let three = try #require(BenchStatistics.bootstrapMedianInterval([0.96, 0.91, 1.01]))
        #expect(three == 0.91...1.01)
        let five = try #require(BenchStatistics.bootstrapMedianInterval([0.9, 0.95, 1.0, 1.05, 1.1]))
        #expect(five == 0.9...1.1)
        // 41 values evenly from 0.8 to 1.2 (median 1.0, spacing 0.01): the median's sampling
        // spread is about 1.25·σ/√n ≈ 0.023, so the 95% interval is about ±0.045.
        let many = (0...40).map { 0.8 + Double($0) * 0.01 }
        let ci = try #require(BenchStatistics.bootstrapMedianInterval(many))
        #expect(ci.lowerBound >= 0.92 && ci.lowerBound <= 0.98, "\(ci)")
        #expect(ci.upperBound >= 1.02 && ci.upperBound <= 1.08, "\(ci)")
        // Reproducible: the seed is fixed.
        #expect(BenchStatistics.bootstrapMedianInterval(many) == ci)
        #expect(BenchStatistics.bootstrapMedianInterval([0.8]) == 0.8...0.8, "one round: no interval")
        #expect(BenchStatistics.bootstrapMedianInterval([]) == nil)
    }

    @Test("A can needs the interval at or above the band; straddling it is inconclusive, below it not observed")
    func canVerdicts() throws {
        func can(_ r: [Double], contained: Bool = true) -> BenchVerdictKind {
            BenchVerdict.judgeCan(summary: BenchRatioSummary(metric: "m", phase: .contained, ratios: r, band: 0.7, side: .atLeast),
                                  contained: contained, containment: "c").kind
        }
        #expect(can([0.92, 0.96, 1.01, 0.88]) == .can)
        #expect(can([0.65, 0.9, 1.0, 0.95]) == .inconclusive, "median 92% but one round below the band")
        #expect(can([0.5, 0.6, 0.55, 0.62]) == .notObserved)
        #expect(can([0.92, 0.96, 1.01], contained: false) == .notObserved, "the aggressor must be contained")
        #expect(can([]) == .notObserved, "no round gave a ratio")
        #expect(can([.nan, .nan]) == .notObserved)
        let v = BenchVerdict.judgeCan(summary: BenchRatioSummary(metric: "m", phase: .contained, ratios: [0.65, 0.9, 1.0], band: 0.7, side: .atLeast),
                                      contained: true, containment: "c")
        #expect(v.reason.contains("straddles") && v.reason.contains("90% [65–100%]"), "\(v.reason)")
    }

    @Test("A cannot needs the interval at or below the band; straddling it is inconclusive")
    func cannotVerdicts() {
        func cannot(_ r: [Double]) -> BenchVerdictKind {
            BenchVerdict.judgeSlowdown(summary: BenchRatioSummary(metric: "m", phase: .loaded, ratios: r, band: 0.75, side: .atMost), what: "w").kind
        }
        #expect(cannot([0.5, 0.55, 0.6]) == .cannot)
        #expect(cannot([0.75, 0.7]) == .cannot, "the band itself is on the cannot side")
        #expect(cannot([0.5, 0.6, 0.9]) == .inconclusive)
        #expect(cannot([0.9, 0.95, 1.0]) == .notObserved)
        // One round keeps today's single-sample verdicts.
        #expect(BenchVerdict.judgeSlowdown(victimRatio: 0.7, atMost: 0.75, what: "w").kind == .cannot)
        #expect(BenchVerdict.judgeSlowdown(victimRatio: 0.8, atMost: 0.75, what: "w").kind == .notObserved)
    }

    @Test("Properties over random samples: the interval holds the median inside the range, and a verdict's side follows it")
    func properties() throws {
        var g = BenchRandom(seed: 7)
        func uniform(_ a: Double, _ b: Double) -> Double { a + (b - a) * Double(g.next() >> 11) / Double(1 << 53) }
        for _ in 0..<200 {
            let n = Int(g.next(below: 12)) + 1
            let xs = (0..<n).map { _ in uniform(0.3, 1.3) }
            let s = try #require(BenchRatioSummary(metric: "m", phase: .loaded, ratios: xs, band: uniform(0.5, 1.0), side: g.next() & 1 == 0 ? .atLeast : .atMost))
            #expect(s.low <= s.median && s.median <= s.high, "\(xs)")
            #expect(s.low >= xs.min()! && s.high <= xs.max()!, "\(xs)")
            #expect(s.rounds == n)
            let kind = s.side == .atLeast
                ? BenchVerdict.judgeCan(summary: s, contained: true, containment: "c").kind
                : BenchVerdict.judgeSlowdown(summary: s, what: "w").kind
            switch kind {
            case .can: #expect(s.low >= s.band)
            case .cannot: #expect(s.high <= s.band)
            case .inconclusive: #expect(s.low <= s.band && s.high >= s.band)
            case .notObserved: #expect(s.side == .atLeast ? s.high < s.band : s.low > s.band)
            default: Issue.record("unexpected \(kind)")
            }
            if n == 1 { #expect(kind != .inconclusive, "one round never straddles") }
        }
    }

    @Test("An inconclusive cell never confirms the claim")
    func inconclusiveNeverConfirms() {
        for expected in [BenchVerdictKind.can, .cannot] {
            let r = BenchResult(cell: BenchCellID(.cpu, .pod), claim: "c", expected: expected,
                                verdict: BenchVerdict(.inconclusive, "straddles"), keyFigure: "victim 80% [60–100%]", method: "m")
            #expect(!r.confirmsClaim)
        }
    }

    @Test("An aggressor that did not get what the experiment needs makes a can, not-observed or inconclusive cell not measurable, never a pass; a cannot observed anyway stands")
    func notMeasurableWhenTheAggressorStarved() {
        let starved = [BenchVerdict.Precondition("the hog's own CPU", 0.12, atLeast: 0.4, "CPU")]
        let fed = [BenchVerdict.Precondition("the hog's own CPU", 0.49, atLeast: 0.4, "CPU")]
        let unknown = [BenchVerdict.Precondition("the hog's own CPU", nil, atLeast: 0.4, "CPU")]
        for kind in [BenchVerdictKind.can, .notObserved, .inconclusive] {
            let v = BenchVerdict(kind, "rounds said so").requiring(starved, context: "load average 17")
            #expect(v.kind == .notMeasurable, "\(kind)")
            #expect(v.reason.contains("0.12 CPU (needs ≥ 0.4 CPU)") && v.reason.contains("load average 17") && v.reason.contains("\(kind.rawValue): rounds said so"), "\(v.reason)")
            #expect(BenchVerdict(kind, "r").requiring(fed, context: "c").kind == kind)
            #expect(BenchVerdict(kind, "r").requiring(unknown, context: "c").kind == kind, "no figure, no change")
            let r = BenchResult(cell: BenchCellID(.cpu, .pod), claim: "c", expected: .can, verdict: v, keyFigure: "k", method: "m")
            #expect(!r.confirmsClaim)
        }
        #expect(BenchVerdict(.cannot, "slowed anyway").requiring(starved, context: "c").kind == .cannot)
        let v = BenchVerdict(.can, "victim 98%").requiring(starved, context: "load average 17")
        let report = BenchMatrixReport(host: BenchHostFacts(kernel: "6.18.0", cgroupMode: "hybrid", cpuCount: 2, memoryBytes: nil, bulkheadVersion: "0.1.0"),
                                       startedAt: "2026-12-06T09:00:00Z", phaseSeconds: 1, rounds: 3, totalSeconds: 10,
                                       results: [BenchResult(cell: BenchCellID(.cpu, .container), claim: "c", expected: .can, verdict: v, keyFigure: "victim 98%", method: "m")])
        let table = BenchRender.table(report)
        #expect(table.contains("0 of 1 cells confirm") && table.contains("1 not measurable: the aggressor did not get what the experiment needs")
                && table.contains("! cpu/container: expected can, got not-measurable: the experiment could not test its claim"), "\(table)")
        #expect(BenchRender.html(report).contains(">not-measurable</span>"), "its own colour in the legend")
    }

    @Test("A run's windows interleave the phases in ABBA order, and an aggressor's adjacent windows make one span")
    func windowPlan() {
        let plan = BenchWindowPlan(rounds: 3, phases: [.baseline, .loaded], window: 1, gap: 0.25)
        #expect(plan.windows.map(\.phase) == [.baseline, .loaded, .loaded, .baseline, .baseline, .loaded])
        #expect(plan.windows.map(\.round) == [0, 0, 1, 1, 2, 2])
        #expect(plan.windows.map(\.at) == [0, 1.25, 2.5, 3.75, 5, 6.25])
        #expect(plan.length == 7.25)
        #expect(plan.windows[2].key("v") == "v_r1_loaded")
        // Loaded windows 1 and 2 are adjacent: one span from 0.15 s before the first to 0.05 s
        // after the second; window 5 is a span of its own. No span reaches into a baseline window.
        let spans = plan.spans(.loaded)
        #expect(spans.count == 2)
        #expect(abs(spans[0].from - 1.1) < 1e-9 && abs(spans[0].to - 3.55) < 1e-9, "\(spans)")
        #expect(abs(spans[1].from - 6.1) < 1e-9 && abs(spans[1].to - 7.3) < 1e-9, "\(spans)")
        for b in plan.windows where b.phase == .baseline {
            #expect(spans.allSatisfy { $0.to <= b.at || $0.from >= b.at + plan.window }, "a span overlaps baseline window \(b)")
        }
        // Three phases: each round has one window of each; the contained flood's spans are its own.
        let three = BenchWindowPlan(rounds: 2, phases: [.baseline, .loaded, .contained], window: 1, gap: 1)
        #expect(three.windows.map(\.phase) == [.baseline, .loaded, .contained, .contained, .loaded, .baseline])
        #expect(three.spans(.contained, pre: 0.6).count == 1)
        #expect(three.spans(.loaded, pre: 0.6).count == 2)
        #expect(BenchWindowPlan(rounds: 0, phases: [.baseline, .loaded], window: 1, gap: 0).windows.count == 2, "at least one round")
    }
}
