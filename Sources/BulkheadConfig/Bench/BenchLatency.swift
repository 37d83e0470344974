import BulkheadModel

/// PSI over a window: how much of it the counters grew by, as a share (%).
public enum PressureWindow {
    /// The share of `seconds` by which a counter grew from `before` to `after`, in percent
    /// (0…100; sampling jitter above 100 is clamped). Nil when the counter went backwards
    /// (another cgroup, or a reset) or the window is empty: checked, never a trap.
    public static func share(before: UInt64, after: UInt64, seconds: Double) -> Double? {
        let (delta, backwards) = after.subtractingReportingOverflow(before)
        guard !backwards, seconds.isFinite, seconds > 0 else { return nil }
        return min(100, Double(delta) / (seconds * 1e6) * 100)
    }

    /// A counter's value at `t`, linearly between the samples around it; nil outside the
    /// samples (a window the sampler did not cover is not guessed) or when it went backwards.
    static func counter(at t: Double, _ samples: [PressureSample], _ read: (PressureSample) -> UInt64?) -> Double? {
        guard t.isFinite else { return nil }
        var lower: (Double, UInt64)?, upper: (Double, UInt64)?
        for s in samples {
            guard let v = read(s) else { continue }
            if s.at <= t, lower.map({ s.at >= $0.0 }) ?? true { lower = (s.at, v) }
            if s.at >= t, upper.map({ s.at <= $0.0 }) ?? true { upper = (s.at, v) }
        }
        guard let (t0, v0) = lower, let (t1, v1) = upper, v1 >= v0 else { return nil }
        if t1 == t0 { return Double(v0) }
        return Double(v0) + Double(v1 - v0) * (t - t0) / (t1 - t0)
    }

    /// The stall shares of the window `from`…`to` (monotonic seconds) as measurements of
    /// `phase`, named `PSI RESOURCE some|full (SCOPE)`, unit %. Absent where the samples do
    /// not cover the window or a counter is missing.
    public static func measurements(_ samples: [PressureSample], from: Double, to: Double, phase: BenchPhase,
                                    scope: PressureScope, round: Int? = nil) -> [BenchMeasurement] {
        guard from.isFinite, to.isFinite, to > from else { return [] }
        var out: [BenchMeasurement] = []
        for r in PressureResource.allCases {
            for full in [false, true] {
                let read = { (s: PressureSample) -> UInt64? in full ? s.totals[r]?.full : s.totals[r]?.some }
                guard let a = counter(at: from, samples, read), let b = counter(at: to, samples, read), b >= a else { continue }
                let pct = min(100, (b - a) / ((to - from) * 1e6) * 100)
                out.append(BenchMeasurement(name(r, full: full, scope: scope), phase, pct, "%", round: round))
            }
        }
        return out
    }

    /// `PSI cpu some (host)`.
    public static func name(_ r: PressureResource, full: Bool, scope: PressureScope) -> String {
        "PSI \(r.rawValue) \(full ? "full" : "some") (\(scope.rawValue))"
    }
}

/// The request–response victim's figures, as measurements (names shared by every cell).
public enum BenchLatency {
    public static let p50 = "victim request p50 latency"
    public static let p99 = "victim request p99 latency"
    public static let requests = "victim requests"

    /// p50, p99 and the request count of one window (of `round`).
    public static func measurements(p50: Double?, p99: Double?, requests: Double?, phase: BenchPhase, round: Int? = nil) -> [BenchMeasurement] {
        guard let p50, let p99, let requests, p50.isFinite, p99.isFinite, requests > 0 else { return [] }
        return [BenchMeasurement(Self.p50, phase, p50, "ms", round: round), BenchMeasurement(Self.p99, phase, p99, "ms", round: round),
                BenchMeasurement(Self.requests, phase, requests, "", round: round)]
    }
}

/// The latency and pressure of a result in words, for the text and HTML reports.
extension BenchRender {
    static let servicePhases: [BenchPhase] = [.baseline, .loaded, .contained]

