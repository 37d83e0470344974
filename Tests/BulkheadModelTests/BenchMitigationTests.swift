import BulkheadConfig
import BulkheadModel
import Foundation
import Testing

/// What closes each "cannot" (issue 18): a cell's mitigation is a third value, in the JSON,
/// the table ("cannot → with CONTROL: can") and the HTML (a third bar and its section), and it
/// never changes the cell's claim.
struct BenchMitigationTests {
    static func cell(_ mitigation: BenchMitigation?) -> BenchResult {
        var r = BenchResult(cell: BenchCellID(.cacheBandwidth, .container), claim: "no layer partitions the caches", expected: .cannot,
                            verdict: BenchVerdict(.cannot, "victim at 75%"), keyFigure: "victim 75%", method: "m",
                            measurements: [BenchMeasurement("victim sweep rate", .baseline, 4000, "MB/CPU-s"),
                                           BenchMeasurement("victim sweep rate", .loaded, 3000, "MB/CPU-s")],
                            chartMetric: "victim sweep rate", seconds: 4)
        r.mitigation = mitigation
        return r
    }

    static let pinned = BenchMitigation(
        control: "cpuset", verdict: BenchVerdict(.can, "victim at 98% with the aggressor on another CPU"), keyFigure: "victim 98%",
        method: "victim on CPU 0, aggressor on CPU 1 <pinned>",
        measurements: [BenchMeasurement("victim sweep rate", .baseline, 4100, "MB/CPU-s"),
                       BenchMeasurement("victim sweep rate", .contained, 4018, "MB/CPU-s")],
        evidence: ["no resctrl on this host"])

    static func report(_ results: [BenchResult]) -> BenchMatrixReport {
        BenchMatrixReport(host: BenchHostFacts(kernel: "6.18.0", cgroupMode: "hybrid", cpuCount: 2, memoryBytes: nil, bulkheadVersion: "0.1.0"),
                          startedAt: "2026-12-06T06:00:00Z", phaseSeconds: 1, totalSeconds: 9, results: results)
    }

    @Test("The mitigation is kept in the JSON and decodes back; a report without one decodes as before")
    func json() throws {
        let r = Self.report([Self.cell(Self.pinned)])
        let text = BenchRender.json(r)
        let back = try JSONDecoder().decode(BenchMatrixReport.self, from: Data(text.utf8))
        #expect(back == r)
        #expect(back.results[0].mitigation?.verdict.kind == .can)
        #expect(back.results[0].mitigation?.value("victim sweep rate", .contained) == 4018)
        let plain = BenchRender.json(Self.report([Self.cell(nil)]))
        #expect(!plain.contains("mitigation"), "no key without a mitigation")
        #expect(try JSONDecoder().decode(BenchMatrixReport.self, from: Data(plain.utf8)).results[0].mitigation == nil)
    }

    @Test("The table's cell reads \"cannot → with CONTROL: can\", the claim stays cannot, and a mitigation that fails is said plainly")
    func table() {
        let held = BenchRender.table(Self.report([Self.cell(Self.pinned)]))
        #expect(BenchRender.cellText(Self.cell(Self.pinned)) == "cannot → with cpuset: can: victim 75%")
        #expect(held.contains("→ cache-bandwidth/container: cannot → with cpuset: can (victim 98%)"))
        #expect(held.contains("1 of 1 cells confirm"), "the claim is still the cell's cannot")
        #expect(!held.contains("did not hold"))
        var failed = Self.pinned
        failed.verdict = BenchVerdict(.cannot, "victim still at 70%: the L3 is shared")
        let t = BenchRender.table(Self.report([Self.cell(failed)]))
        #expect(t.contains("cannot → with cpuset: cannot"))
        #expect(t.contains("the mitigation did not hold: victim still at 70%: the L3 is shared"))
        #expect(t.contains("1 of 1 cells confirm"), "a mitigation that does not hold changes no verdict")
        #expect(!BenchRender.table(Self.report([Self.cell(nil)])).contains("What closes"))
    }

    @Test("The HTML shows the mitigation in the matrix cell, as the chart's third bar, and in the cell's section, escaped")
    func html() {
        let h = BenchRender.html(Self.report([Self.cell(Self.pinned)]))
        #expect(h.contains("→ with cpuset: <b>can</b>"))
        #expect(h.contains(">with cpuset</text>"), "the third bar's label")
        #expect(h.components(separatedBy: "<rect").count - 1 == 3, "three bars: alone, with aggressor, with the control")
        #expect(h.contains("What closes it: cpuset"))
        #expect(h.contains("&lt;pinned&gt;") && !h.contains("<pinned>"))
        let plain = BenchRender.html(Self.report([Self.cell(nil)]))
        #expect(plain.components(separatedBy: "<rect").count - 1 == 2, "two bars without a mitigation")
        #expect(!plain.contains("What closes it"))
        var failed = Self.pinned
        failed.verdict = BenchVerdict(.notObserved, "pinning not shown")
        #expect(BenchRender.html(Self.report([Self.cell(failed)])).contains("The mitigation did not hold here."))
    }

