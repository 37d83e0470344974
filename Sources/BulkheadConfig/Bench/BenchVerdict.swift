import BulkheadModel
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
    /// The rounds' interval straddles the band: the measurement does not decide. Never a pass.
    case inconclusive
    /// The experiment could not test its claim on this machine at this moment: its aggressor
    /// did not get what the experiment needs (CPU time taken by other load), shown with the
    /// aggressor's own figure. Never a pass.
    case notMeasurable = "not-measurable"
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
    /// `band`, and the aggressor must have been contained (with what showed it). One ratio:
    /// the single-round form of `judgeCan(summary:contained:containment:)`.
    public static func judgeCan(victimRatio: Double?, band: Double, contained: Bool, containment: String) -> BenchVerdict {
        judgeCan(summary: victimRatio.flatMap { BenchRatioSummary(metric: "victim", phase: .contained, ratios: [$0], band: band, side: .atLeast) },
                 contained: contained, containment: containment)
    }

    /// A "can" claim over rounds: the aggressor contained, and the 95% interval of the
    /// victim's median ratio wholly at or above the band. An interval across the band is
    /// inconclusive; one wholly below it is not observed.
    public static func judgeCan(summary: BenchRatioSummary?, contained: Bool, containment: String) -> BenchVerdict {
        guard let s = summary else {
            return BenchVerdict(.notObserved, "the victim reported no measurement")
        }
        let fig = "victim at \(s.text) of baseline\(rounds(s))"
        let band = BenchFormat.percent(s.band)
        if !contained {
            return BenchVerdict(.notObserved, "the aggressor was not contained (\(containment)); \(fig)")
        }
        switch s.position {
        case .confirms: return BenchVerdict(.can, "\(fig) (band ≥ \(band)); \(containment)")
        case .refutes: return BenchVerdict(.notObserved, "the victim fell below the \(band) band: \(fig), although \(containment)")
        case .straddles: return BenchVerdict(.inconclusive, "\(fig): the interval straddles the \(band) band, so the rounds do not decide (\(containment))")
        }
    }

    /// A "cannot" claim about slowdown: the victim's rate under load over baseline must
    /// fall to `atMost` or below. One ratio: the single-round form of `judgeSlowdown(summary:what:)`.
    public static func judgeSlowdown(victimRatio: Double?, atMost: Double, what: String) -> BenchVerdict {
        judgeSlowdown(summary: victimRatio.flatMap { BenchRatioSummary(metric: "victim", phase: .loaded, ratios: [$0], band: atMost, side: .atMost) },
                      what: what)
    }

    /// A "cannot" claim over rounds: the 95% interval of the victim's median ratio wholly at
    /// or below `summary.band`. Across it: inconclusive; wholly above: not observed.
    public static func judgeSlowdown(summary: BenchRatioSummary?, what: String) -> BenchVerdict {
        guard let s = summary else {
            return BenchVerdict(.notObserved, "the victim reported no measurement")
        }
        let fig = "victim at \(s.text) of baseline\(rounds(s))"
        let band = BenchFormat.percent(s.band)
        switch s.position {
        case .confirms: return BenchVerdict(.cannot, "\(what): \(fig) (shared effect: ≤ \(band))")
        case .refutes: return BenchVerdict(.notObserved, "\(what): \(fig), not below \(band); the shared effect was not observed")
        case .straddles: return BenchVerdict(.inconclusive, "\(what): \(fig): the interval straddles the \(band) band, so the rounds do not decide")
        }
    }

    /// What an experiment needs of its own run to test its claim: `value` (the aggressor's own
    /// CPU, say) at least `needed`; nil when it was not measured.
    public struct Precondition: Sendable {
        public var what: String
        public var value: Double?
        public var needed: Double
        public var unit: String
        public init(_ what: String, _ value: Double?, atLeast needed: Double, _ unit: String) {
            self.what = what; self.value = value; self.needed = needed; self.unit = unit
        }
        public var met: Bool { value.map { $0 >= needed } ?? true }
        public var text: String { "\(what) \(value.map { BenchFormat.value($0, unit) } ?? "?") (needs ≥ \(BenchFormat.value(needed, unit)))" }
    }

    /// `self` unless a precondition measured below its need: then a "can" (which proves
    /// nothing when, say, a hog never reached the limit it is said to be held by) and a cell
    /// that did not show its claim (not-observed, inconclusive) are `notMeasurable`, with the
    /// figures and the verdict the rounds gave. A "cannot" stands: the shared effect was
    /// observed anyway. `context` says what took the resource (the load average).
    public func requiring(_ pre: [Precondition], context: String) -> BenchVerdict {
        let unmet = pre.filter { !$0.met }
        guard !unmet.isEmpty, [.can, .notObserved, .inconclusive].contains(kind) else { return self }
        return BenchVerdict(.notMeasurable, "the experiment could not test its claim: \(unmet.map(\.text).joined(separator: "; ")); \(context); the rounds alone gave \(kind.rawValue): \(reason)")
    }

    static func rounds(_ s: BenchRatioSummary) -> String {
        s.rounds > 1 ? " (median of \(s.rounds) rounds, \(BenchFormat.percent(s.confidence)) interval)" : ""
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

    /// 0.874 → "87" (the first end of a range: "87–101%").
    public static func percentNumber(_ ratio: Double) -> String {
        guard ratio.isFinite else { return "—" }
        return "\(Int((ratio * 100).rounded()))"
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
