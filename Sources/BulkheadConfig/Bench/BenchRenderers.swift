import BulkheadModel
import Foundation

/// The matrix as text, JSON and a self-contained HTML page. Pure functions of the report.
public enum BenchRender {
    // MARK: text

    /// Rows are resources, columns layers; each cell its verdict and key figure. A cell
    /// whose verdict differs from the matrix's claim is marked with `!`.
    public static func table(_ report: BenchMatrixReport, width: Int = 36) -> String {
        let layers = BenchLayer.allCases.filter { l in report.results.contains { $0.cell.layer == l } }
        let resources = BenchResource.allCases.filter { r in report.results.contains { $0.cell.resource == r } }
        let first = max(8, resources.map(\.title.count).max() ?? 8)
        func pad(_ s: String, _ n: Int) -> String {
            s.count > n ? String(s.prefix(n - 1)) + "…" : s + String(repeating: " ", count: n - s.count)
        }
        var lines = [pad("", first) + " | " + layers.map { pad($0.rawValue, width) }.joined(separator: " | ")]
        lines.append(String(repeating: "-", count: first) + "-+-" + layers.map { _ in String(repeating: "-", count: width) }.joined(separator: "-+-"))
        for r in resources {
            let cells = layers.map { l -> String in
                guard let res = report.result(BenchCellID(r, l)) else { return pad("", width) }
                return pad(cellText(res), width)
            }
            lines.append(pad(r.title, first) + " | " + cells.joined(separator: " | "))
        }
        let confirmed = report.results.filter(\.confirmsClaim).count
        // Planned cells (the cluster layer) are not measured: they are counted apart.
        let planned = report.results.filter { $0.verdict.kind == .planned }.count
        lines.append("")
        let inconclusive = report.results.filter { $0.verdict.kind == .inconclusive }.count
        let unmeasurable = report.results.filter { $0.verdict.kind == .notMeasurable }.count
        let notes = [planned > 0 ? "\(planned) planned, needing a second node" : nil,
                     inconclusive > 0 ? "\(inconclusive) inconclusive: the interval straddles the band" : nil,
                     unmeasurable > 0 ? "\(unmeasurable) not measurable: the aggressor did not get what the experiment needs" : nil].compactMap { $0 }
        lines.append("\(confirmed) of \(report.results.count - planned) cells confirm the matrix's claim\(notes.isEmpty ? "" : " (" + notes.joined(separator: "; ") + ")"); \(report.rounds) \(report.rounds == 1 ? "round" : "rounds") of \(BenchFormat.value(report.phaseSeconds, "s")) windows; \(Int(report.totalSeconds.rounded())) s\(mitigationSeconds(report).map { " (the mitigation runs \(Int($0.rounded())) s of it)" } ?? "") on \(report.host.cpuCount) CPUs, kernel \(report.host.kernel), cgroups \(report.host.cgroupMode).")
        for res in report.results where !res.confirmsClaim && res.verdict.kind != .skipped && res.verdict.kind != .blocked && res.verdict.kind != .planned {
            lines.append("! \(res.cell): expected \(res.expected.rawValue), got \(res.verdict.kind.rawValue): \(res.verdict.reason)")
        }
        lines += mitigationLines(report)
        lines += serviceBlock(report)
        return lines.joined(separator: "\n") + "\n"
    }

    /// "can: victim 96%" / "blocked".
    public static func cellText(_ r: BenchResult) -> String {
        let mark = r.confirmsClaim || r.verdict.kind == .skipped || r.verdict.kind == .blocked || r.verdict.kind == .planned ? "" : "!"
        let fig = r.keyFigure.isEmpty ? "" : ": " + r.keyFigure
        return mark + r.verdict.kind.rawValue + (r.mitigation.map { " → " + $0.summary } ?? "") + fig
    }

    // MARK: JSON

    public static func json(_ report: BenchMatrixReport) -> String {
        let e = JSONEncoder()
        e.outputFormatting = [.prettyPrinted, .sortedKeys, .withoutEscapingSlashes]
        e.nonConformingFloatEncodingStrategy = .convertToString(positiveInfinity: "inf", negativeInfinity: "-inf", nan: "nan")
        return (try? String(decoding: e.encode(report), as: UTF8.self)) ?? "{}"
    }

    // MARK: HTML

    static func escape(_ s: String) -> String {
        var o = ""
        for c in s {
            switch c {
            case "&": o += "&amp;"
            case "<": o += "&lt;"
            case ">": o += "&gt;"
            case "\"": o += "&quot;"
            default: o.append(c)
            }
        }
        return o
    }

