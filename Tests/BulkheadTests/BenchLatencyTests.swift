import BulkheadConfig
import BulkheadModel
import BulkheadSystem
import Foundation
import Glibc
import Testing

/// Pressure (PSI) on the real kernel, and the bench's request–response victims with the PSI of
/// their windows, read from the typed bench report.
struct BenchLatencyTests {
    /// `count` busy loops of `seconds` s (python3, as the bench's hogs), started now.
    static func hogs(_ count: Int, seconds: Double) throws -> [Process] {
        try (0..<count).map { _ in
            let p = Process()
            p.executableURL = URL(fileURLWithPath: "/usr/bin/python3")
            p.arguments = ["-c", "import time\nend=time.monotonic()+\(seconds)\nwhile time.monotonic()<end: pass"]
            try p.run()
            return p
        }
    }

    /// The host's cpu `some` share between two samples `gap` s apart.
    static func cpuSome(gap: useconds_t) throws -> Double {
        let a = try #require(PressureReader.sample(), "no /proc/pressure/cpu: a kernel without PSI")
        usleep(gap)
        let b = try #require(PressureReader.sample())
        let before = try #require(a.totals[.cpu]?.some), after = try #require(b.totals[.cpu]?.some)
        return try #require(PressureWindow.share(before: before, after: after, seconds: b.at - a.at), "cpu some went backwards")
    }

    @Test("More busy loops than CPUs keep a task waiting for a CPU: the host's cpu some pressure is high in their window",
          .enabled(if: FileManager.default.fileExists(atPath: "/proc/pressure/cpu") || Gate.inCI, "the kernel has no PSI (CONFIG_PSI, psi=1)"))
    func hogRaisesCPUPressure() throws {
        let cpus = max(1, Int(sysconf(Int32(_SC_NPROCESSORS_ONLN))))
        let idle = try Self.cpuSome(gap: 800_000)
        // One loop more than there are CPUs: whenever all run, one waits, so "some" is near 100%
        // of the window. An idle machine gives about 0: this cannot pass without the hogs.
        let loops = try Self.hogs(cpus + 1, seconds: 3)
        defer { for p in loops { kill(p.processIdentifier, SIGKILL); p.waitUntilExit() } }
        usleep(300_000)
        let loaded = try Self.cpuSome(gap: 800_000)
        #expect(loaded >= 50, "cpu some \(loaded)% with \(cpus + 1) loops on \(cpus) CPUs (idle window: \(idle)%)")
        // The machine is shared: the idle window may be loaded by others, but not beyond the hogs'.
        #expect(loaded + 10 >= idle, "cpu some \(loaded)% with the loops, \(idle)% without")
    }

    @Test("The service cells report the victim's p50 and p99 latency, its request count and the host's PSI for every window",
          .enabled(if: Gate.root, Gate.rootReason))
    func serviceCells() throws {
        var cells = ["cpu/container", "disk-bandwidth/container"]
        if access("/usr/bin/iperf3", X_OK) == 0 { cells.append("network-bandwidth/container") }
        let run = try MatrixTests.bench(cells)
        let report = try #require(run.report, "no bench report: \(run.stderr)")
        for cell in cells {
            let id = try #require(BenchCellID(parsing: cell))
            let r = try #require(report.result(id), "no result for \(cell)")
            let phases: [BenchPhase] = cell.hasPrefix("cpu/") ? [.baseline, .contained] : [.baseline, .loaded]
            for phase in phases {
                let p50 = r.value(BenchLatency.p50, phase), p99 = r.value(BenchLatency.p99, phase)
                let n = r.value(BenchLatency.requests, phase) ?? 0
                #expect(n > 0, "\(cell) \(phase): no requests; \(r.measurements) \(r.evidence)")
                if let p50, let p99 {
                    #expect(p50 > 0 && p99 >= p50, "\(cell) \(phase): p50 \(p50) ms, p99 \(p99) ms")
                } else {
                    Issue.record("\(cell) \(phase): no p50/p99: \(r.measurements)")
                }
                for resource in PressureResource.allCases {
                    let some = r.value(PressureWindow.name(resource, full: false, scope: .host), phase)
                    #expect(some.map { (0...100).contains($0) } == true, "\(cell) \(phase): PSI \(resource) some \(String(describing: some))")
                }
            }
            #expect(BenchRender.latencyLine(r) != nil && BenchRender.pressureLine(r) != nil)
        }
    }
}
