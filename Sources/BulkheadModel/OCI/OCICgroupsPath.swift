/// The rule for an OCI `linux.cgroupsPath` (the one place it lives): what a container engine
/// legitimately sends, and nothing else. The path is the config author's (the engine's caller:
/// a podman or containerd user, a pod spec's author through CRI); root makes the directory and
/// writes the container's limits there, from the root of every cgroup hierarchy, as runc does.
///
/// Accepted: an absolute cgroupfs path of 1 to `maxDepth` names, each of letters, digits and
/// `_ . + -` (containerd's `/<namespace>/<id>` and `/k8s.io/<id>`, podman's cgroupfs
/// `/libpod_parent/libpod-<id>`, the kubelet's `/kubepods/burstable/pod<uid>/<id>`). Refused:
/// - a relative path (runc puts it under the runtime's own cgroup) and the root itself;
/// - the systemd form `slice:prefix:name` (podman's default `machine.slice:libpod:<id>`, CRI-O's
///   and containerd's with SystemdCgroup): it needs a systemd cgroup manager bulkhead lacks;
/// - empty, `.` or `..` components, names starting with `cgroup.` (control files), over 255
///   bytes, more than `maxDepth` levels or `maxLength` bytes in all, any other byte (`:`, `@`,
///   space, control characters);
/// - a component named `reservedName` ("bulkhead", `CgroupHost.subtreeName`): bulkhead's own
///   tree (at the cgroup2 root, and under each launcher's own cgroup in a v1 hierarchy) holds
///   the tenants' cgroups, their quotas and the sandbox leaves the stale-leaf walk judges and
///   kills; a container placed there would count against another tenant's quota, or (named
///   like a leaf, then `pause`d) leave frozen members for every later launch to wait on;
/// - a component shaped like a sandbox leaf (`c-<digits>-<digits>-<digits>`) anywhere.
/// What the path names must also be new, no ancestor of it may hold processes (another
/// container's or the host's cgroup) or be another container's cgroup (stopped or not: marked
/// when bulkhead-runc made it): checked against the live hierarchies when `create` makes it
/// (`CgroupSetup`), never adopted; a `create` that fails removes only what it made.
public enum OCICgroupsPath {
    /// bulkhead's directory in every hierarchy (`CgroupHost.subtreeName` is the same name).
    public static let reservedName = "bulkhead"
    /// The deepest cgroupsPath accepted (the kubelet's is 4 levels).
    public static let maxDepth = 16
    /// The longest cgroupsPath accepted, in bytes (the kubelet's is about 130): below a
    /// hierarchy's mount point, with a control file's name, it stays far inside PATH_MAX (16
    /// names of 255 bytes would not, and `create` failed half-way down the tree).
    public static let maxLength = 1024

    /// The components of `path`, or why it is refused (a sentence naming what to send instead,
    /// never repeating the path). An empty path is nil components and no problem.
    public static func check(_ path: String) -> (components: [String]?, problem: String?) {
        if path.isEmpty { return (nil, nil) }
        if path.contains(":") && !path.hasPrefix("/") {
            return (nil, "a systemd cgroup path (slice:prefix:name) needs --systemd-cgroup, which bulkhead does not support; configure the engine with cgroup_manager = \"cgroupfs\" (podman) or SystemdCgroup = false (containerd), which send an absolute path")
        }
        guard path.hasPrefix("/") else {
            return (nil, "a relative cgroup path (runc puts it under the runtime's own cgroup) is not supported by bulkhead; give an absolute path below the root, e.g. /k8s.io/<id>, or none for bulkhead/oci/<id>")
        }
        let parts = path.dropFirst().split(separator: "/", omittingEmptySubsequences: false).map(String.init)
        guard path.utf8.count > 1 else {
            return (nil, "the root cgroup is not a container's; give an absolute path below it, e.g. /k8s.io/<id>, or none for bulkhead/oci/<id>")
        }
        guard path.utf8.count <= maxLength else {
            return (nil, "at most \(maxLength) bytes are accepted; give a shorter path, e.g. /k8s.io/<id>")
        }
        guard parts.count <= maxDepth else {
            return (nil, "at most \(maxDepth) levels are accepted; give a shorter path, e.g. /k8s.io/<id>")
        }
        for p in parts {
            if p.isEmpty || p == "." || p == ".." || p.hasPrefix("cgroup.") || p.utf8.count > 255
                || !p.utf8.allSatisfy({ isNameByte($0) }) {
                return (nil, "each name of the path needs 1 to 255 letters, digits, '_', '.', '+' or '-' (no empty, \".\" or \"..\" name, none starting with \"cgroup.\"); give e.g. /k8s.io/<id>")
            }
            if p == reservedName {
                return (nil, "a path through a directory named \"\(reservedName)\" is inside bulkhead's own cgroups (its tenants' quotas and sandboxes); give a path outside it, e.g. /k8s.io/<id>, or none for bulkhead/oci/<id>")
            }
            if isLeafShaped(p) {
                return (nil, "a name shaped like a bulkhead sandbox leaf (c-<pid>-<start>-<n>) is reserved; name the cgroup otherwise, e.g. after the container id")
            }
        }
        return (parts, nil)
    }

    static func isNameByte(_ b: UInt8) -> Bool {
        (b >= 0x30 && b <= 0x39) || (b >= 0x41 && b <= 0x5a) || (b >= 0x61 && b <= 0x7a) || b == 0x5f || b == 0x2e || b == 0x2b || b == 0x2d
    }

    /// `c-` then three runs of digits separated by '-' (what `CgroupLeafName` parses, and the
    /// same with any digits: a name the walk might take for a leaf is reserved whatever its numbers).
    static func isLeafShaped(_ p: String) -> Bool {
        guard p.hasPrefix("c-") else { return false }
        let runs = p.dropFirst(2).split(separator: "-", omittingEmptySubsequences: false)
        return runs.count == 3 && runs.allSatisfy { !$0.isEmpty && $0.utf8.allSatisfy { $0 >= 0x30 && $0 <= 0x39 } }
    }
}
