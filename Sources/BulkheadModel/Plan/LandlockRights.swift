/// Landlock access rights (include/uapi/linux/landlock.h), by the ABI version that introduced
/// them. The planner handles every right the running kernel knows, so that a right the
/// profile does not grant is denied rather than silently unrestricted.
public enum LandlockRights {
    // Filesystem rights. ABI 1: bits 0-12.
    public static let execute: UInt64 = 1 << 0
    public static let writeFile: UInt64 = 1 << 1
    public static let readFile: UInt64 = 1 << 2
    public static let readDir: UInt64 = 1 << 3
    public static let removeDir: UInt64 = 1 << 4
    public static let removeFile: UInt64 = 1 << 5
    public static let makeChar: UInt64 = 1 << 6
    public static let makeDir: UInt64 = 1 << 7
    public static let makeReg: UInt64 = 1 << 8
    public static let makeSock: UInt64 = 1 << 9
    public static let makeFifo: UInt64 = 1 << 10
    public static let makeBlock: UInt64 = 1 << 11
    public static let makeSym: UInt64 = 1 << 12
    /// ABI 2 (Linux 5.19): rename and link across directories.
    public static let refer: UInt64 = 1 << 13
    /// ABI 3 (Linux 6.2): truncate.
    public static let truncate: UInt64 = 1 << 14
    /// ABI 5 (Linux 6.10): ioctl on device files.
    public static let ioctlDev: UInt64 = 1 << 15

    // Network rights, ABI 4 (Linux 6.7).
    public static let bindTCP: UInt64 = 1 << 0
    public static let connectTCP: UInt64 = 1 << 1

    /// Every filesystem right the ABI knows: what the ruleset handles.
    public static func handledFilesystem(abi: Int) -> UInt64 {
        var r: UInt64 = (1 << 13) - 1
        if abi >= 2 { r |= refer }
        if abi >= 3 { r |= truncate }
        if abi >= 5 { r |= ioctlDev }
        return r
    }

    /// Reading and executing beneath a path.
    public static func readOnly(abi: Int) -> UInt64 { execute | readFile | readDir }

    /// Everything beneath a path.
    public static func readWrite(abi: Int) -> UInt64 { handledFilesystem(abi: abi) }

    /// The first ABI with TCP port rules.
    public static let networkABI = 4
}
