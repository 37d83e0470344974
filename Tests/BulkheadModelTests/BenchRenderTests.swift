import BulkheadConfig
import BulkheadModel
import Foundation
import Testing

/// The bench's pure parts: cell ids, verdict rules, and the three renderings of a report.
struct BenchRenderTests {
    static let report = BenchMatrixReport(
        host: BenchHostFacts(kernel: "6.18.0", cgroupMode: "hybrid", cpuCount: 2, memoryBytes: 1 << 34, bulkheadVersion: "0.1.0"),
        startedAt: "2026-11-30T20:00:00Z", phaseSeconds: 1.5, totalSeconds: 61,
        results: [
            BenchResult(cell: BenchCellID(.cpu, .container), claim: "a hog <limited> to 0.5 CPU", expected: .can,
                        verdict: BenchVerdict(.can, "victim at 96%"), keyFigure: "victim 96%", method: "m",
                        measurements: [BenchMeasurement("victim work rate", .baseline, 100, "units/s"),
                                       BenchMeasurement("victim work rate", .contained, 96, "units/s")],
                        evidence: ["nr_throttled 9"], chartMetric: "victim work rate", seconds: 3),
            BenchResult(cell: BenchCellID(.fileDescriptors, .pod), claim: "no cgroup counts files", expected: .cannot,
                        verdict: BenchVerdict(.notObserved, "rose by 3"), keyFigure: "file-nr +3", method: "m"),
            BenchResult(cell: BenchCellID(.networkBandwidth, .pod), claim: "shaping", expected: .can,
                        verdict: BenchVerdict(.blocked, "needs node network"), keyFigure: "needs node network", method: "m"),
        ])

    @Test("Cell ids read and print RESOURCE/LAYER, and code as that string")
    func cellIDs() throws {
        #expect(BenchCellID(parsing: "memory/pod") == BenchCellID(.memory, .pod))
        #expect(BenchCellID(parsing: "memory") == nil)
        #expect(BenchCellID(parsing: "memory/region") == nil)
        #expect(BenchCellID(parsing: "dns/cluster") == BenchCellID(.dns, .cluster))
        #expect(BenchCellID(.fileDescriptors, .node).description == "fds/node")
        let data = try JSONEncoder().encode([BenchCellID(.ipc, .namespace)])
        #expect(String(decoding: data, as: UTF8.self) == "[\"ipc\\/namespace\"]" || String(decoding: data, as: UTF8.self) == "[\"ipc/namespace\"]")
        #expect(try JSONDecoder().decode([BenchCellID].self, from: data) == [BenchCellID(.ipc, .namespace)])
    }

    @Test("A can verdict needs the band and the containment; a cannot verdict needs the effect; a missing figure is never a pass")
    func verdictRules() {
        #expect(BenchVerdict.judgeCan(victimRatio: 0.9, band: 0.7, contained: true, containment: "x").kind == .can)
        #expect(BenchVerdict.judgeCan(victimRatio: 0.6, band: 0.7, contained: true, containment: "x").kind == .notObserved)
        #expect(BenchVerdict.judgeCan(victimRatio: 0.9, band: 0.7, contained: false, containment: "x").kind == .notObserved)
        #expect(BenchVerdict.judgeCan(victimRatio: nil, band: 0.7, contained: true, containment: "x").kind == .notObserved)
        #expect(BenchVerdict.judgeCan(victimRatio: .nan, band: 0.7, contained: true, containment: "x").kind == .notObserved)
        #expect(BenchVerdict.judgeSlowdown(victimRatio: 0.5, atMost: 0.8, what: "w").kind == .cannot)
        #expect(BenchVerdict.judgeSlowdown(victimRatio: 0.95, atMost: 0.8, what: "w").kind == .notObserved)
        #expect(BenchVerdict.judgeSlowdown(victimRatio: nil, atMost: 0.8, what: "w").kind == .notObserved)
        #expect(BenchVerdict.judgeObserved(true, .cannot, "e").kind == .cannot)
        #expect(BenchVerdict.judgeObserved(false, .cannot, "e").kind == .notObserved)
    }

