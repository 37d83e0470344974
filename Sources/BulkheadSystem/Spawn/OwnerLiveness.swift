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
///   whose innermost pid (the last field of `NSpid` in /proc/PID/status) is that pid.
///
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
        guard inInitialPIDNamespace else { return true }
        if CgroupLeafName.isRunning(pid, startTime: startTime) { return true }
        return runsInChildNamespace(pid: pid, startTime: startTime)
    }

    /// The owner searched by start time in every process of /proc, then by its innermost pid.
    /// Only asked for a record that looks dead (rare: a stale leaf, or a nested launcher's).
    static func runsInChildNamespace(pid: Int32, startTime: UInt64) -> Bool {
        for name in FileIO.listDirectory("/proc") {
            guard let first = name.utf8.first, first >= 0x31, first <= 0x39, let candidate = Int32(name) else { continue }
            guard case .success(let stat) = CgroupFS.read("/proc/\(candidate)/stat"),
                  ProcStat.startTime(fromStat: stat) == startTime, !ProcStat.hasExited(fromStat: stat),
                  case .success(let status) = CgroupFS.read("/proc/\(candidate)/status"),
                  let nspid = HostFacts.statusField("NSpid", in: status),
                  let innermost = nspid.split(whereSeparator: { $0 == " " || $0 == "\t" }).last,
                  Int32(innermost) == pid else { continue }
            return true
        }
        return false
    }
}