    /// "victim alone p50 0.21 ms, p99 0.9 ms (400 requests); with aggressor …", or nil. With
    /// rounds, each figure is the median over the phase's windows (requests: per window).
    public static func latencyLine(_ r: BenchResult) -> String? {
        let parts = servicePhases.compactMap { p -> String? in
            guard let p50 = r.value(BenchLatency.p50, p), let p99 = r.value(BenchLatency.p99, p) else { return nil }
            let n = r.value(BenchLatency.requests, p).map { " (\(Int($0)) requests)" } ?? ""
            return "\(phaseLabels[p] ?? p.rawValue) p50 \(BenchFormat.value(p50, "ms")), p99 \(BenchFormat.value(p99, "ms"))\(n)"
        }
        return parts.isEmpty ? nil : "Request latency: " + parts.joined(separator: "; ")
    }

    /// "Pressure stalls … (host): victim alone: cpu some 3 %, memory some 0 % full 0 %, io …",
    /// or nil; with rounds, medians over the phase's windows. Where both the victim's cgroup
    /// and the host were read (cgroup v2), the victim's cgroup's line comes first.
    public static func pressureLine(_ r: BenchResult) -> String? {
        let lines = pressureLines(r.measurements)
        return lines.isEmpty ? nil : lines.joined(separator: "; ")
    }

    /// One line per scope read (victim cgroup, host) of `measurements`' PSI figures.
    static func pressureLines(_ measurements: [BenchMeasurement], label: (BenchPhase) -> String = { phaseLabels[$0] ?? $0.rawValue }) -> [String] {
        func value(_ name: String, _ p: BenchPhase) -> Double? {
            BenchStatistics.median(measurements.filter { $0.name == name && $0.phase == p }.map(\.value))
        }
        return [PressureScope.victimCgroup, .host].compactMap { scope -> String? in
            guard measurements.contains(where: { $0.name == PressureWindow.name(.cpu, full: false, scope: scope) || $0.name == PressureWindow.name(.io, full: false, scope: scope) }) else { return nil }
            let parts = servicePhases.compactMap { p -> String? in
                let figures = PressureResource.allCases.compactMap { res -> String? in
                    let kinds = [false, true].compactMap { full in
                        value(PressureWindow.name(res, full: full, scope: scope), p).map { "\(full ? "full" : "some") \(BenchFormat.value($0, "%"))" }
                    }
                    return kinds.isEmpty ? nil : "\(res.rawValue) " + kinds.joined(separator: " ")
                }
                return figures.isEmpty ? nil : "\(label(p)): " + figures.joined(separator: ", ")
            }
            return "Pressure stalls as a share of each window (\(scope.rawValue)): " + parts.joined(separator: "; ")
        }
    }

    /// Said plainly where the PSI is the host's only: the victim's own cgroup's PSI needs
    /// cgroup v2 (nil on a v2 host, or when no cell has PSI figures).
    public static func pressureScopeNote(_ report: BenchMatrixReport) -> String? {
        guard report.host.cgroupMode != "unified",  // CgroupHost.Mode.unified: cgroup v2 only
              report.results.contains(where: { $0.measurements.contains { $0.name.hasPrefix("PSI ") && $0.name.hasSuffix("(host)") } }) else { return nil }
        return "PSI here is the whole host's (/proc/pressure): the victim's own cgroup's PSI needs cgroup v2, and this host's cgroups are \(report.host.cgroupMode). With --vm, the disk cells' io.max run and the node cells fds, pids and memory, in the VM lane's cgroup v2 kernel, read the victim's own cgroup (victim cgroup) beside that kernel's (host)."
    }

    /// The text report's block: one line per cell with a latency or pressure figure.
    static func serviceBlock(_ report: BenchMatrixReport) -> [String] {
        let lines = report.results.flatMap { r in
            [latencyLine(r), pressureLine(r)].compactMap { $0 }.map { "  \(r.cell): \($0)" }
        }
        let mitigated = report.results.flatMap { r in
            (r.mitigation.map { m in pressureLines(m.measurements, label: { $0 == .contained ? "with \(m.control)" : phaseLabels[$0] ?? $0.rawValue }) } ?? [])
                .map { "  \(r.cell), with \(r.mitigation?.control ?? ""): \($0)" }
        }
        let all = lines + mitigated
        return all.isEmpty ? [] : ["", "Victim latency and pressure (PSI) per window:"] + all + (pressureScopeNote(report).map { ["  " + $0] } ?? [])
    }
}
