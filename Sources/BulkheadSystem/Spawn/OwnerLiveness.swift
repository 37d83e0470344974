#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#endif

/// The one rule for "may the process that owns this record still run?", which every collection of
/// a dead launcher's leftovers asks before it destroys anything (stale cgroup leaves and pod
/// cgroups, pod state directories, the node network's pod entries, network namespaces, the
/// sandbox registry). A record names its owner by pid and start time (field 22 of
/// /proc/PID/stat), as its owner saw them: in the owner's own PID namespace.
///
/// A launcher may run in a PID namespace of its own (`unshare -pf --mount-proc bulkhead run …`,
/// a container that shares the host's cgroup tree) while its records sit beside the host's.
/// Its pid means nothing in the host's /proc, and the host's pids nothing in its /proc, so
/// `CgroupLeafName.isRunning` alone took each side's live records for the other's dead ones and
/// the collection SIGKILLed a live sandbox. Hence:
/// - a caller outside the initial PID namespace cannot see every process: it judges nothing
///   (every record may be alive; the host's `bulkhead gc` collects what such a launcher left);
/// - a caller in the initial PID namespace that finds no process with that pid and start time in
///   its /proc looks for the owner in every child PID namespace: a process with that start time
///   whose innermost pid (the last field of `NSpid` in /proc/PID/status) is that pid, and whose
///   effective uid is the caller's (a launcher's records are its uid's; another user's process
///   with a chosen pid in a namespace of its own is not taken for one).
///
/// Start times are compared as the initial time namespace shows them (`HostStartTime`).
/// Exact identity (a pidfd's owner, a container's init) stays `CgroupLeafName.isRunning`.
public enum OwnerLiveness {
    /// `PROC_PID_INIT_INO` (include/linux/proc_ns.h): the inode of the initial PID namespace.
    static let initialPIDNamespaceInode: UInt64 = 0xEFFF_FFFC

    /// Whether this process runs in the initial PID namespace (false when that cannot be read).
    public static let inInitialPIDNamespace: Bool = {
        var st = stat()
        return stat("/proc/self/ns/pid", &st) == 0 && UInt64(st.st_ino) == initialPIDNamespaceInode
    }()

    /// False only when the owner is known to be gone: no process with that pid and start time in
    /// any PID namespace this caller can see whole. A zombie counts as gone (`isRunning`).
    public static func mayBeAlive(pid: Int32, startTime: UInt64) -> Bool {
        guard inInitialPIDNamespace, HostStartTime.offsetTicks != nil else { return true }
        if CgroupLeafName.isRunning(pid, startTime: startTime) { return true }
        return runsInChildNamespace(pid: pid, startTime: startTime)
    }

    /// The owner searched by start time in every process of /proc, then by its innermost pid.
    /// Only asked for a record that looks dead (rare: a stale leaf, or a nested launcher's).
    static func runsInChildNamespace(pid: Int32, startTime: UInt64) -> Bool {
        for name in FileIO.listDirectory("/proc") {
            guard let first = name.utf8.first, first >= 0x31, first <= 0x39, let candidate = Int32(name) else { continue }
            guard case .success(let stat) = CgroupFS.read("/proc/\(candidate)/stat"),
                  HostStartTime.fromStat(stat) == startTime, !ProcStat.hasExited(fromStat: stat),
                  case .success(let status) = CgroupFS.read("/proc/\(candidate)/status"),
                  let nspid = HostFacts.statusField("NSpid", in: status),
                  let innermost = nspid.split(whereSeparator: { $0 == " " || $0 == "\t" }).last,
                  Int32(innermost) == pid,
                  // Run by the caller's uid: any user can choose pids in a PID namespace of
                  // their own, and one forked in a dead launcher's clock tick with its pid
                  // would keep its leftovers from every collection.
                  let uids = HostFacts.statusField("Uid", in: status),
                  uids.split(whereSeparator: { $0 == " " || $0 == "\t" }).dropFirst().first.flatMap({ UInt32($0) }) == geteuid()
            else { continue }
            return true
        }
        return false
    }
}

/// A process's start time (field 22 of /proc/PID/stat, clock ticks since boot) as the initial
/// time namespace shows it. The kernel shows it shifted by the READER's boottime offset
/// (time_namespaces(7)), so a launcher in a time namespace of its own (`unshare --time
/// --boottime N bulkhead run …`, a CRIU-restored or LXC container) named its records with a
/// shifted start time and read every other launcher's shifted too: each side took the other's
/// live sandboxes for a dead launcher's and SIGKILLed them. Every start time bulkhead records or
/// compares is read through here, less the caller's own boottime offset.
public enum HostStartTime {
    /// `PROC_TIME_INIT_INO` (include/linux/proc_ns.h): the inode of the initial time namespace.
    static let initialTimeNamespaceInode: UInt64 = 0xEFFF_FFFA

    /// The caller's boottime offset in clock ticks: 0 in the initial time namespace (or on a
    /// kernel without time namespaces); nil when it cannot be known exactly (unreadable, not a
    /// whole number of ticks, or the caller is not in the namespace /proc/self/timens_offsets
    /// describes, its children's): then no start time is read at all (fail closed: no record
    /// is made, none is judged gone, no process is taken for a recorded one).
    public static let offsetTicks: Int64? = {
        var own = stat()
        guard stat("/proc/self/ns/time", &own) == 0 else { return errno == ENOENT ? 0 : nil }
        if UInt64(own.st_ino) == initialTimeNamespaceInode { return 0 }
        var children = stat()
        guard stat("/proc/self/ns/time_for_children", &children) == 0,
              children.st_ino == own.st_ino, children.st_dev == own.st_dev,
              case .success(let text) = CgroupFS.read("/proc/self/timens_offsets") else { return nil }
        let hz = Int64(sysconf(Int32(_SC_CLK_TCK)))
        guard hz > 0, 1_000_000_000 % hz == 0 else { return nil }
        for line in text.split(separator: "\n") {
            let f = line.split(whereSeparator: { $0 == " " || $0 == "\t" })
            guard f.count == 3, f[0] == "boottime" else { continue }
            guard let seconds = Int64(f[1]), let nanoseconds = Int64(f[2]),
                  nanoseconds >= 0, nanoseconds < 1_000_000_000 else { return nil }
            let nsPerTick = 1_000_000_000 / hz
            guard nanoseconds % nsPerTick == 0 else { return nil }
            let (t, o1) = seconds.multipliedReportingOverflow(by: hz)
            let (ticks, o2) = t.addingReportingOverflow(nanoseconds / nsPerTick)
            return o1 || o2 ? nil : ticks
        }
        return nil
    }()

    /// Field 22 of the text of /proc/PID/stat as the initial time namespace shows it; nil if it
    /// does not parse or the caller's offset is unknown (`offsetTicks`).
    public static func fromStat(_ text: String) -> UInt64? {
        guard let shown = ProcStat.startTime(fromStat: text), let offset = offsetTicks else { return nil }
        if offset == 0 { return shown }
        guard shown <= UInt64(Int64.max) else { return nil }
        let (host, overflow) = Int64(shown).subtractingReportingOverflow(offset)
        return overflow || host < 0 ? nil : UInt64(host)
    }
}
