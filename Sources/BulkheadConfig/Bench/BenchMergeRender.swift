import BulkheadModel
import Foundation

/// The merged matrix as text, Markdown, JSON and HTML: rows are resources, and each node has a
/// column group of the layers any node ran, as in `BenchRender.table` for one node. A cell
/// whose verdict differs between nodes is marked `*` (HTML: a blue outline), one whose ratio
/// intervals do not overlap `~` (a dashed outline); `!` keeps its meaning (the verdict is not
/// the matrix's claim). Text from the reports passes `BenchRender.clean` (text, Markdown) or
/// `escape` (HTML): a report is a file someone else wrote.
extension BenchRender {
    /// Control characters (a terminal's escape sequences) and bidirectional overrides become
    /// `?`, so a report's strings cannot rewrite the terminal or reorder a line.
    static func clean(_ s: String) -> String {
        String(String.UnicodeScalarView(s.unicodeScalars.map { c in
            let v = c.value
            return v < 0x20 || (0x7F...0x9F).contains(v) || (0x202A...0x202E).contains(v) || (0x2066...0x2069).contains(v) ? "?" : c
        }))
    }

    static func mergedLayers(_ m: BenchMergedReport) -> [BenchLayer] {
        BenchLayer.allCases.filter { l in m.cells.contains { $0.layer == l } }
    }

    static func mergedResources(_ m: BenchMergedReport) -> [BenchResource] {
        BenchResource.allCases.filter { r in m.cells.contains { $0.resource == r } }
    }

    /// `*` verdicts differ, `~` intervals apart, or "".
    static func differenceMark(_ m: BenchMergedReport, _ cell: BenchCellID) -> String {
        let d = m.differences(cell)
        return (d.contains(.verdict) ? "*" : "") + (d.contains(.ratio) ? "~" : "")
    }

    /// One line per node: its facts, the differing ones marked `*`.
    static func nodeLines(_ m: BenchMergedReport) -> [String] {
        m.nodes.map { n in
            let facts = BenchHostFact.allCases.compactMap { f -> String? in
                let v = f.value(n.report.host)
                guard !v.isEmpty else { return nil }
                return (m.differingHostFacts.contains(f) ? "*" : "") + f.title + " " + clean(v)
            }
            return "\(n.name): " + facts.joined(separator: ", ") + "; \(n.report.results.count) cells, \(n.report.rounds) \(n.report.rounds == 1 ? "round" : "rounds") of \(BenchFormat.value(n.report.phaseSeconds, "s")), started \(clean(n.report.startedAt)) (\(clean(n.source)))"
        }
    }

    /// Under the matrix: each difference with its figures, or that there is none.
    static func differenceLines(_ m: BenchMergedReport) -> [String] {
        guard !m.differences.isEmpty else { return ["No cell differs between the nodes (verdicts, ratio intervals)."] }
        return ["\(m.differences.count) \(m.differences.count == 1 ? "difference" : "differences") between the nodes:"]
            + m.differences.map { d in
                d.kind == .verdict ? "* \(d.cell): verdicts differ: \(clean(d.detail))"
                                   : "~ \(d.cell): the victim's ratio intervals do not overlap: \(clean(d.detail))"
            }
    }

    /// The merged matrix as text: a header row of nodes over a row of layers.
    public static func mergedTable(_ m: BenchMergedReport, width: Int = 24) -> String {
        let layers = mergedLayers(m), resources = mergedResources(m)
        let first = max(8, resources.map(\.title.count).max() ?? 8)
        let width = max(4, width)
        func pad(_ s: String, _ n: Int) -> String {
            s.count > n ? String(s.prefix(n - 1)) + "…" : s + String(repeating: " ", count: n - s.count)
        }
        let group = layers.count * width + max(0, layers.count - 1) * 3
        var lines = nodeLines(m)
        lines.append("")
        lines.append(pad("", first) + " | " + m.nodes.map { pad($0.name, group) }.joined(separator: " | "))
        lines.append(pad("", first) + " | " + m.nodes.map { _ in layers.map { pad($0.rawValue, width) }.joined(separator: " | ") }.joined(separator: " | "))
        lines.append(String(repeating: "-", count: first) + "-+-" + m.nodes.map { _ in layers.map { _ in String(repeating: "-", count: width) }.joined(separator: "-+-") }.joined(separator: "-+-"))
        for r in resources {
            var row: [String] = []
            for i in m.nodes.indices {
                for l in layers {
                    let cell = BenchCellID(r, l)
                    guard let res = m.result(cell, node: i) else { row.append(pad(m.cells.contains(cell) ? "(not run)" : "", width)); continue }
                    row.append(pad(differenceMark(m, cell) + clean(cellText(res)), width))
                }
            }
            lines.append(pad(r.title, first) + " | " + row.joined(separator: " | "))
        }
        lines.append("")
        lines.append("* verdicts differ between nodes; ~ the victim's ratio intervals do not overlap; ! not the matrix's claim.")
        if !m.differingHostFacts.isEmpty {
            lines.append("Host facts that differ (*): " + m.differingHostFacts.map(\.title).joined(separator: ", ") + ".")
        }
        lines += differenceLines(m)
        return lines.joined(separator: "\n") + "\n"
    }

