import BulkheadConfig
import BulkheadModel
import BulkheadSystem

/// The service figures of a victim window: its request latency and the pressure (PSI) over it.
extension BenchContext {
    /// Whose PSI the bench reads. The whole host's `/proc/pressure`: on this cgroup v1/hybrid
    /// host no cgroup of the victim has PSI files (on cgroup v2 the victim container's
    /// `*.pressure` would be the finer figure; not read yet).
    static let pressureScope = PressureScope.host

    /// Takes a PSI sample if the last is 50 ms old or more (called while launched processes
    /// run, so every victim window lies between two samples).
    func samplePressure() {
        let now = Monotonic.now()
        if let last = pressure.last, now - last.at < 0.05 { return }
        // Bounded: an experiment's processes run for seconds; 20 samples a second.
        if pressure.count >= 20_000 { return }
        if let s = PressureReader.sample() { pressure.append(s) }
    }

    /// Latency (p50, p99, request count) and PSI of the victim window `key` (the program's
    /// `KEY_p50 KEY_p99 KEY_n|KEY_ops KEY_t0 KEY_t1` values) as measurements of `phase`.
    func serviceMeasurements(_ values: [String: String], _ key: String, _ phase: BenchPhase, round: Int? = nil) -> [BenchMeasurement] {
        let d = { (field: String) in values["\(key)_\(field)"].flatMap(Double.init) }
        return BenchLatency.measurements(p50: d("p50"), p99: d("p99"), requests: d("n") ?? d("ops"), phase: phase, round: round)
            + PressureWindow.measurements(pressure, from: d("t0") ?? .nan, to: d("t1") ?? .nan, phase: phase,
                                          scope: Self.pressureScope, round: round)
    }

    /// The service figures of every window of `schedule` (the request–response victim's keys
    /// `PREFIX_rN_PHASE_…`), each with its round.
    func serviceMeasurements(_ values: [String: String], _ schedule: BenchSchedule, prefix: String) -> [BenchMeasurement] {
        schedule.windows.flatMap { serviceMeasurements(values, $0.key(prefix), $0.phase, round: $0.round) }
    }
}
