/// Whether this process runs in the host's (the initial) user namespace. There, and only there,
/// /proc/self/uid_map is the identity over every id: the one line `0 0 4294967295`. Rootless
/// podman runs the OCI runtime as uid 0 of a user namespace of its own, where uid 0 is not the
/// host's root and root's checks (owner root, the host's /run) would be the wrong ones.
public enum UserNamespaceProbe {
    /// The rule, on the text of a uid_map.
    public static func isInitial(uidMap: String) -> Bool {
        let lines = uidMap.split(separator: "\n")
        guard lines.count == 1 else { return false }
        return lines[0].split(whereSeparator: { $0 == " " || $0 == "\t" }) == ["0", "0", "4294967295"]
    }

    /// This process's answer; nil when /proc/self/uid_map cannot be read (no /proc).
    public static func currentIsInitial() -> Bool? {
        FileIO.read("/proc/self/uid_map", limit: 1 << 16).map { isInitial(uidMap: $0) }
    }
}