    /// The merged matrix as a Markdown table: one column per node and layer ("node · layer").
    public static func mergedMarkdown(_ m: BenchMergedReport) -> String {
        let layers = mergedLayers(m), resources = mergedResources(m)
        func md(_ s: String) -> String {
            clean(s).replacingOccurrences(of: "\\", with: "\\\\").replacingOccurrences(of: "|", with: "\\|")
                .replacingOccurrences(of: "<", with: "&lt;").replacingOccurrences(of: "`", with: "\\`")
        }
        var lines = ["## bulkhead bench: \(m.nodes.count) nodes", ""]
        lines.append("| node | " + BenchHostFact.allCases.map(\.title).joined(separator: " | ") + " | cells | started |")
        lines.append("| --- |" + String(repeating: " --- |", count: BenchHostFact.allCases.count + 2))
        for n in m.nodes {
            let facts = BenchHostFact.allCases.map { f in
                let v = md(f.value(n.report.host))
                return m.differingHostFacts.contains(f) ? "**\(v)** *" : v
            }
            lines.append("| \(n.name) | " + facts.joined(separator: " | ") + " | \(n.report.results.count) | \(md(n.report.startedAt)) |")
        }
        lines.append("")
        var header = "| resource |", rule = "| --- |"
        for n in m.nodes { for l in layers { header += " \(n.name) · \(l.rawValue) |"; rule += " --- |" } }
        lines += [header, rule]
        for r in resources {
            var row = "| \(md(r.title)) |"
            for i in m.nodes.indices {
                for l in layers {
                    let cell = BenchCellID(r, l)
                    guard let res = m.result(cell, node: i) else { row += m.cells.contains(cell) ? " (not run) |" : " |"; continue }
                    let mark = differenceMark(m, cell).replacingOccurrences(of: "*", with: "\\*").replacingOccurrences(of: "~", with: "\\~")
                    let text = md(cellText(res))
                    row += mark.isEmpty ? " \(text) |" : " **\(mark)\(text)** |"
                }
            }
            lines.append(row)
        }
        lines.append("")
        lines.append("\\* verdicts differ between nodes; \\~ the victim's ratio intervals do not overlap; ! not the matrix's claim.")
        lines.append("")
        lines += differenceLines(m).map { $0.hasPrefix("*") || $0.hasPrefix("~") ? "- " + md($0).replacingOccurrences(of: "*", with: "\\*").replacingOccurrences(of: "~", with: "\\~") : md($0) }
        return lines.joined(separator: "\n") + "\n"
    }

    /// The merged report as JSON (what `bench merge --json` prints).
    public static func mergedJSON(_ m: BenchMergedReport) -> String {
        let e = JSONEncoder()
        e.outputFormatting = [.prettyPrinted, .sortedKeys, .withoutEscapingSlashes]
        e.nonConformingFloatEncodingStrategy = .convertToString(positiveInfinity: "inf", negativeInfinity: "-inf", nan: "nan")
        return (try? String(decoding: e.encode(m), as: UTF8.self)) ?? "{}"
    }

