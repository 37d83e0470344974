/// Pressure stall information (PSI, Documentation/accounting/psi.rst) and the victim's request
/// latency, as the bench records them for every measured window. Pure: the reader of the
/// files is BulkheadSystem/Host/Pressure.swift.

/// A PSI file: `cpu.pressure`, `memory.pressure`, `io.pressure` of a cgroup v2 directory, or
/// `/proc/pressure/{cpu,memory,io}` for the whole host.
public enum PressureResource: String, CaseIterable, Codable, Sendable {
    case cpu, memory, io
}

/// The cumulative stall counters of one PSI file, in microseconds since boot (or since the
/// cgroup was made).
public struct PressureTotals: Equatable, Sendable {
    /// `some total=`: time in which at least one task stalled on the resource.
    public var some: UInt64
    /// `full total=`: time in which every non-idle task stalled at once; nil where the file
    /// has no `full` line (cpu before Linux 5.13).
    public var full: UInt64?

    public init(some: UInt64, full: UInt64?) { self.some = some; self.full = full }

    /// Parses a PSI file's text:
    ///
    ///     some avg10=0.00 avg60=0.00 avg300=0.00 total=7011624628
    ///     full avg10=0.00 avg60=0.00 avg300=0.00 total=0
    ///
    /// Nil for anything else: a line that is neither `some` nor `full`, one of them twice, no
    /// `some`, a missing, repeated, signed, empty or out-of-range `total=` (UInt64's own
    /// checked parse: no trap). Only `total=` is read; the averages are the kernel's own
    /// windows, not the bench's.
    public static func parse(_ text: String) -> PressureTotals? {
        var some: UInt64?, full: UInt64?
        for line in text.split(separator: "\n", omittingEmptySubsequences: true) {
            let fields = line.split(separator: " ", omittingEmptySubsequences: true)
            guard let kind = fields.first else { continue }
            var total: UInt64?
            for f in fields.dropFirst() where f.hasPrefix("total=") {
                let digits = f.dropFirst("total=".count)
                guard total == nil, !digits.isEmpty, digits.allSatisfy({ $0 >= "0" && $0 <= "9" }),
                      let v = UInt64(digits) else { return nil }
                total = v
            }
            guard let total else { return nil }
            switch kind {
            case "some": guard some == nil else { return nil }; some = total
            case "full": guard full == nil else { return nil }; full = total
            default: return nil
            }
        }
        guard let some else { return nil }
        return PressureTotals(some: some, full: full)
    }
}

/// The three PSI files read at one instant (`at`: CLOCK_MONOTONIC seconds).
public struct PressureSample: Equatable, Sendable {
    public var at: Double
    public var totals: [PressureResource: PressureTotals]

    public init(at: Double, totals: [PressureResource: PressureTotals]) { self.at = at; self.totals = totals }
}

/// Whose stalls the counters are: the victim's cgroup (v2) or the whole host (`/proc/pressure`).
public enum PressureScope: String, Codable, Sendable {
    case victimCgroup = "victim cgroup"
    case host
}



