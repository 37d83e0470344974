import BulkheadModel
import Glibc

/// Reads pressure stall information: a cgroup v2 directory's `cpu.pressure`,
/// `memory.pressure` and `io.pressure`, or the whole host's `/proc/pressure/{cpu,memory,io}`
/// (cgroup v1 and hybrid hosts, where no cgroup of the victim has PSI files). The parsing is
/// `PressureTotals.parse` (BulkheadModel).
public enum PressureReader {
    /// The PSI file of `resource`: in `cgroupDirectory`, or the host's.
    public static func path(_ resource: PressureResource, cgroupDirectory: String?) -> String {
        cgroupDirectory.map { "\($0)/\(resource.rawValue).pressure" } ?? "/proc/pressure/\(resource.rawValue)"
    }

    /// The three files now, stamped with CLOCK_MONOTONIC (the clock the victim programs print
    /// their windows in); nil when one cannot be read or parsed (a kernel without PSI, booted
    /// with psi=0, or a cgroup that is gone).
    public static func sample(cgroupDirectory: String? = nil) -> PressureSample? {
        let before = Monotonic.now()
        var totals: [PressureResource: PressureTotals] = [:]
        for r in PressureResource.allCases {
            guard let text = FileIO.read(path(r, cgroupDirectory: cgroupDirectory), limit: 4096),
                  let t = PressureTotals.parse(text) else { return nil }
            totals[r] = t
        }
        return PressureSample(at: (before + Monotonic.now()) / 2, totals: totals)
    }
}