    /// A self-contained page: the nodes' facts, the matrix with a column group per node, the
    /// differences, and each differing cell's verdict reasons side by side.
    public static func mergedHTML(_ m: BenchMergedReport) -> String {
        let layers = mergedLayers(m), resources = mergedResources(m)
        var h = """
            <!DOCTYPE html>
            <html lang="en"><head><meta charset="utf-8"><title>bulkhead bench: \(m.nodes.count) nodes</title>
            <style>
            body{font-family:system-ui,sans-serif;max-width:1400px;margin:24px auto;padding:0 16px;color:#222}
            table{border-collapse:collapse}td,th{border:1px solid #bbb;padding:6px 8px;vertical-align:top;font-size:14px}
            th{background:#f4f4f4;text-align:left}.legend span{display:inline-block;padding:2px 8px;margin-right:6px;border:1px solid #bbb}
            .mismatch{outline:3px solid #b00}.differs{box-shadow:inset 0 0 0 3px #1f5fbf}.apart{box-shadow:inset 0 0 0 3px #1f5fbf;border-style:dashed}
            th.node{text-align:center;border-left:3px solid #555}td.first{border-left:3px solid #555}.fact-differs{background:#fde9a8}
            code{background:#f4f4f4;padding:0 3px}.small{color:#555;font-size:13px}
            </style></head><body>
            <h1>What each isolation layer isolates, on \(m.nodes.count) nodes</h1>
            <p>Each node ran <code>bulkhead bench --json</code>; <code>bulkhead bench merge</code> put the reports side by side,
            a column group per node. A blue outline marks a cell whose verdict differs between nodes; a dashed blue
            outline one whose victim ratio intervals (95%) do not overlap, so the nodes measured it differently even
            where the verdicts agree. A red outline marks a verdict that differs from the claim in the design.
            Highlighted host facts differ between nodes.</p>
            <p class="legend">
            """
        for k in BenchVerdictKind.allCases { h += "<span style=\"background:\(color(k))\">\(k.rawValue)</span>" }
        h += "</p>\n<h2>The nodes</h2>\n<table><tr><th>node</th>"
        for f in BenchHostFact.allCases { h += "<th>\(escape(f.title))</th>" }
        h += "<th>cells</th><th>rounds × window</th><th>started</th><th>report</th></tr>\n"
        for n in m.nodes {
            h += "<tr><th>\(escape(n.name))</th>"
            for f in BenchHostFact.allCases {
                h += "<td\(m.differingHostFacts.contains(f) ? " class=\"fact-differs\"" : "")>\(escape(f.value(n.report.host)))</td>"
            }
            h += "<td>\(n.report.results.count)</td><td>\(n.report.rounds) × \(escape(BenchFormat.value(n.report.phaseSeconds, "s")))</td>"
            h += "<td>\(escape(n.report.startedAt))</td><td><code>\(escape(n.source))</code></td></tr>\n"
        }
        h += "</table>\n<h2>The matrix</h2>\n<table><tr><th rowspan=\"2\">resource</th>"
        for n in m.nodes { h += "<th class=\"node\" colspan=\"\(layers.count)\">\(escape(n.name))</th>" }
        h += "</tr>\n<tr>"
        for _ in m.nodes { for (j, l) in layers.enumerated() { h += "<th\(j == 0 ? " class=\"node\"" : "")>\(l.rawValue)</th>" } }
        h += "</tr>\n"
        for r in resources {
            h += "<tr><th>\(escape(r.title))</th>"
            for i in m.nodes.indices {
                for (j, l) in layers.enumerated() {
                    let cell = BenchCellID(r, l)
                    var classes = j == 0 ? ["first"] : []
                    guard let res = m.result(cell, node: i) else {
                        h += "<td class=\"\(classes.joined(separator: " "))\">\(m.cells.contains(cell) ? "<span class=\"small\">not run</span>" : "")</td>"
                        continue
                    }
                    let d = m.differences(cell)
                    if d.contains(.verdict) { classes.append("differs") }
                    if d.contains(.ratio) { classes.append("apart") }
                    if !(res.confirmsClaim || res.verdict.kind == .skipped || res.verdict.kind == .blocked || res.verdict.kind == .planned) { classes.append("mismatch") }
                    h += "<td class=\"\(classes.joined(separator: " "))\" style=\"background:\(color(res.verdict.kind))\" title=\"\(escape(res.verdict.reason))\"><b>\(res.verdict.kind.rawValue)</b>"
                    if !res.keyFigure.isEmpty { h += "<br>\(escape(res.keyFigure))" }
                    if let q = res.ratio { h += "<br><span class=\"small\">ratio \(escape(q.text))</span>" }
                    if let mit = res.mitigation { h += "<br><span class=\"small\">→ \(escape(mit.summary))</span>" }
                    h += "</td>"
                }
            }
            h += "</tr>\n"
        }
        h += "</table>\n<h2>What differs between the nodes</h2>\n"
        if m.differences.isEmpty {
            h += "<p>No cell differs between the nodes (verdicts, ratio intervals).</p>\n"
        } else {
            h += "<ul>"
            for d in m.differences {
                h += "<li><b>\(d.cell)</b>: \(d.kind == .verdict ? "verdicts differ" : "the victim's ratio intervals do not overlap"): \(escape(d.detail))</li>"
            }
            h += "</ul>\n"
            for cell in m.cells where !m.differences(cell).isEmpty {
                h += "<section><h3>\(escape(cell.resource.title)) — \(cell.layer.rawValue) layer</h3><table><tr><th>node</th><th>verdict</th><th>reason</th></tr>"
                for (i, n) in m.nodes.enumerated() {
                    guard let res = m.result(cell, node: i) else { continue }
                    h += "<tr><th>\(escape(n.name))</th><td style=\"background:\(color(res.verdict.kind))\">\(res.verdict.kind.rawValue)</td><td>\(escape(res.verdict.reason))</td></tr>"
                }
                h += "</table></section>\n"
            }
        }
        return h + "</body></html>\n"
    }
}
