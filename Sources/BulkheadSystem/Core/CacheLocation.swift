import Glibc

/// Where bulkhead keeps a cache (`name`: "seccomp", or any other cache's own subdirectory), for
/// every user. The one rule; every cache asks it (`SeccompCache.standard()`):
/// - root: `/var/cache/bulkhead/<name>`;
/// - anyone else, the first that works of `$XDG_CACHE_HOME` (or `$HOME/.cache` when it is
///   unset), `$XDG_RUNTIME_DIR`, then `/var/tmp/bulkhead-cache-<uid>`: `<base>/bulkhead/<name>`,
///   the per-uid directory being `<base>/<name>` itself.
///
/// A cached artefact is loaded into sandboxes, so a directory someone else controls is never
/// used: every directory bulkhead makes or reuses (`bulkhead`, `<name>`, the per-uid one) is
/// created 0700 and must then be a real directory (no symlink, `lstat`), owned by the caller, and
/// writable by nobody else (the cache directory itself and the per-uid one: no group or other
/// bit at all). A directory planted by another user in /var/tmp, a symlink, or a wider mode is
/// refused with the reason, and the next candidate is tried. The base (`$XDG_CACHE_HOME` ...)
/// is the caller's own setting and is only required to be a directory; `$HOME` itself is never
/// created.
public enum CacheLocation {
    /// A usable directory, or none and why each candidate was refused.
    public struct Resolved: Sendable, Equatable {
        public var directory: String?
        /// One line per refused candidate ("$XDG_CACHE_HOME unset" is not one: unset is skipped).
        public var refused: [String]
        /// When there is no directory: what the report and the warning say.
        public var problem: String? {
            directory == nil ? "no usable cache directory (" + (refused.isEmpty ? "no candidate" : refused.joined(separator: "; ")) + ")" : nil
        }
    }

    /// What the caller can do when no cache directory works, for `uid` (the warning's fix): root
    /// reads no `XDG_*` variable, only `/var/cache/bulkhead/<name>` (or `variable`, when the cache
    /// has one: `BULKHEAD_SECCOMP_CACHE`).
    public static func fix(_ name: String, uid: uid_t = geteuid(), variable: String? = nil) -> String {
        let or = variable.map { " (or set \($0) to one)" } ?? ""
        if uid == 0 {
            return "make /var/cache/bulkhead/\(name) a directory owned by root, mode 0700, with no symlink on the way\(or)"
        }
        return "set XDG_CACHE_HOME to a directory of your own" + (variable.map { " (or \($0))" } ?? "")
    }

    /// Resolves (and creates, 0700) the cache directory `name` for `uid` in `environment`
    /// (`XDG_CACHE_HOME`, `HOME`, `XDG_RUNTIME_DIR`; only absolute values count). Directories are
    /// created only when `uid` is the caller's own euid (else only checked); `perUIDBase` is
    /// where the per-uid directory goes (tests name a directory of their own).
    public static func directory(_ name: String, uid: uid_t = geteuid(),
                                 environment: [String: String] = currentEnvironment(),
                                 perUIDBase: String = "/var/tmp") -> Resolved {
        precondition(!name.isEmpty && !name.contains("/") && name != "." && name != "..", "a cache name is one path component")
        if uid == 0 {
            let dir = "/var/cache/bulkhead/" + name
            if let why = make(base: "/var/cache", parts: ["bulkhead", name], uid: 0, create: geteuid() == 0) {
                return Resolved(directory: nil, refused: ["\(dir): \(why)"])
            }
            return Resolved(directory: dir, refused: [])
        }
        var candidates: [(label: String, base: String, parts: [String])] = []
        func absolute(_ key: String) -> String? {
            guard let v = environment[key], v.hasPrefix("/") else { return nil }
            return v
        }
        if let x = absolute("XDG_CACHE_HOME") {
            candidates.append(("$XDG_CACHE_HOME", x, ["bulkhead", name]))
        } else if let h = absolute("HOME") {
            candidates.append(("$HOME/.cache", h, [".cache", "bulkhead", name]))
        }
        if let r = absolute("XDG_RUNTIME_DIR") { candidates.append(("$XDG_RUNTIME_DIR", r, ["bulkhead", name])) }
        candidates.append(("the per-uid directory", perUIDBase, ["bulkhead-cache-\(uid)", name]))
        var refused: [String] = []
        for c in candidates {
            var dir = c.base  // not `joined`: its generic first use was 0.3 M instructions a launch
            for part in c.parts { dir += "/" + part }
            if let why = make(base: c.base, parts: c.parts, uid: uid, create: geteuid() == uid) {
                refused.append("\(c.label) \(dir): \(why)")
                continue
            }
            return Resolved(directory: dir, refused: refused)
        }
        return Resolved(directory: nil, refused: refused)
    }

    /// The process's environment, as `directory` reads it.
    public static func currentEnvironment() -> [String: String] {
        var env: [String: String] = [:]
        for key in ["XDG_CACHE_HOME", "HOME", "XDG_RUNTIME_DIR"] {
            if let v = getenv(key) { env[key] = String(cString: v) }
        }
        return env
    }

    /// `base` must be a directory; each of `parts` below it is made (0700) when missing and then
    /// checked: a real directory owned by `uid`, not writable by group or others, and the
    /// per-uid one and the last (the cache itself) with no group or other bit. Nil when all is
    /// well, else why not.
    static func make(base: String, parts: [String], uid: uid_t, create: Bool) -> String? {
        var st = stat()
        guard stat(base, &st) == 0 else { return "\(base): \(Errno.current)" }
        guard st.st_mode & S_IFMT == S_IFDIR else { return "\(base) is not a directory" }
        var path = base
        for (i, part) in parts.enumerated() {
            path += "/" + part
            if create && mkdir(path, 0o700) != 0 && errno != EEXIST { return "mkdir \(path): \(Errno.current)" }
            guard lstat(path, &st) == 0 else { return "\(path): \(Errno.current)" }
            let type = st.st_mode & S_IFMT
            if type == S_IFLNK { return "\(path) is a symbolic link" }
            if type != S_IFDIR { return "\(path) is not a directory" }
            if st.st_uid != uid { return "\(path) belongs to uid \(st.st_uid), not \(uid)" }
            let strict = i == parts.count - 1 || part.hasPrefix("bulkhead-cache-")
            let mode = st.st_mode & 0o7777
            if strict ? mode & 0o077 != 0 : mode & 0o022 != 0 {
                return "\(path) has mode \(String(mode, radix: 8)) (\(strict ? "0700" : "not writable by group or others") needed)"
            }
        }
        return nil
    }
}
