import BulkheadModel

/// One line of /proc/PID/cgroup: `hierarchy-ID:controller-list:cgroup-path` (cgroups(7)).
///
/// The cgroup v2 line has ID 0 and an empty controller list; a named v1 hierarchy lists
/// `name=…` as its controller.
public struct ProcCgroupEntry: Sendable, Equatable {
    public var hierarchyID: Int
    public var controllers: [String]
    public var path: String

    public init(hierarchyID: Int, controllers: [String], path: String) {
        self.hierarchyID = hierarchyID
        self.controllers = controllers
        self.path = path
    }

    /// Whether this is the cgroup v2 (unified) line.
    public var isUnified: Bool { hierarchyID == 0 && controllers.isEmpty }

    /// Parses the whole of /proc/PID/cgroup; malformed lines are skipped.
    public static func parse(_ text: String) -> [ProcCgroupEntry] {
        text.asciiSplit("\n").compactMap { line in
            // The path may itself contain ':', so split into at most three fields.
            let fields = line.asciiSplit(":", maxSplits: 2, omittingEmptySubsequences: false)
            guard fields.count == 3, let id = Int(fields[0]) else { return nil }
            let controllers = fields[1].asciiSplit(",").map(String.init)
            return ProcCgroupEntry(hierarchyID: id, controllers: controllers, path: String(fields[2]))
        }
    }
}

/// The fields of a /proc/PID/mountinfo line that cgroup detection needs (proc(5)).
public struct MountInfoEntry: Sendable, Equatable {
    /// The root of the mount within its file system (field 4): for a cgroup mount, the
    /// cgroup that appears at the mount point (not "/" inside a cgroup namespace).
    public var root: String
    /// The mount point (field 5), with the kernel's octal escapes decoded.
    public var mountPoint: String
    /// The file-system type after the " - " separator, e.g. "cgroup2".
    public var fileSystemType: String
    /// The per-superblock options, e.g. ["rw", "memory"] for a v1 memory hierarchy.
    public var superOptions: [String]

    public init(root: String, mountPoint: String, fileSystemType: String, superOptions: [String]) {
        self.root = root
        self.mountPoint = mountPoint
        self.fileSystemType = fileSystemType
        self.superOptions = superOptions
    }

    /// The v1 controllers a `cgroup` mount carries (its super options minus the generic
    /// ones); named hierarchies appear as `name=…`.
    public var v1Controllers: [String] {
        guard fileSystemType == "cgroup" else { return [] }
        let generic: Set<String> = ["rw", "ro", "noprefix", "clone_children", "xattr", "cpuset_v2_mode", "favordynmods"]
        return superOptions.filter { !generic.contains($0) && !$0.hasPrefix("release_agent=") }
    }

    /// Parses the whole of /proc/PID/mountinfo; malformed lines are skipped.
    public static func parse(_ text: String) -> [MountInfoEntry] {
        text.asciiSplit("\n").compactMap { line in
            let fields = line.asciiSplit(" ")
            // 36 35 98:0 /mnt1 /mnt2 rw,noatime master:1 - ext3 /dev/root rw,errors=continue
            guard fields.count >= 7, let dash = fields.firstIndex(of: "-"), dash >= 6,
                  fields.count >= dash + 3 else { return nil }
            return MountInfoEntry(
                root: unescape(fields[3]),
                mountPoint: unescape(fields[4]),
                fileSystemType: String(fields[dash + 1]),
                superOptions: fields.count > dash + 3 ? fields[dash + 3].asciiSplit(",").map(String.init) : []
            )
        }
    }

    /// Decodes the `\ooo` octal escapes the kernel uses for space, tab, newline and '\'.
    static func unescape(_ field: Substring) -> String {
        guard field.utf8.contains(UInt8(ascii: "\\")) else { return String(field) }
        var out: [UInt8] = []
        let bytes = Array(field.utf8)
        var i = 0
        while i < bytes.count {
            if bytes[i] == UInt8(ascii: "\\"), i + 3 < bytes.count {
                let digits = bytes[(i + 1)...(i + 3)]
                if digits.allSatisfy({ $0 >= UInt8(ascii: "0") && $0 <= UInt8(ascii: "7") }) {
                    let value = digits.reduce(0) { $0 * 8 + Int($1 - UInt8(ascii: "0")) }
                    out.append(UInt8(truncatingIfNeeded: value))
                    i += 4
                    continue
                }
            }
            out.append(bytes[i])
            i += 1
        }
        return String(decoding: out, as: UTF8.self)
    }
}

/// The start time of a process, field 22 of /proc/PID/stat, in clock ticks since boot.
/// Together with the pid it names one process for the lifetime of the machine.
public enum ProcStat {
    /// Parses field 22 (`starttime`) from the text of /proc/PID/stat. The command name
    /// (field 2) is in parentheses and may contain spaces and ')', so fields are counted
    /// from the last ')'.
    public static func startTime(fromStat text: String) -> UInt64? {
        // Byte-wise: a backward search by Character re-segments graphemes at every step.
        guard let close = text.utf8.lastIndex(of: UInt8(ascii: ")")) else { return nil }
        let rest = text[text.utf8.index(after: close)...].asciiSplit(" ")
        // rest[0] is field 3 (state); field 22 is rest[19].
        guard rest.count > 19 else { return nil }
        return UInt64(rest[19])
    }

    /// Whether the state (field 3) is Z (zombie) or X (dead): the process has exited.
    public static func hasExited(fromStat text: String) -> Bool {
        let s = state(fromStat: text)
        return s == UInt8(ascii: "Z") || s == UInt8(ascii: "X")
    }

    /// The state letter (field 3), the first byte after the last ')' that is not a space.
    /// Byte-wise, as startTime, and the one reader of it (bulkhead-runc's too): a search by
    /// Character for ")" lands inside a command name that ends in a grapheme Prepend (U+0600),
    /// which joins the kernel's ')' into one Character (RedTeamLaunchCPUTests).
    public static func state(fromStat text: String) -> UInt8? {
        let bytes = text.utf8
        guard let close = bytes.lastIndex(of: UInt8(ascii: ")")) else { return nil }
        return bytes[bytes.index(after: close)...].first { $0 != UInt8(ascii: " ") }
    }
}
