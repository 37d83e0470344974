/// A Linux capability. The raw value is the kernel's number; `name` is the spelling used by
/// Kubernetes, OCI and libcap (`CAP_SYS_ADMIN`). This is the project's one name↔number table
/// (capabilities(7), include/uapi/linux/capability.h).
public enum Capability: Int, CaseIterable, Sendable, Comparable, CustomStringConvertible {
    case chown = 0, dacOverride, dacReadSearch, fowner, fsetid, kill, setgid, setuid, setpcap,
         linuxImmutable, netBindService, netBroadcast, netAdmin, netRaw, ipcLock, ipcOwner,
         sysModule, sysRawio, sysChroot, sysPtrace, sysPacct, sysAdmin, sysBoot, sysNice,
         sysResource, sysTime, sysTtyConfig, mknod, lease, auditWrite, auditControl, setfcap,
         macOverride, macAdmin, syslog, wakeAlarm, blockSuspend, auditRead, perfmon, bpf,
         checkpointRestore

    static let names: [String] = [
        "CAP_CHOWN", "CAP_DAC_OVERRIDE", "CAP_DAC_READ_SEARCH", "CAP_FOWNER", "CAP_FSETID",
        "CAP_KILL", "CAP_SETGID", "CAP_SETUID", "CAP_SETPCAP", "CAP_LINUX_IMMUTABLE",
        "CAP_NET_BIND_SERVICE", "CAP_NET_BROADCAST", "CAP_NET_ADMIN", "CAP_NET_RAW",
        "CAP_IPC_LOCK", "CAP_IPC_OWNER", "CAP_SYS_MODULE", "CAP_SYS_RAWIO", "CAP_SYS_CHROOT",
        "CAP_SYS_PTRACE", "CAP_SYS_PACCT", "CAP_SYS_ADMIN", "CAP_SYS_BOOT", "CAP_SYS_NICE",
        "CAP_SYS_RESOURCE", "CAP_SYS_TIME", "CAP_SYS_TTY_CONFIG", "CAP_MKNOD", "CAP_LEASE",
        "CAP_AUDIT_WRITE", "CAP_AUDIT_CONTROL", "CAP_SETFCAP", "CAP_MAC_OVERRIDE",
        "CAP_MAC_ADMIN", "CAP_SYSLOG", "CAP_WAKE_ALARM", "CAP_BLOCK_SUSPEND", "CAP_AUDIT_READ",
        "CAP_PERFMON", "CAP_BPF", "CAP_CHECKPOINT_RESTORE",
    ]

    /// `CAP_SYS_ADMIN`.
    public var name: String { Self.names[rawValue] }
    public var description: String { name }

    /// Accepts `CAP_SYS_ADMIN`, `SYS_ADMIN` (the Kubernetes spelling) and ASCII lower case;
    /// nothing else (`ExactName`: no Unicode case mapping, no canonical equivalence).
    public init?(name: String) {
        guard var n = ExactName.asciiUppercased(name) else { return nil }
        if !n.hasPrefix("CAP_") { n = "CAP_" + n }
        guard let i = Self.names.firstIndex(where: { ExactName.same($0, n) }) else { return nil }
        self.init(rawValue: i)
    }

    public static func < (a: Self, b: Self) -> Bool { a.rawValue < b.rawValue }

    /// The Kubernetes spelling, without the `CAP_` prefix.
    public var kubernetesName: String { String(name.dropFirst(4)) }
}

/// A set of capabilities as the kernel's 64-bit mask.
public struct CapabilitySet: Sendable, Equatable, Hashable {
    public var mask: UInt64
    public init(mask: UInt64 = 0) { self.mask = mask }
    public init(_ caps: some Sequence<Capability>) {
        mask = caps.reduce(0) { $0 | (1 << UInt64($1.rawValue)) }
    }
    public static let all = CapabilitySet(Capability.allCases)
    public func contains(_ c: Capability) -> Bool { mask & (1 << UInt64(c.rawValue)) != 0 }
    public var members: [Capability] { Capability.allCases.filter(contains) }
    public var isEmpty: Bool { mask == 0 }
}