    static func color(_ k: BenchVerdictKind) -> String {
        switch k {
        case .can: "#d7f0d2"
        case .cannot: "#f8d9c4"
        case .notObserved: "#f3c6c6"
        case .inconclusive: "#f6e7a1"
        case .notMeasurable: "#e6d3ee"
        case .blocked: "#e4e4f4"
        case .skipped: "#eeeeee"
        case .planned: "#e8eef8"
        }
    }

    static let phaseColors: [BenchPhase: String] = [.baseline: "#4a7ab5", .loaded: "#c9643b", .contained: "#4f9a57"]
    static let phaseLabels: [BenchPhase: String] = [.baseline: "victim alone", .loaded: "with aggressor", .contained: "with aggressor, contained"]

    /// A horizontal bar chart of the chart metric per phase, as inline SVG; nil without bars.
    /// Each bar is the median of the phase's windows, with the 95% bootstrap interval of that
    /// median as an error bar when the phase has several windows; below the bars, the
    /// victim's ratio over the rounds as a strip: its interval, its median and the band.
    public static func chart(_ r: BenchResult) -> String? {
        let bars = r.chartBars
        let third = mitigationBar(r)
        guard !bars.isEmpty, let unit = bars.first?.unit else { return nil }
        let intervals = bars.map { r.chartInterval($0.phase) }
        let maxV = max((bars.map(\.value) + intervals.compactMap { $0?.upperBound } + [third?.value ?? 0, third?.interval?.upperBound ?? 0]).max() ?? 1, 1e-9)
        let rowH = 28, labelW = 190, barW = 330
        let strip = r.ratio == nil ? 0 : 46
        let rows = bars.count + (third == nil ? 0 : 1)
        let h = rows * rowH + 26 + strip
        func x(_ v: Double) -> Int { labelW + max(0, Int(Double(barW) * v / maxV)) }
        var s = "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"\(labelW + barW + 280)\" height=\"\(h)\" role=\"img\" aria-label=\"\(escape(r.chartMetric ?? ""))\">"
        // One bar: its label, its median, and its 95% interval as an error bar when it has one.
        func bar(_ i: Int, label text: String, color: String, value: Double, unit: String, interval ci: ClosedRange<Double>?) {
            let y = i * rowH + 4
            let w = max(1, Int(Double(barW) * value / maxV))
            var end = labelW + w
            s += "<text x=\"0\" y=\"\(y + 17)\" font-size=\"13\">\(escape(text))</text>"
            s += "<rect x=\"\(labelW)\" y=\"\(y)\" width=\"\(w)\" height=\"22\" fill=\"\(color)\"/>"
            if let ci {
                let a = x(ci.lowerBound), c = x(ci.upperBound), m = y + 11
                s += "<g class=\"errorbar\" stroke=\"#222\" stroke-width=\"1.5\"><line x1=\"\(a)\" y1=\"\(m)\" x2=\"\(c)\" y2=\"\(m)\"/>"
                s += "<line x1=\"\(a)\" y1=\"\(m - 6)\" x2=\"\(a)\" y2=\"\(m + 6)\"/><line x1=\"\(c)\" y1=\"\(m - 6)\" x2=\"\(c)\" y2=\"\(m + 6)\"/></g>"
                end = max(end, c)
            }
            var label = BenchFormat.value(value, unit)
            if let ci { label += " [\(BenchFormat.value(ci.lowerBound, ""))–\(BenchFormat.value(ci.upperBound, ""))]" }
            s += "<text x=\"\(end + 6)\" y=\"\(y + 17)\" font-size=\"13\">\(escape(label))</text>"
        }
        for (i, b) in bars.enumerated() {
            bar(i, label: phaseLabels[b.phase] ?? b.phase.rawValue, color: phaseColors[b.phase] ?? "#888", value: b.value, unit: b.unit, interval: intervals[i])
        }
        if let b = third {
            // The mitigation's bar: the victim next to the aggressor with the control in place.
            bar(bars.count, label: b.label, color: b.color, value: b.value, unit: b.unit, interval: b.interval)
        }
        let axisY = rows * rowH + 22
        s += "<text x=\"\(labelW)\" y=\"\(axisY)\" font-size=\"11\" fill=\"#555\">\(escape(r.chartMetric ?? "")) (\(escape(unit)))\(intervals.contains { $0 != nil } || third?.interval != nil ? ", median of the windows, bar: 95% interval" : "")</text>"
        if let q = r.ratio { s += ratioStrip(q, y: axisY + 8, labelW: labelW, width: barW) }
        return s + "</svg>"
    }

