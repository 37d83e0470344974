/// The one rule for a workload's working directory, whoever names it: `--workdir`, a
/// profile's `workingDir`, a Pod container's `workingDir`.
///
/// The directory is entered inside the sandbox's root with no magic link (the init's
/// `enterWorkingDirectory` step), which is what stops an escape through an inherited fd
/// (CVE-2024-21626: `/proc/self/fd/N` naming a directory of the host). This check refuses such a
/// path before anything is created, with an error that names the field.
public enum WorkingDirectory {
    /// Paths that lead into procfs's per-process fd links: /proc itself, and the /dev names
    /// the sandbox links there (`/dev/fd -> /proc/self/fd`, stdin, stdout, stderr).
    static let refusedTrees = ["/proc", "/dev/fd", "/dev/stdin", "/dev/stdout", "/dev/stderr"]

    /// What is wrong with `path` as a working directory, or nil when it is acceptable:
    /// absolute, no NUL, no `..`, and not /proc or beneath it (nor /dev/fd and its kin).
    public static func problem(_ path: String) -> String? {
        let normal: String
        switch FieldRules.absolutePath(path) {
        case .success(let p): normal = p
        case .failure(let r): return r.message
        }
        for t in refusedTrees where normal == t || normal.hasPrefix(t + "/") {
            return "the working directory may not be \(t) or beneath it (a /proc/self/fd/N path leads to a descriptor of the launcher, CVE-2024-21626)"
        }
        return nil
    }
}
