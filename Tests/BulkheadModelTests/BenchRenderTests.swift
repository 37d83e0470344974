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
}
