#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#endif

/// The name of a sandbox's leaf cgroup, `c-<pid>-<starttime>-<n>`: it names the launcher
/// that owns it (pid plus start time, field 22 of /proc/PID/stat, so a recycled pid does
/// not count as alive) and a per-launcher sequence number. A later run can tell from the
/// name alone whether the leaf's launcher is gone and the leaf is stale.
public struct CgroupLeafName: Sendable, Equatable, Hashable, CustomStringConvertible {
    public var launcherPID: Int32
    public var launcherStartTime: UInt64
    public var sequence: UInt64

    public init(launcherPID: Int32, launcherStartTime: UInt64, sequence: UInt64) {
        self.launcherPID = launcherPID
        self.launcherStartTime = launcherStartTime
        self.sequence = sequence
    }

    /// Parses a directory name; nil unless it is exactly `c-<pid>-<starttime>-<n>`.
    public init?(parsing name: String) {
        let parts = name.split(separator: "-", omittingEmptySubsequences: false)
        guard parts.count == 4, parts[0] == "c",
              parts[1...].allSatisfy({ !$0.isEmpty && $0.allSatisfy(\.isASCII) && $0.allSatisfy(\.isNumber) }),
              let pid = Int32(parts[1]), pid > 0,
              let start = UInt64(parts[2]), let n = UInt64(parts[3]) else { return nil }
        self.init(launcherPID: pid, launcherStartTime: start, sequence: n)
    }

    public var description: String { "c-\(launcherPID)-\(launcherStartTime)-\(sequence)" }

    /// A pod's cgroup is named `<pod>@<pid>-<starttime>`, its launcher: "@" is in neither a
    /// pod's name (a DNS label) nor an OCI container id (letters, digits, `_ + - .`), the
    /// other names below bulkhead's base, so no other directory parses as one. `bulkhead gc`
    /// (`SandboxCgroup.collectStale`) removes a pod cgroup whose launcher is gone.
    public func podDirectoryName(_ pod: String) -> String { "\(pod)@\(launcherPID)-\(launcherStartTime)" }

    /// The launcher a `podDirectoryName` names (sequence 0); nil for any other name.
    public init?(podDirectory name: String) {
        let parts = name.split(separator: "@", omittingEmptySubsequences: false)
        guard parts.count == 2, !parts[0].isEmpty else { return nil }
        let f = parts[1].split(separator: "-", omittingEmptySubsequences: false)
        guard f.count == 2, f.allSatisfy({ !$0.isEmpty && $0.allSatisfy(\.isASCII) && $0.allSatisfy(\.isNumber) }),
              let pid = Int32(f[0]), pid > 0, let start = UInt64(f[1]) else { return nil }
        self.init(launcherPID: pid, launcherStartTime: start, sequence: 0)
    }

    /// A name owned by the calling process.
    public static func forCurrentProcess(sequence: UInt64) -> CgroupLeafName? {
        let pid = getpid()
        guard let start = startTime(of: pid) else { return nil }
        return CgroupLeafName(launcherPID: pid, launcherStartTime: start, sequence: sequence)
    }

    /// Whether the launcher this name encodes may still run (`OwnerLiveness`: the same pid and
    /// start time in the caller's /proc or, from the initial PID namespace, in a child one; a
    /// caller in a child PID namespace judges nothing). False only when it is known to be gone.
    public var launcherIsAlive: Bool {
        OwnerLiveness.mayBeAlive(pid: launcherPID, startTime: launcherStartTime)
    }

    /// Whether process `pid` runs and started at `startTime` (`HostStartTime`). A zombie counts as gone: it
    /// will clean up nothing, and its parent may not reap it for a while.
    public static func isRunning(_ pid: Int32, startTime: UInt64) -> Bool {
        guard case .success(let text) = CgroupFS.read("/proc/\(pid)/stat") else { return false }
        return HostStartTime.fromStat(text) == startTime && !ProcStat.hasExited(fromStat: text)
    }

    /// Field 22 of /proc/PID/stat as the initial time namespace shows it (`HostStartTime`), nil
    /// if there is no such process (or the caller's time namespace offset is unknown).
    public static func startTime(of pid: Int32) -> UInt64? {
        guard case .success(let text) = CgroupFS.read("/proc/\(pid)/stat") else { return nil }
        return HostStartTime.fromStat(text)
    }
}
