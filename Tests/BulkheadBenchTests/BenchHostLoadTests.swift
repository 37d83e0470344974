@testable import BulkheadBench
import Testing

/// Other work's CPU around a cell (`BenchHostLoad`): /proc/stat's busy time less the cell's own
/// cgroups and the bench process, on recorded readings.
struct BenchHostLoadTests {
    @Test("The aggregate cpu line: busy is user, nice, system, irq and softirq; steal apart; a short or overflowing line is refused")
    func parse() {
        let text = "cpu  100 5 50 1000 10 3 2 7 40 0\ncpu0 50 2 25 500 5 1 1 3 20 0\nintr 1\n"
        #expect(BenchHostLoad.parse(text) == .init(busy: 160, steal: 7))
        #expect(BenchHostLoad.parse("cpu0 1 2 3 4 5 6 7 8\n") == nil, "no aggregate line")
        #expect(BenchHostLoad.parse("cpu  1 2 3 4 5 6 7\n") == nil, "too few fields")
        #expect(BenchHostLoad.parse("cpu  18446744073709551615 1 0 0 0 0 0 0\n") == nil, "overflow")
    }

    @Test("Other work's CPUs: the host's busy time less the cell's cgroup and the bench's own CPU, over the wall time")
    func otherWork() throws {
        let a = BenchHostLoad.Sample(ticks: .init(busy: 1000, steal: 10), at: 50, selfMicros: 1_000_000)
        // 2 s later: 3 s of busy time on the host, 1 s of it the cell's cgroups, 0.2 s the bench.
        let b = BenchHostLoad.Sample(ticks: .init(busy: 1300, steal: 14), at: 52, selfMicros: 1_200_000)
        let l = try #require(BenchHostLoad.between(a, b, cellMicros: 1_000_000, cpus: 2, ticksPerSecond: 100))
        #expect(abs(l.otherCPUs - 0.9) < 1e-9 && abs(l.stealCPUs - 0.02) < 1e-9 && l.cpus == 2 && l.seconds == 2, "\(l)")
        #expect(l.evidence.hasPrefix("the host over the cell's run (2.0 s): other work held 0.90 of 2 CPUs"), "\(l.evidence)")
        // The cell alone busy: nothing else.
        let idle = try #require(BenchHostLoad.between(a, b, cellMicros: 2_800_000, cpus: 2, ticksPerSecond: 100))
        #expect(abs(idle.otherCPUs) < 1e-9, "\(idle.otherCPUs)")
        // Readings that go backwards, or too short an interval, say nothing.
        #expect(BenchHostLoad.between(b, a, cellMicros: 0, cpus: 2, ticksPerSecond: 100) == nil)
        #expect(BenchHostLoad.between(a, .init(ticks: b.ticks, at: 50.05, selfMicros: 0), cellMicros: 0, cpus: 2, ticksPerSecond: 100) == nil)
    }
}
