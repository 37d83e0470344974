import BulkheadModel
/// What closes a "cannot" cell, where this host has the control: the cell's experiment run
/// once more with the control in place (CPU pinning, per-pod shaping, pids.max with
/// RLIMIT_NOFILE, per-pod id ranges, io.max), measured the same way as the cell's loaded run.
///
/// A mitigation is not the layer's default: the cell's own verdict and its claim stay as the
/// matrix states them ("cannot"), and a mitigation that does not hold does not change the
/// bench's exit status; the report says so in words instead.
public struct BenchMitigation: Codable, Sendable, Equatable {
    /// The control, as the matrix cell shows it: "cpuset", "own pods + egress-bandwidth",
    /// "io.max". The cell reads "cannot → with CONTROL: can".
    public var control: String
    /// What the run with the control found: `can` (it held: the victim kept its service, or
    /// the bound held), anything else when it did not (`cannot`: the shared effect was still
    /// observed; `not-observed`: neither; `skipped`: the control is not on this host, and the
    /// reason says where its figure comes from).
    public var verdict: BenchVerdict
    /// The figure shown next to the mitigation's verdict ("victim 98%", "≤ 8 × 4096").
    public var keyFigure: String
    /// How the control was applied, in a sentence or two.
    public var method: String
    /// The run's figures: the victim alone (`baseline`) and next to the aggressor with the
    /// control in place (`contained`), plus `evidence` about the aggressor.
    public var measurements: [BenchMeasurement]
    /// Facts that are not numbers (what was enforced, what the host lacks).
    public var evidence: [String]
    /// The victim's ratio over the rounds with the control in place (phase `contained`), for
    /// a mitigation judged by a ratio against a band.
    public var ratio: BenchRatioSummary?
    /// How long the run took (wall clock), apart from the cell's own `seconds`; for a control
    /// measured in the cell's own run (a third phase of its windows), the seconds its windows
    /// added to that run, which the cell's `seconds` include. nil in reports written before it
    /// was recorded.
    public var seconds: Double?

    public init(control: String, verdict: BenchVerdict, keyFigure: String = "", method: String,
                measurements: [BenchMeasurement] = [], evidence: [String] = [], ratio: BenchRatioSummary? = nil,
                seconds: Double? = nil) {
        self.control = control; self.verdict = verdict; self.keyFigure = keyFigure; self.method = method
        self.measurements = measurements; self.evidence = evidence; self.ratio = ratio; self.seconds = seconds
    }

    /// The control closed the cell on this host.
    public var holds: Bool { verdict.kind == .can }

    /// The value of `name` in `phase`, if measured: the median over its rounds' windows.
    public func value(_ name: String, _ phase: BenchPhase) -> Double? {
        BenchStatistics.median(measurements.filter { $0.name == name && $0.phase == phase }.map(\.value))
    }

    /// "with cpuset: can".
    public var summary: String { "with \(control): \(verdict.kind.rawValue)" }
}

/// The mitigation's parts of the three renderings (the table's lines under the matrix, the
/// chart's third bar, the HTML section's paragraph), kept apart from the renderers' own code.
extension BenchRender {
    /// Under the table: what closes each "cannot" (the cell reads "cannot → with CONTROL: can"),
    /// and plainly, a mitigation that did not hold. The claim stays "cannot" either way.
    static func mitigationLines(_ report: BenchMatrixReport) -> [String] {
        let with = report.results.compactMap { r in r.mitigation.map { (r, $0) } }
        guard !with.isEmpty else { return [] }
        var lines = ["", "What closes each cannot (not the layer's default; the claims stay cannot):"]
        for (r, m) in with {
            let fig = m.keyFigure.isEmpty ? "" : " (\(m.keyFigure))"
            lines.append("→ \(r.cell): \(r.verdict.kind.rawValue) → \(m.summary)\(fig)")
            if m.verdict.kind == .inconclusive {
                lines.append("  the rounds do not decide whether it holds: \(m.verdict.reason)")
            } else if m.verdict.kind != .can && m.verdict.kind != .skipped {
                lines.append("  the mitigation did not hold: \(m.verdict.reason)")
            } else if m.verdict.kind == .skipped {
                lines.append("  not run here: \(m.verdict.reason)")
            }
        }
        return lines
    }

    /// The mitigation runs' share of the report's time (a run of its own is not in the cell's
    /// `seconds`; a control measured in the cell's run counts the windows it added), or nil
    /// when no run recorded its time.
    static func mitigationSeconds(_ report: BenchMatrixReport) -> Double? {
        let times = report.results.compactMap { $0.mitigation?.seconds }
        return times.isEmpty ? nil : times.reduce(0, +)
    }

    /// The chart's third bar: the chart metric next to the aggressor with the mitigation's
    /// control in place, when the mitigation measured it; with rounds, the median of its
    /// windows and that median's 95% bootstrap interval (as the other bars).
    static func mitigationBar(_ r: BenchResult) -> (label: String, color: String, value: Double, unit: String, interval: ClosedRange<Double>?)? {
        guard let metric = r.chartMetric, let m = r.mitigation, let v = m.value(metric, .contained),
              let unit = m.measurements.first(where: { $0.name == metric && $0.phase == .contained })?.unit else { return nil }
        let windows = m.measurements.filter { $0.name == metric && $0.phase == .contained && $0.round != nil }.map(\.value)
        // The label column is 190 px: a long control's name is cut (the section names it whole).
        let label = "with \(m.control)"
        return (label.count > 27 ? String(label.prefix(26)) + "…" : label, "#2f7f8f", v, unit,
                windows.count > 1 ? BenchStatistics.bootstrapMedianInterval(windows) : nil)
    }

    /// The mitigation's paragraph of a cell's section: its control, verdict, method and figures.
    static func mitigationSection(_ m: BenchMitigation) -> String {
        var h = "<div class=\"mitigation\"><h4>What closes it: \(escape(m.control))</h4>"
        h += "<p><b>Method:</b> \(escape(m.method))</p>"
        if let q = m.ratio { h += "<p class=\"small\">victim with \(escape(m.control)): \(escape(q.text)) of baseline over \(q.rounds) round(s)</p>" }
        let psi = pressureLines(m.measurements, label: { $0 == .contained ? "with \(m.control)" : phaseLabels[$0] ?? $0.rawValue })
        if !psi.isEmpty { h += "<p class=\"small\">" + psi.map(escape).joined(separator: "<br>") + "</p>" }
        let note = m.verdict.kind == .can || m.verdict.kind == .skipped ? "" : " The mitigation did not hold here."
        h += "<p style=\"background:\(color(m.verdict.kind));padding:4px 8px\"><b>With \(escape(m.control)): \(m.verdict.kind.rawValue).</b> \(escape(m.verdict.reason))\(note) The matrix's claim stays \"cannot\": the control is not the layer's default.</p>"
        if !m.measurements.isEmpty {
            h += "<table><tr><th>measurement</th><th>phase</th><th>value</th></tr>"
            for x in m.measurements {
                h += "<tr><td>\(escape(x.name))</td><td>\(x.phase == .contained ? "with \(escape(m.control))" : x.phase.rawValue)</td><td>\(escape(BenchFormat.value(x.value, x.unit)))</td></tr>"
            }
            h += "</table>"
        }
        if !m.evidence.isEmpty {
            h += "<ul>" + m.evidence.map { "<li><code>\(escape($0))</code></li>" }.joined() + "</ul>"
        }
        return h + "</div>"
    }
}
