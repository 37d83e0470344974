/// The rounds a cache cell is judged on: those in which CPU 0 belonged to the cell.
///
/// The cache cells' victim and aggressor share CPU 0, so the aggressor's sweep evicts the
/// victim's working set between the victim's time slices. Any other process on CPU 0 does
/// the same: on a shared host, a baseline window in which other work held CPU 0 is itself a
/// loaded window (its sweep rate per CPU-second falls with the victim's share of the CPU), and
/// the ratio of such a round says nothing about the aggressor. Measured on this project's
/// 2-CPU host (docs/bench.md, cache cells): rounds whose victim held 0.59 to 0.90 of CPU 0
/// alone gave 69% to 81%; rounds in which it held 0.25 to 0.32 gave 94% to 106% — the spread
/// that made the cells inconclusive. A round counts only when the victim's own CPU share
/// (`victim CPU share`, per window) says other work held at most `othersAtMost` of CPU 0: at
/// least `1 − othersAtMost` alone (baseline, and the pinning control's phase, whose aggressor
/// is on CPU 1), at least half of that next to the aggressor (loaded: the two share CPU 0).
/// Pure, so that a test can hand it recorded windows.
public enum BenchCacheRounds {
    /// The share of CPU 0 that other work may hold in a judged round's windows.
    public static let othersAtMost = 0.4
    /// The measurement that carries the victim's CPU share per window.
    public static let share = "victim CPU share"

    /// The victim's CPU share a window of `phase` needs for its round to be judged.
    public static func need(_ phase: BenchPhase) -> Double {
        phase == .loaded ? (1 - othersAtMost) / 2 : 1 - othersAtMost
    }

    /// The rounds of `measurements` whose baseline window and `phase` window both had the
    /// share they need, in order.
    public static func judged(_ measurements: [BenchMeasurement], _ phase: BenchPhase) -> [Int] {
        func shares(_ p: BenchPhase) -> [Int: Double] {
            var out: [Int: Double] = [:]
            for m in measurements where m.name == share && m.phase == p { if let r = m.round { out[r] = m.value } }
            return out
        }
        let base = shares(.baseline), other = shares(phase)
        return base.keys.sorted().filter { r in
            (base[r] ?? 0) >= need(.baseline) && (other[r] ?? 0) >= need(phase)
        }
    }

    /// `measurements` without the windows of rounds not in `rounds` (the windows a verdict is
    /// judged on; the report keeps them all).
    public static func only(_ rounds: [Int], _ measurements: [BenchMeasurement]) -> [BenchMeasurement] {
        let keep = Set(rounds)
        return measurements.filter { $0.round.map(keep.contains) ?? true }
    }

    /// The spread of a victim's windows: the largest over the smallest, less one (0.6 for
    /// 9,973 and 16,097); nil for fewer than two positive values.
    public static func spread(_ values: [Double]) -> Double? {
        let v = values.filter { $0.isFinite && $0 > 0 }
        guard v.count >= 2, let lo = v.min(), let hi = v.max() else { return nil }
        return hi / lo - 1
    }
}
