import BulkheadModel
/// The windows of one run of a ratio cell, in time order: `rounds` rounds of `phases`, each
/// round's phases in ABBA order (baseline, loaded | loaded, baseline | …) so that a drift of a
/// shared machine's load falls on both phases alike, and the spans an aggressor of one phase
/// runs in (two windows of its phase side by side make one span: one start serves both).
/// Pure: times are seconds after the run's first window.
public struct BenchWindowPlan: Sendable, Equatable {
    public struct Window: Sendable, Equatable {
        public var round: Int
        public var phase: BenchPhase
        /// Seconds after the first window's start.
        public var at: Double

        /// The `BH` key a victim reports this window's figure under: `PREFIX_rN_PHASE`.
        public func key(_ prefix: String) -> String { "\(prefix)_r\(round)_\(phase.rawValue)" }
    }

    /// A stretch of time an aggressor runs, seconds after the first window's start.
    public struct Span: Sendable, Equatable {
        public var from: Double
        public var to: Double
    }

    public let window: Double
    public let gap: Double
    public let windows: [Window]

    /// `rounds` (at least 1) rounds of `phases`, windows of `window` s with `gap` s between.
    public init(rounds: Int, phases: [BenchPhase], window: Double, gap: Double) {
        self.window = window; self.gap = gap
        var w: [Window] = []
        for r in 0..<max(1, rounds) {
            for p in Self.order(phases, round: r) { w.append(Window(round: r, phase: p, at: Double(w.count) * (window + gap))) }
        }
        windows = w
    }

    /// The phases of round `round` in the order they run (ABBA).
    public static func order(_ phases: [BenchPhase], round: Int) -> [BenchPhase] {
        round % 2 == 0 ? phases : phases.reversed()
    }

    /// Seconds after the first window's start at which the last window ends.
    public var length: Double { (windows.last?.at ?? 0) + window }

    /// The spans an aggressor of `phase` runs: each window of that phase from `pre` s before
    /// to `post` s after, adjacent ones merged into one.
    public func spans(_ phase: BenchPhase, pre: Double = 0.15, post: Double = 0.05) -> [Span] {
        var out: [Span] = []
        for w in windows where w.phase == phase {
            let a = w.at - pre, b = w.at + window + post
            if let last = out.last, a <= last.to + gap { out[out.count - 1].to = b } else { out.append(Span(from: a, to: b)) }
        }
        return out
    }
}