    /// The ratio strip: an axis from 0 to the larger of 125% and the interval's end, the band
    /// as a dashed line, the interval as a bar in the verdict's colour, the median as a tick.
    static func ratioStrip(_ q: BenchRatioSummary, y: Int, labelW: Int, width: Int) -> String {
        let top = max(1.25, q.high * 1.05, q.band * 1.1)
        func x(_ v: Double) -> Int { labelW + Int(Double(width) * min(max(v, 0), top) / top) }
        let fill = color(stripKind(q))
        var s = "<g class=\"ratio\"><text x=\"0\" y=\"\(y + 15)\" font-size=\"13\">victim ratio (\(q.phase.rawValue) / alone)</text>"
        s += "<line x1=\"\(labelW)\" y1=\"\(y + 20)\" x2=\"\(labelW + width)\" y2=\"\(y + 20)\" stroke=\"#999\"/>"
        s += "<rect class=\"interval\" x=\"\(x(q.low))\" y=\"\(y + 4)\" width=\"\(max(2, x(q.high) - x(q.low)))\" height=\"16\" fill=\"\(fill)\" stroke=\"#444\"/>"
        s += "<line x1=\"\(x(q.median))\" y1=\"\(y + 1)\" x2=\"\(x(q.median))\" y2=\"\(y + 23)\" stroke=\"#000\" stroke-width=\"2\"/>"
        s += "<line class=\"band\" x1=\"\(x(q.band))\" y1=\"\(y - 2)\" x2=\"\(x(q.band))\" y2=\"\(y + 28)\" stroke=\"#b00\" stroke-dasharray=\"4 3\"/>"
        s += "<text x=\"\(x(q.band) + 3)\" y=\"\(y + 36)\" font-size=\"11\" fill=\"#b00\">band \(q.side == .atLeast ? "≥" : "≤") \(BenchFormat.percent(q.band))</text>"
        s += "<text x=\"\(labelW + width + 8)\" y=\"\(y + 17)\" font-size=\"13\">\(escape(q.text))</text></g>"
        return s
    }

    /// The colour of a ratio's interval: the verdict its position alone gives.
    static func stripKind(_ q: BenchRatioSummary) -> BenchVerdictKind {
        switch q.position {
        case .confirms: q.side == .atLeast ? .can : .cannot
        case .refutes: .notObserved
        case .straddles: .inconclusive
        }
    }

