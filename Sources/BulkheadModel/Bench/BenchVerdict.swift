/// What an experiment found for its cell.
///
/// `can` and `cannot` are findings: each needs its evidence (the victim within its band and
/// the aggressor contained, or the shared effect observed). An experiment that did not see
/// what it looked for says so with `notObserved`; it never passes by default.
public enum BenchVerdictKind: String, Codable, Sendable, CaseIterable {
    /// The layer isolates this resource: the victim held, the aggressor was contained.
    case can
    /// The layer does not isolate it: the shared effect was observed.
    case cannot
    /// The experiment ran but did not observe what either claim needs.
    case notObserved = "not-observed"
    /// A feature the experiment needs is missing from this build or host.
    case blocked
    /// Not run here: a tool is missing, the cell has no experiment, or its evidence lives elsewhere (the VM lane).
    case skipped
    /// Not measurable on one machine: the cell carries the experiment a second node would
    /// run (the cluster layer).
    case planned
}

public struct BenchVerdict: Codable, Sendable, Equatable {
    public var kind: BenchVerdictKind
    /// One line a reader can act on: why, or the decisive figure.
    public var reason: String

    public init(_ kind: BenchVerdictKind, _ reason: String) {
        self.kind = kind; self.reason = reason
    }

    /// A "can" claim: the victim's rate under load over its baseline must be at least
    /// `band`, and the aggressor must have been contained (with what showed it).
    public static func judgeCan(victimRatio: Double?, band: Double, contained: Bool, containment: String) -> BenchVerdict {
        guard let ratio = victimRatio, ratio.isFinite else {
            return BenchVerdict(.notObserved, "the victim reported no measurement")
        }
        let pct = BenchFormat.percent(ratio)
        if !contained {
            return BenchVerdict(.notObserved, "the aggressor was not contained (\(containment)); victim at \(pct) of baseline")
        }
        if ratio < band {
            return BenchVerdict(.notObserved, "the victim fell to \(pct) of baseline, below the \(BenchFormat.percent(band)) band, although \(containment)")
        }
        return BenchVerdict(.can, "victim at \(pct) of baseline (band ≥ \(BenchFormat.percent(band))); \(containment)")
    }

    /// A "cannot" claim about slowdown: the victim's rate under load over baseline must
    /// fall to `atMost` or below.
    public static func judgeSlowdown(victimRatio: Double?, atMost: Double, what: String) -> BenchVerdict {
        guard let ratio = victimRatio, ratio.isFinite else {
            return BenchVerdict(.notObserved, "the victim reported no measurement")
        }
        let pct = BenchFormat.percent(ratio)
        if ratio <= atMost {
            return BenchVerdict(.cannot, "\(what): victim at \(pct) of baseline (shared effect: ≤ \(BenchFormat.percent(atMost)))")
        }
        return BenchVerdict(.notObserved, "\(what): victim at \(pct) of baseline, not below \(BenchFormat.percent(atMost)); the shared effect was not observed")
    }

    /// A claim decided by facts seen in the experiment (an errno, a token compared):
    /// `kind` when `observed`, else not observed with what was seen instead.
    public static func judgeObserved(_ observed: Bool, _ kind: BenchVerdictKind, _ evidence: String) -> BenchVerdict {
        observed ? BenchVerdict(kind, evidence) : BenchVerdict(.notObserved, "expected \(kind.rawValue), but: \(evidence)")
    }
}

/// Number formatting shared by the verdicts and the renderers.
public enum BenchFormat {
    /// 0.874 → "87%".
    public static func percent(_ ratio: Double) -> String {
        guard ratio.isFinite else { return "—" }
        return "\(Int((ratio * 100).rounded()))%"
    }

    /// A value with up to three significant digits and its unit: "12.3 ms", "1520 MB/s".
    public static func value(_ v: Double, _ unit: String) -> String {
        guard v.isFinite else { return "—" }
        let a = abs(v)
        let text: String
        if a == 0 || a >= 100 || v == v.rounded() { text = String(Int(v.rounded())) }
        else if a >= 10 { text = String((v * 10).rounded() / 10) }
        else { text = String((v * 100).rounded() / 100) }
        return unit.isEmpty ? text : text + " " + unit
    }
}