    @Test("The table has a row per resource and a column per layer, and lists each mismatch with its reason")
    func table() {
        let t = BenchRender.table(Self.report)
        let lines = t.split(separator: "\n").map(String.init)
        #expect(lines[0].contains("container") && lines[0].contains("pod") && !lines[0].contains("node"))
        #expect(lines.contains { $0.hasPrefix("CPU time") && $0.contains("can: victim 96%") })
        #expect(lines.contains { $0.hasPrefix("file descriptors") && $0.contains("!not-observed: file-nr +3") })
        #expect(lines.contains { $0.hasPrefix("network bandwidth") && $0.contains("blocked") })
        #expect(t.contains("1 of 3 cells confirm"))
        #expect(t.contains("! fds/pod: expected cannot, got not-observed: rose by 3"))
        #expect(!t.contains("! network-bandwidth/pod"), "blocked is not a mismatch")
    }

    @Test("A planned cell (the cluster layer) shows as planned, never as a mismatch")
    func plannedIsNotAMismatch() {
        var r = Self.report
        r.results.append(BenchResult(cell: BenchCellID(.dns, .cluster), claim: "one DNS for every node", expected: .cannot,
                                     verdict: BenchVerdict(.planned, "planned, needs a second node: 1. a 2. b"),
                                     keyFigure: "needs 2 nodes", method: "planned, needs a second node: 1. a 2. b"))
        let t = BenchRender.table(r)
        #expect(t.split(separator: "\n")[0].contains("cluster"))
        #expect(t.contains("planned: needs 2 nodes") && !t.contains("!planned") && !t.contains("! dns/cluster"), "\(t)")
        #expect(t.contains("1 of 3 cells confirm the matrix's claim (1 planned, needing a second node)"), "a plan is not counted as a cell that failed its claim: \(t)")
        let h = BenchRender.html(r)
        #expect(h.contains("id=\"dns-cluster\"") && h.components(separatedBy: "class=\"mismatch\"").count - 1 == 1, "only the not-observed cell is outlined")
    }

    @Test("JSON carries every cell with its measurements, the host's facts, and round-trips")
    func json() throws {
        let text = BenchRender.json(Self.report)
        let back = try JSONDecoder().decode(BenchMatrixReport.self, from: Data(text.utf8))
        #expect(back == Self.report)
        let obj = try JSONSerialization.jsonObject(with: Data(text.utf8)) as? [String: Any]
        #expect((obj?["host"] as? [String: Any])?["cgroupMode"] as? String == "hybrid")
        #expect(((obj?["results"] as? [[String: Any]])?.first?["verdict"] as? [String: Any])?["kind"] as? String == "can")
    }

    @Test("HTML is one self-contained page: the matrix, a chart per measured experiment, escaped text")
    func html() {
        let h = BenchRender.html(Self.report)
        #expect(h.hasPrefix("<!DOCTYPE html>"))
        #expect(!h.contains("<script") && !h.contains("src=") && !h.contains("<link"), "no external resources")
        #expect(h.components(separatedBy: "<svg").count - 1 == 1, "one chart: only one result has a chart metric")
        #expect(h.contains("a hog &lt;limited&gt; to 0.5 CPU") && !h.contains("<limited>"))
        #expect(h.contains("id=\"cpu-container\"") && h.contains("href=\"#cpu-container\""))
        #expect(h.contains("victim alone") && h.contains("with aggressor, contained"))
        #expect(h.contains("class=\"mismatch\""), "the not-observed cell is outlined")
    }

    @Test("Chart bars follow the phases in order and scale to the largest")
    func chartBars() throws {
        let r = try #require(Self.report.results.first)
        #expect(r.chartBars.map(\.phase) == [.baseline, .contained])
        let svg = try #require(BenchRender.chart(r))
        #expect(svg.contains("width=\"330\""), "the largest bar is full width")
        #expect(svg.contains("width=\"316\""), "96 of 100")
    }

