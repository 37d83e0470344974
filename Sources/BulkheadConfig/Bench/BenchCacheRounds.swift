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
    /// The victim's calibrated reference per window: a loop that touches no memory, in loops
    /// per CPU-second, run right after the window: the vCPU's own speed.
    public static let reference = "victim reference rate"
    /// CPU 0's steal time over the window, as a share of it (/proc/stat): time in which the
    /// hypervisor ran something else on the physical CPU behind CPU 0.
    public static let steal = "CPU 0 steal"

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

    /// The cache cells' working sets, in MiB, from the last-level cache's size as sysfs prints
    /// it (`cpu0/cache/index3/size`, "32768K"): the victim sweeps three eighths of it (12 MiB of
    /// this host's 32 MiB), the aggressor twice it (64 MiB); 32 MiB assumed when the text is
    /// not a size, and the cache taken as 8 to 64 MiB. Three eighths, not the three quarters of
    /// sessions 8 to 10: with CPU 0 the victim's (docs/bench.md, "What moves the baseline when
    /// CPU 0 is the cell's"), a 24 MiB victim's rounds gave 52% to 142% of its baseline over
    /// five runs, some above the 90% band, because what the host's other guests keep in the
    /// physical last-level cache already pushes a set that large out in its baseline windows;
    /// a 12 MiB set stays in the cache alone, and its rounds gave 42% to 72% over three runs.
    public static func sizes(llc text: String) -> (victim: Int, aggressor: Int, llc: Int?) {
        let t = String(text.filter { !$0.isWhitespace })
        var llc: Int?
        if t.hasSuffix("K"), let k = Int(t.dropLast()), k > 0 { llc = k / 1024 }
        else if t.hasSuffix("M"), let m = Int(t.dropLast()), m > 0 { llc = m }
        let mib = min(max(llc ?? 32, 8), 64)
        return (mib * 3 / 8, mib * 2, llc)
    }

    /// The spread of a victim's windows: the largest over the smallest, less one (0.6 for
    /// 9,973 and 16,097); nil for fewer than two positive values.
    public static func spread(_ values: [Double]) -> Double? {
        let v = values.filter { $0.isFinite && $0 > 0 }
        guard v.count >= 2, let lo = v.min(), let hi = v.max() else { return nil }
        return hi / lo - 1
    }
}
