import BulkheadConfig
import BulkheadModel
import Testing

/// PSI files as the kernel writes them, and as a broken or hostile file could read: the parser
/// takes only a well-formed `total=`, with checked arithmetic, and the window share never traps.
struct PressureParseTests {
    static let host = """
        some avg10=7.89 avg60=2.53 avg300=5.20 total=7011624628
        full avg10=0.00 avg60=0.00 avg300=0.00 total=0

        """

    @Test("A PSI file gives its some and full totals; a cpu file of an older kernel has no full line")
    func wellFormed() {
        #expect(PressureTotals.parse(Self.host) == PressureTotals(some: 7_011_624_628, full: 0))
        #expect(PressureTotals.parse("some avg10=0.00 avg60=0.00 avg300=0.00 total=42\n") == PressureTotals(some: 42, full: nil))
        // The largest counter there is.
        #expect(PressureTotals.parse("some total=18446744073709551615\nfull total=1") == PressureTotals(some: .max, full: 1))
    }

    @Test("Malformed files are refused whole, without a trap", arguments: [
        "",                                                       // empty
        "\n\n",                                                   // no lines
        "full avg10=0.00 total=5",                                // no some line
        "some avg10=0.00 avg60=0.00 avg300=0.00",                 // no total
        "some total=",                                            // empty total
        "some total=-5",                                          // signed
        "some total=+5",                                          // signed
        "some total=18446744073709551616",                        // one past UInt64.max
        "some total=99999999999999999999999999",                  // far past it
        "some total=12x",                                         // trailing garbage
        "some total=0x10",                                        // hex
        "some total=1 total=2",                                   // total twice
        "some total=1\nsome total=2",                             // some twice
        "some total=1\nfull total=2\nfull total=3",               // full twice
        "some total=1\nhalf total=2",                             // unknown kind
        "SOME total=1",                                           // kinds are lower case
        "some total=１２",                                         // non-ASCII digits
    ])
    func malformed(_ text: String) {
        #expect(PressureTotals.parse(text) == nil)
    }

    @Test("A window's share is the counter's growth over the window; backwards counters and empty windows give nothing")
    func share() {
        #expect(PressureWindow.share(before: 1_000_000, after: 1_500_000, seconds: 1) == 50)
        #expect(PressureWindow.share(before: 0, after: 0, seconds: 2) == 0)
        // Sampling jitter past the window is clamped to the whole window.
        #expect(PressureWindow.share(before: 0, after: 3_000_000, seconds: 2) == 100)
        #expect(PressureWindow.share(before: 5, after: 4, seconds: 1) == nil)
        #expect(PressureWindow.share(before: 0, after: .max, seconds: 0) == nil)
        #expect(PressureWindow.share(before: 0, after: 1, seconds: -1) == nil)
        #expect(PressureWindow.share(before: 0, after: 1, seconds: .nan) == nil)
        #expect(PressureWindow.share(before: .max, after: 0, seconds: 1) == nil)
    }

    static func sample(_ at: Double, cpu: UInt64, io: UInt64? = nil) -> PressureSample {
        var t: [PressureResource: PressureTotals] = [.cpu: PressureTotals(some: cpu, full: nil)]
        if let io { t[.io] = PressureTotals(some: io, full: io / 2) }
        return PressureSample(at: at, totals: t)
    }

    @Test("A window between samples is read by interpolation and named with its scope; one the samples do not cover is absent")
    func windows() throws {
        // cpu some grows 800 ms per second between t=10 and t=12, then stops.
        let samples = [Self.sample(10, cpu: 0, io: 0), Self.sample(12, cpu: 1_600_000, io: 0), Self.sample(14, cpu: 1_600_000, io: 400_000)]
        let m = PressureWindow.measurements(samples, from: 10.5, to: 11.5, phase: .loaded, scope: .host)
        let cpu = try #require(m.first { $0.name == "PSI cpu some (host)" })
        #expect(abs(cpu.value - 80) < 1e-9 && cpu.unit == "%" && cpu.phase == .loaded)
        // No full line for cpu, no memory file: absent, not zero.
        #expect(!m.contains { $0.name == "PSI cpu full (host)" || $0.name.hasPrefix("PSI memory") })
        #expect(m.first { $0.name == "PSI io some (host)" }?.value == 0)
        let late = PressureWindow.measurements(samples, from: 12, to: 14, phase: .baseline, scope: .victimCgroup)
        #expect(late.first { $0.name == "PSI cpu some (victim cgroup)" }?.value == 0)
        #expect(late.first { $0.name == "PSI io some (victim cgroup)" }?.value == 20)
        #expect(late.first { $0.name == "PSI io full (victim cgroup)" }?.value == 10)
        // Outside the samples, reversed, empty or not a number: nothing.
        #expect(PressureWindow.measurements(samples, from: 9, to: 11, phase: .loaded, scope: .host).isEmpty)
        #expect(PressureWindow.measurements(samples, from: 13, to: 15, phase: .loaded, scope: .host).isEmpty)
        #expect(PressureWindow.measurements(samples, from: 11, to: 11, phase: .loaded, scope: .host).isEmpty)
        #expect(PressureWindow.measurements(samples, from: 11.5, to: 10.5, phase: .loaded, scope: .host).isEmpty)
        #expect(PressureWindow.measurements(samples, from: .nan, to: 11, phase: .loaded, scope: .host).isEmpty)
        #expect(PressureWindow.measurements([], from: 10, to: 11, phase: .loaded, scope: .host).isEmpty)
        // A counter that went backwards between the samples (a new cgroup) gives nothing.
        let reset = [Self.sample(10, cpu: 5_000_000), Self.sample(12, cpu: 10)]
        #expect(PressureWindow.measurements(reset, from: 10.5, to: 11.5, phase: .loaded, scope: .host).isEmpty)
    }

    @Test("The reports show latency and pressure next to the throughput, text and HTML")
    func rendered() {
        var r = BenchRenderTests.report
        r.results[0].measurements += BenchLatency.measurements(p50: 0.21, p99: 0.9, requests: 400, phase: .baseline)
            + BenchLatency.measurements(p50: 0.3, p99: 14.2, requests: 398, phase: .contained)
            + [BenchMeasurement("PSI cpu some (host)", .baseline, 3, "%"), BenchMeasurement("PSI cpu some (host)", .contained, 61, "%"),
               BenchMeasurement("PSI io full (host)", .contained, 1.5, "%")]
        #expect(BenchLatency.measurements(p50: 1, p99: 2, requests: 0, phase: .loaded).isEmpty)
        #expect(BenchLatency.measurements(p50: .nan, p99: 2, requests: 5, phase: .loaded).isEmpty)
        let text = BenchRender.table(r)
        #expect(text.contains("cpu/container: Request latency: victim alone p50 0.21 ms, p99 0.9 ms (400 requests); with aggressor, contained p50 0.3 ms, p99 14.2 ms (398 requests)"))
        #expect(text.contains("cpu/container: Pressure stalls as a share of each window (host): victim alone: cpu some 3 %; with aggressor, contained: cpu some 61 %, io full 1.5 %"))
        let html = BenchRender.html(r)
        #expect(html.contains("p99 14.2 ms (398 requests)"))
        #expect(html.contains("(host): victim alone: cpu some 3 %"))
        // A result without them shows neither.
        #expect(BenchRender.latencyLine(r.results[1]) == nil && BenchRender.pressureLine(r.results[1]) == nil)
    }
}