    /// A report of interleaved rounds: a can cell with its interval, and a cell whose
    /// interval straddles its band.
    static let rounds: BenchMatrixReport = {
        func windows(_ base: [Double], _ other: [Double], _ phase: BenchPhase) -> [BenchMeasurement] {
            base.enumerated().flatMap { i, b in
                [BenchMeasurement("victim work rate", .baseline, b, "units/s", round: i),
                 BenchMeasurement("victim work rate", phase, other[i], "units/s", round: i)]
            }
        }
        let canWindows = windows([100, 102, 98, 100], [96, 93, 99, 98], .contained)
        let can = BenchRatioSummary(metric: "victim work rate", phase: .contained, ratios: [0.96, 93.0 / 102, 99.0 / 98, 0.98], band: 0.7, side: .atLeast)
        let straddle = BenchRatioSummary(metric: "victim work rate", phase: .loaded, ratios: [0.6, 0.7, 0.9], band: 0.75, side: .atMost)
        return BenchMatrixReport(
            host: BenchHostFacts(kernel: "6.18.0", cgroupMode: "v2", cpuCount: 2, memoryBytes: nil, bulkheadVersion: "0.1.0"),
            startedAt: "2026-12-06T06:00:00Z", phaseSeconds: 1, rounds: 4, totalSeconds: 170,
            results: [
                BenchResult(cell: BenchCellID(.cpu, .container), claim: "c", expected: .can,
                            verdict: BenchVerdict.judgeCan(summary: can, contained: true, containment: "throttled"),
                            keyFigure: "victim \(can!.text)", method: "m", measurements: canWindows,
                            chartMetric: "victim work rate", ratio: can),
                BenchResult(cell: BenchCellID(.cacheBandwidth, .pod), claim: "c", expected: .cannot,
                            verdict: BenchVerdict.judgeSlowdown(summary: straddle, what: "sweep"),
                            keyFigure: "victim \(straddle!.text)", method: "m",
                            measurements: windows([100, 100, 100], [60, 70, 90], .loaded),
                            chartMetric: "victim work rate", ratio: straddle),
            ])
    }()

    @Test("Rounds: the table shows the interval and inconclusive, never as a pass")
    func roundsTable() {
        let t = BenchRender.table(Self.rounds)
        let lines = t.split(separator: "\n").map(String.init)
        #expect(lines.contains { $0.hasPrefix("CPU time") && $0.contains("can: victim 97% [91–101%]") }, "\(t)")
        #expect(lines.contains { $0.hasPrefix("CPU caches") && $0.contains("!inconclusive: victim 70% [60–90%]") }, "\(t)")
        #expect(t.contains("1 of 2 cells confirm the matrix's claim (1 inconclusive"), "\(t)")
        #expect(t.contains("4 rounds of 1 s windows"))
        #expect(t.contains("! cache-bandwidth/pod: expected cannot, got inconclusive"), "\(t)")
    }

    @Test("Rounds: the HTML draws error bars, the ratio's interval against the band, and an inconclusive colour")
    func roundsHTML() {
        let h = BenchRender.html(Self.rounds)
        #expect(h.components(separatedBy: "class=\"errorbar\"").count - 1 == 4, "one error bar per phase of each chart")
        #expect(h.components(separatedBy: "class=\"band\"").count - 1 == 2, "the band under each chart")
        #expect(h.contains("<b>inconclusive</b>"))
        #expect(h.contains("background:#f6e7a1"), "the inconclusive colour")
        #expect(h.contains("span style=\"background:#f6e7a1\">inconclusive</span>"), "in the legend")
        #expect(h.contains("4 interleaved rounds per ratio cell"))
        #expect(h.contains("<td>victim work rate</td><td>baseline</td><td>4</td>"), "every window with its round")
    }

    @Test("Rounds: the JSON keeps every window with its round and the ratio summary; a report without rounds reads as one")
    func roundsJSON() throws {
        let text = BenchRender.json(Self.rounds)
        let back = try JSONDecoder().decode(BenchMatrixReport.self, from: Data(text.utf8))
        #expect(back == Self.rounds)
        #expect(back.results[0].measurements.count == 8)
        #expect(back.results[0].windows("victim work rate", .baseline).map(\.round) == [0, 1, 2, 3])
        #expect(back.results[0].value("victim work rate", .baseline) == 100, "the median of the windows")
        #expect(back.results[1].ratio?.ratios == [0.6, 0.7, 0.9])
        let old = BenchRender.json(Self.report).replacingOccurrences(of: "\"rounds\" : 1,", with: "")
        #expect(!old.contains("\"rounds\""))
        #expect(try JSONDecoder().decode(BenchMatrixReport.self, from: Data(old.utf8)).rounds == 1)
    }
}
