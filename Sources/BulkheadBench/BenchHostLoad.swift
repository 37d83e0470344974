import BulkheadSystem
import Glibc

/// What the rest of the machine did with its CPUs while one cell ran: the host's busy time
/// (`/proc/stat`, not namespaced) over the cell's run, less the CPU of the cell's own outer
/// cgroup (every process it launched) and of the bench process itself.
///
/// Why it is evidence and not a verdict (issue 18, session 12): the bench's cgroups compete as
/// one group, weighing as much as each other session's autogroup (sched_autogroup), so on a
/// loaded host the CPU and cache cells get a fraction of the machine. Raising the bench's
/// weight would take CPU from everyone else on the host and measure a node no kubelet
/// configures; inside the bench's tree the victim and the aggressor already weigh what their
/// requests say (the victim 1 CPU, a hog 100m), as the kubelet sets them. What keeps a verdict
/// from being the load's is each cell's own need, measured in its own cgroups (a hog held to
/// 0.5 CPU must reach 0.4 CPU, a cache victim must hold CPU 0 alone): below it the cell is
/// not-measurable. This figure says, next to that verdict, how much of the machine other work held.
struct BenchHostLoad: Equatable {
    /// /proc/stat's aggregate `cpu` line: busy (user, nice, system, irq, softirq) and steal
    /// ticks; guest time is already in user.
    struct Ticks: Equatable {
        var busy: UInt64
        var steal: UInt64
    }

    /// One reading: the ticks, when, and the bench process's own CPU so far (microseconds).
    struct Sample {
        var ticks: Ticks
        var at: Double
        var selfMicros: Double
    }

    /// CPUs other work held over the run, on average (can exceed what the bench got).
    var otherCPUs: Double
    /// CPUs the hypervisor took (steal) over the run.
    var stealCPUs: Double
    /// The machine's online CPUs.
    var cpus: Int
    /// The run's length in seconds.
    var seconds: Double

    /// The aggregate `cpu` line of /proc/stat, or nil when it is not there.
    static func parse(_ procStat: String) -> Ticks? {
        guard let line = procStat.split(separator: "\n").first(where: { $0.hasPrefix("cpu ") }) else { return nil }
        let f = line.split(separator: " ").dropFirst().map { UInt64($0) }
        guard f.count >= 8, !f.contains(where: { $0 == nil }) else { return nil }
        let v = f.map { $0! }
        // user nice system idle iowait irq softirq steal [guest guest_nice]
        var busy: UInt64 = 0
        for x in [v[0], v[1], v[2], v[5], v[6]] {
            let (sum, overflow) = busy.addingReportingOverflow(x)
            if overflow { return nil }
            busy = sum
        }
        return Ticks(busy: busy, steal: v[7])
    }

    static func sample() -> Sample? {
        guard let t = FileIO.read("/proc/stat").flatMap(parse) else { return nil }
        var u = rusage()
        getrusage(RUSAGE_SELF.rawValue, &u)
        let me = Double(u.ru_utime.tv_sec + u.ru_stime.tv_sec) * 1e6 + Double(u.ru_utime.tv_usec + u.ru_stime.tv_usec)
        return Sample(ticks: t, at: Monotonic.now(), selfMicros: me)
    }

    /// Other work's CPUs from `a` to `b`: the host's busy time less `cellMicros` (the cell's
    /// outer cgroup's usage) and the bench's own CPU, over the wall time; nil when the readings
    /// go backwards or the interval is too short to say (under 0.1 s).
    static func between(_ a: Sample, _ b: Sample, cellMicros: UInt64?, cpus: Int, ticksPerSecond: Double) -> BenchHostLoad? {
        let wall = b.at - a.at
        guard wall >= 0.1, b.ticks.busy >= a.ticks.busy, b.ticks.steal >= a.ticks.steal, ticksPerSecond > 0 else { return nil }
        let busy = Double(b.ticks.busy - a.ticks.busy) / ticksPerSecond
        let cell = Double(cellMicros ?? 0) / 1e6
        let me = max(0, b.selfMicros - a.selfMicros) / 1e6
        return BenchHostLoad(otherCPUs: max(0, busy - cell - me) / wall,
                             stealCPUs: Double(b.ticks.steal - a.ticks.steal) / ticksPerSecond / wall, cpus: cpus, seconds: wall)
    }

    /// `between` with this machine's clock tick and online CPUs.
    static func between(_ a: Sample, _ b: Sample, cellMicros: UInt64?) -> BenchHostLoad? {
        between(a, b, cellMicros: cellMicros, cpus: max(1, sysconf(Int32(_SC_NPROCESSORS_ONLN))), ticksPerSecond: Double(sysconf(Int32(_SC_CLK_TCK))))
    }

    var evidence: String {
        "the host over the cell's run (\(BenchPrograms.fmt(seconds)) s): other work held \(String(format: "%.2f", otherCPUs)) of \(cpus) CPUs (/proc/stat busy time less this cell's cgroups and the bench process), steal \(String(format: "%.2f", stealCPUs)) CPU; the bench's cgroups weigh as one session's autogroup among the others', and the bench does not raise that (BenchHostLoad)"
    }
}