    /// A self-contained page: how to read it, the matrix, then one section per experiment.
    public static func html(_ report: BenchMatrixReport) -> String {
        let layers = BenchLayer.allCases.filter { l in report.results.contains { $0.cell.layer == l } }
        let resources = BenchResource.allCases.filter { r in report.results.contains { $0.cell.resource == r } }
        var h = """
            <!DOCTYPE html>
            <html lang="en"><head><meta charset="utf-8"><title>bulkhead bench: what each isolation layer isolates</title>
            <style>
            body{font-family:system-ui,sans-serif;max-width:1100px;margin:24px auto;padding:0 16px;color:#222}
            table{border-collapse:collapse}td,th{border:1px solid #bbb;padding:6px 8px;vertical-align:top;font-size:14px}
            th{background:#f4f4f4;text-align:left}.legend span{display:inline-block;padding:2px 8px;margin-right:6px;border:1px solid #bbb}
            section{border-top:1px solid #ddd;margin-top:18px;padding-top:6px}.mismatch{outline:3px solid #b00}
            code{background:#f4f4f4;padding:0 3px}.small{color:#555;font-size:13px}
            </style></head><body>
            <h1>What each isolation layer isolates, measured</h1>
            <p>Each cell of the matrix is an experiment on this machine. A <em>victim</em> workload is measured
            alone (baseline), then next to an <em>aggressor</em> (a CPU hog, memory bomb, fork bomb, descriptor hog,
            disk writer or network flood) placed across one layer's boundary: two containers of one pod, two pods
            of one tenant, or two tenants. <b>can</b> means the victim stayed within its band and the aggressor was
            contained (its own cgroup counters show it); <b>cannot</b> means the shared effect was observed (the
            victim slowed or was denied, or a global counter moved). <b>not-observed</b> means the experiment did not
            see what either claim needs, and never counts as a pass. Where the verdict is a ratio of the victim's
            rate loaded (or contained) over alone, the experiment runs interleaved rounds of windows, alone and
            loaded in turn, and the verdict needs the 95% bootstrap interval of the median ratio wholly on the
            claim's side of the band (the dashed line under each chart); an interval across the band is
            <b>inconclusive</b>, never a pass. <b>not-measurable</b> means the aggressor itself did not get what the
            experiment needs (its own cgroup's CPU time, shown in the cell), so the claim could not be tested here
            and now; never a pass. Bars are medians over the windows, with their 95% interval as
            error bars. A red outline marks a verdict that differs from the claim in the design.</p>
            <p class="legend">
            """
        for k in BenchVerdictKind.allCases { h += "<span style=\"background:\(color(k))\">\(k.rawValue)</span>" }
        h += "</p>\n<p class=\"small\">Host: kernel \(escape(report.host.kernel)), cgroups \(escape(report.host.cgroupMode)), \(report.host.cpuCount) CPUs"
        if let m = report.host.memoryBytes { h += ", \(m >> 20) MiB memory" }
        h += "; bulkhead \(escape(report.host.bulkheadVersion)); started \(escape(report.startedAt)); \(Int(report.totalSeconds.rounded())) s in total, \(BenchFormat.value(report.phaseSeconds, "s")) per measured window, \(report.rounds) \(report.rounds == 1 ? "round" : "interleaved rounds") per ratio cell.</p>\n"
        h += "<h2>The matrix</h2>\n<table><tr><th>resource</th>"
        for l in layers { h += "<th>\(l.rawValue)</th>" }
        h += "</tr>\n"
        for r in resources {
            h += "<tr><th>\(escape(r.title))</th>"
            for l in layers {
                guard let res = report.result(BenchCellID(r, l)) else { h += "<td></td>"; continue }
                let cls = res.confirmsClaim || res.verdict.kind == .skipped || res.verdict.kind == .blocked || res.verdict.kind == .planned ? "" : " class=\"mismatch\""
                h += "<td\(cls) style=\"background:\(color(res.verdict.kind))\"><a href=\"#\(res.cell.resource.rawValue)-\(res.cell.layer.rawValue)\"><b>\(res.verdict.kind.rawValue)</b></a>"
                if !res.keyFigure.isEmpty { h += "<br>\(escape(res.keyFigure))" }
                if let m = res.mitigation {
                    h += "<br><span class=\"mitigation\" style=\"background:\(color(m.verdict.kind))\">→ with \(escape(m.control)): <b>\(m.verdict.kind.rawValue)</b></span>"
                }
                h += "</td>"
            }
            h += "</tr>\n"
        }
        h += "</table>\n<h2>The experiments</h2>\n"
        if let note = pressureScopeNote(report) { h += "<p class=\"small\">\(escape(note))</p>\n" }
        for res in report.results {
            h += "<section id=\"\(res.cell.resource.rawValue)-\(res.cell.layer.rawValue)\"><h3>\(escape(res.cell.resource.title)) — \(res.cell.layer.rawValue) layer</h3>"
            h += "<p><b>Claim:</b> \(escape(res.claim)) (expected: <b>\(res.expected.rawValue)</b>)</p>"
            h += "<p><b>Method:</b> \(escape(res.method))</p>"
            h += "<p style=\"background:\(color(res.verdict.kind));padding:4px 8px\"><b>Verdict: \(res.verdict.kind.rawValue).</b> \(escape(res.verdict.reason))</p>"
            if let svg = chart(res) { h += svg }
            let service = [latencyLine(res), pressureLine(res)].compactMap { $0 }
            if !service.isEmpty { h += "<p class=\"small\">" + service.map(escape).joined(separator: "<br>") + "</p>" }
            if !res.measurements.isEmpty {
                h += "<table><tr><th>measurement</th><th>phase</th><th>round</th><th>value</th></tr>"
                for m in res.measurements {
                    h += "<tr><td>\(escape(m.name))</td><td>\(m.phase.rawValue)</td><td>\(m.round.map { String($0 + 1) } ?? "")</td><td>\(escape(BenchFormat.value(m.value, m.unit)))</td></tr>"
                }
                h += "</table>"
            }
            if !res.evidence.isEmpty {
                h += "<ul>" + res.evidence.map { "<li><code>\(escape($0))</code></li>" }.joined() + "</ul>"
            }
            if let m = res.mitigation { h += mitigationSection(m) }
            h += "<p class=\"small\">\(BenchFormat.value(res.seconds, "s"))</p></section>\n"
        }
        return h + "</body></html>\n"
    }
}
