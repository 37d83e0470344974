#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#endif

/// The name of one of bulkhead's persistent network namespaces, `<role>-<pid>-<starttime>-<n>`
/// (`node-4711-195200-0`, `pod-4711-195200-3`): a role in lower-case letters, the process
/// that owns the namespace (pid plus start time, field 22 of /proc/PID/stat, so a recycled
/// pid does not count as alive) and a per-owner sequence number. As with `CgroupLeafName`,
/// a later run can tell from the name alone whether the owner is gone and the namespace is
/// stale.
public struct NetworkNamespaceName: Sendable, Equatable, Hashable, CustomStringConvertible {
    /// What the namespace is for: `node`, `pod`, … (1 to 8 letters a-z).
    public var role: String
    public var ownerPID: Int32
    public var ownerStartTime: UInt64
    public var sequence: UInt64

    /// Nil when `role` is not 1 to 8 lower-case ASCII letters.
    public init?(role: String, ownerPID: Int32, ownerStartTime: UInt64, sequence: UInt64) {
        guard Self.isValidRole(role), ownerPID > 0 else { return nil }
        self.role = role
        self.ownerPID = ownerPID
        self.ownerStartTime = ownerStartTime
        self.sequence = sequence
    }

    /// Parses a file name; nil unless it is exactly `<role>-<pid>-<starttime>-<n>`.
    public init?(parsing name: String) {
        let parts = name.split(separator: "-", omittingEmptySubsequences: false)
        guard parts.count == 4,
              parts[1...].allSatisfy({ !$0.isEmpty && $0.count <= 20 && $0.allSatisfy { $0.isASCII && $0.isNumber } }),
              let pid = Int32(parts[1]), let start = UInt64(parts[2]), let n = UInt64(parts[3]) else { return nil }
        self.init(role: String(parts[0]), ownerPID: pid, ownerStartTime: start, sequence: n)
    }

    static func isValidRole(_ role: String) -> Bool {
        !role.isEmpty && role.utf8.count <= 8 && role.utf8.allSatisfy { $0 >= UInt8(ascii: "a") && $0 <= UInt8(ascii: "z") }
    }

    public var description: String { "\(role)-\(ownerPID)-\(ownerStartTime)-\(sequence)" }

    /// A name owned by the calling process; nil if /proc/self/stat cannot be read or the
    /// role is invalid.
    public static func forCurrentProcess(role: String, sequence: UInt64) -> NetworkNamespaceName? {
        forProcess(getpid(), role: role, sequence: sequence)
    }

    /// A name owned by process `pid` (which must be running now).
    public static func forProcess(_ pid: Int32, role: String, sequence: UInt64) -> NetworkNamespaceName? {
        guard let start = CgroupLeafName.startTime(of: pid) else { return nil }
        return NetworkNamespaceName(role: role, ownerPID: pid, ownerStartTime: start, sequence: sequence)
    }

    /// Whether the owner this name encodes still runs (same pid and start time).
    public var ownerIsAlive: Bool { OwnerLiveness.mayBeAlive(pid: ownerPID, startTime: ownerStartTime) }
}