    /// An io.max run as `bench --vm` reports it: rounds of windows with a ratio, the victim's
    /// own cgroup's PSI beside the kernel's.
    static var ioMax: BenchMitigation {
        var ms: [BenchMeasurement] = []
        for round in 0..<3 {
            ms.append(BenchMeasurement("victim fsync rate", .baseline, 400, "ops/s", round: round))
            ms.append(BenchMeasurement("victim fsync rate", .contained, 380 + Double(round), "ops/s", round: round))
            for (phase, io) in [(BenchPhase.baseline, 20.0), (.contained, 35.0)] {
                ms.append(BenchMeasurement(PressureWindow.name(.io, full: false, scope: .victimCgroup), phase, io, "%", round: round))
                ms.append(BenchMeasurement(PressureWindow.name(.io, full: false, scope: .host), phase, io + 30, "%", round: round))
            }
        }
        return BenchMitigation(control: "io.max", verdict: BenchVerdict(.can, "victim at 95% [95–96%]"), keyFigure: "victim 95% [95–96%], p90 1.2 → 1.3 ms",
                               method: "the writers under io.max", measurements: ms, evidence: ["io.max read back: 254:0 rbps=max wbps=4194304"],
                               ratio: BenchRatioSummary(metric: "victim fsync service", phase: .contained, ratios: [0.95, 0.95, 0.96], band: 0.7, side: .atLeast),
                               seconds: 7.2)
    }

    @Test("A mitigation run in rounds shows its interval, and the victim's cgroup's PSI beside the host's, in the text and the HTML; a hybrid host says victim PSI needs v2")
    func roundsAndVictimPressure() throws {
        var r = Self.cell(Self.ioMax)
        r.measurements.append(BenchMeasurement(PressureWindow.name(.io, full: false, scope: .host), .baseline, 10, "%", round: 0))
        let hybrid = Self.report([r])
        let t = BenchRender.table(hybrid)
        #expect(t.contains("→ cache-bandwidth/container: cannot → with io.max: can (victim 95% [95–96%], p90 1.2 → 1.3 ms)"), "\(t)")
        #expect(t.contains("cache-bandwidth/container, with io.max: Pressure stalls as a share of each window (victim cgroup): victim alone: io some 20 %; with io.max: io some 35 %"), "\(t)")
        #expect(t.contains("cache-bandwidth/container, with io.max: Pressure stalls as a share of each window (host): victim alone: io some 50 %; with io.max: io some 65 %"), "\(t)")
        #expect(t.contains("the victim's own cgroup's PSI needs cgroup v2, and this host's cgroups are hybrid"), "said plainly on a hybrid host: \(t)")
        #expect(t.contains("; 9 s (the mitigation runs 7 s of it) on 2 CPUs"), "where the time goes: \(t)")
        #expect(!BenchRender.table(Self.report([Self.cell(Self.pinned)])).contains("the mitigation runs"), "nothing to say without a recorded time")
        let h = BenchRender.html(hybrid)
        #expect(h.contains("victim with io.max: 95% [95–96%] of baseline over 3 round(s)"))
        // Its chart (metric: the victim's fsync rate) has the third bar with its error bar.
        var chartCell = r
        chartCell.chartMetric = "victim fsync rate"
        chartCell.measurements = [BenchMeasurement("victim fsync rate", .baseline, 400, "ops/s", round: 0), BenchMeasurement("victim fsync rate", .baseline, 410, "ops/s", round: 1),
                                  BenchMeasurement("victim fsync rate", .loaded, 100, "ops/s", round: 0), BenchMeasurement("victim fsync rate", .loaded, 120, "ops/s", round: 1)]
        let svg = try #require(BenchRender.chart(chartCell))
        #expect(svg.components(separatedBy: "class=\"errorbar\"").count - 1 == 3, "alone, loaded and with io.max each with an error bar: \(svg)")
        #expect(svg.contains(">with io.max</text>") && svg.contains("381 ops/s [380–382]"), "\(svg)")
        #expect(h.contains("Pressure stalls as a share of each window (victim cgroup): victim alone: io some 20 %; with io.max: io some 35 %"), "the section shows the victim's cgroup's PSI")
        #expect(h.contains("needs cgroup v2"))
        var v2 = hybrid
        v2.host.cgroupMode = "unified" // CgroupHost.Mode.unified: cgroup v2 only
        #expect(!BenchRender.table(v2).contains("needs cgroup v2") && !BenchRender.html(v2).contains("needs cgroup v2"), "no note on a v2 host")
        // The JSON keeps every window with its round and the ratio.
        let back = try JSONDecoder().decode(BenchMatrixReport.self, from: Data(BenchRender.json(hybrid).utf8))
        #expect(back.results[0].mitigation?.ratio?.rounds == 3 && back.results[0].mitigation?.seconds == 7.2)
        #expect(back.results[0].mitigation?.measurements.filter { $0.phase == .contained && $0.round != nil }.count == 9)
    }
}
