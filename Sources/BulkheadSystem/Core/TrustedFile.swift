import BulkheadModel
import CShims
import Glibc

/// The one way root opens a file or directory on someone's behalf: a profile, a seccomp policy,
/// a manifest, a secret, a rootfs or secrets directory.
///
/// As sudo's and OpenSSH's `safe_path` do, the path is walked from `/` one component at a time
/// with `openat(O_PATH|O_NOFOLLOW|O_DIRECTORY)`, so that what is checked is what is used:
/// - every directory on the way is owned by root or by the calling (real) uid and is not
///   writable by group or others, unless it is sticky (`/tmp`): there only an entry's owner can
///   replace it, and every entry taken from it is checked the same way;
/// - a symbolic link on the way is followed only when it belongs to root or the caller (its
///   target is then read from the very link that was checked, `readlinkat(fd, "")`); a final
///   component that is a link is refused (`O_NOFOLLOW`);
/// - the file is first opened `O_PATH|O_NOFOLLOW` (which opens no device and waits on no FIFO)
///   and must be a regular file; then opened for reading `O_NOFOLLOW|O_NONBLOCK|O_NOCTTY|O_CLOEXEC`
///   and `fstat`ed: the same inode, owned by root or the caller, not writable by group or others,
///   at most `limit` bytes.
///
/// Errors name the path, the owner, the mode, the type or the errno, and the fix; never a byte
/// of the file.
public enum TrustedFile {
    /// Profiles, seccomp policies, manifests.
    public static let configLimit = 4 << 20

    /// A file read through the checks.
    public struct Contents: Sendable {
        /// The path as walked (absolute).
        public var path: String
        public var bytes: [UInt8]
        /// Not readable by everyone (by its mode, or in a directory others cannot enter), and not
        /// the caller's own file: an error about its content
        /// must not show any of it (it may be a root-only file named by someone who cannot read it).
        public var isPrivate: Bool
        /// The file's mode bits (permissions, setuid/setgid/sticky) and owner, from the fstat of the fd read.
        public var mode: mode_t
        public var owner: uid_t
        public var text: String { String(decoding: bytes, as: UTF8.self) }
        /// The bytes as text when they are all UTF-8, nil when any is not: never repaired into
        /// U+FFFD as `text` repairs them (a JSON text that is not UTF-8 is not JSON, RFC 8259
        /// section 8.1; the OCI runtime's documents are read with this).
        public var utf8Text: String? { String(validating: bytes, as: UTF8.self) }
    }

    /// The uids whose files root trusts: root and the real uid of this process.
    public static var trustedOwners: [uid_t] { getuid() == 0 ? [0] : [0, getuid()] }

    static var ownersText: String {
        getuid() == 0 ? "root" : "root or uid \(getuid()) (the caller)"
    }

    /// Reads `path` through the checks. `what` names the file in errors ("profile", "seccomp policy").
    public static func read(_ path: String, what: String, limit: Int = configLimit) throws(SystemError) -> Contents {
        let (dir, dirPath, name) = try walk(path, what: what, final: false)
        defer { close(dir) }
        return try read(in: dir, directory: dirPath, name: name, what: what, limit: limit)
    }

    /// Opens a program root will execute (`execveat(fd, "", …, AT_EMPTY_PATH)`), through the
    /// walk's checks: an `O_PATH` fd (close-on-exec; the caller closes it) of a regular file owned
    /// by root (not the caller: root runs it), not writable by group or others, executable by its
    /// owner. The fd is what is checked and what is run, so a later rename changes nothing.
    /// - Parameters:
    ///   - alsoOwnedBy: a uid whose program is accepted too (the launch executable's full command
    ///     line, run by an ordinary user from a build of their own: their euid); nil, root only.
    ///   - privateDirectory: the directory holding it must not be writable by group or others
    ///     either, sticky or not (a sticky /tmp is refused: the program is looked up there by
    ///     name on every run, and someone else could have made that name first).
    ///   - hint: the fix a refusal names (default: reinstall it from the distribution's package).
    public static func openProgram(_ path: String, what: String, alsoOwnedBy: uid_t? = nil, privateDirectory: Bool = false,
                                   hint: String? = nil) throws(SystemError) -> Int32 {
        let (dir, dirPath, name) = try walk(path, what: what, final: false)
        defer { close(dir) }
        let shownPath = join(dirPath, name)
        let fix = hint ?? "root runs only a root-owned program that only root can change: reinstall it from the distribution's package"
        if privateDirectory {
            var d = stat()
            guard fstat(dir, &d) == 0 else { throw SystemError("fstat \(what)'s directory \(dirPath)", errno: .current) }
            if d.st_mode & 0o022 != 0 {
                throw SystemError("\(what) \(shownPath) is in \(dirPath), which is writable by \(d.st_mode & 0o020 != 0 ? "its group" : "others") "
                                  + "(owner uid \(d.st_uid), mode 0\(String(d.st_mode & 0o7777, radix: 8)))", errno: nil, hint: fix)
            }
        }
        let fd = openat(dir, name, O_PATH | O_NOFOLLOW | O_CLOEXEC)
        guard fd >= 0 else { throw SystemError("open \(what) \(shownPath)", errno: .current, hint: hint) }
        var st = stat()
        guard fstat(fd, &st) == 0 else { let e = Errno.current; close(fd); throw SystemError("fstat \(what) \(shownPath)", errno: e) }
        func octal() -> String { "0" + String(st.st_mode & 0o7777, radix: 8) }  // for an error only
        let owners = alsoOwnedBy.map { $0 == 0 ? "root" : "root or uid \($0)" } ?? "root"
        let problem: String? =
            st.st_mode & S_IFMT == S_IFLNK ? "is a symbolic link"
            : st.st_mode & S_IFMT != S_IFREG ? "is \(typeName(st.st_mode)), not a regular file"
            : st.st_uid != 0 && st.st_uid != (alsoOwnedBy ?? 0) ? "is owned by uid \(st.st_uid) (mode \(octal())), not by \(owners)"
            : st.st_mode & 0o022 != 0 ? "is writable by \(st.st_mode & 0o020 != 0 ? "its group" : "others") (mode \(octal()))"
            : st.st_mode & 0o100 == 0 ? "is not executable (mode \(octal()))"
            : nil
        if let problem {
            close(fd)
            throw SystemError("\(what) \(shownPath) \(problem)", errno: nil, hint: fix)
        }
        return fd
    }

    /// Reads the entry `name` of a directory opened by `openDirectory` (or `walk`).
    public static func read(in dir: Int32, directory: String, name: String, what: String,
                            limit: Int = configLimit) throws(SystemError) -> Contents {
        let path = join(directory, name)
        guard !name.isEmpty, !name.contains("/"), name != ".", name != ".." else {
            throw SystemError("\(what) \(path): not a file name", errno: Errno(EINVAL))
        }
        // First an O_PATH handle, which opens nothing: a device's open(2) can act (a watchdog
        // starts, a tape rewinds), and only a regular file is read.
        let handle = openat(dir, name, O_PATH | O_NOFOLLOW | O_CLOEXEC)
        guard handle >= 0 else { throw SystemError("open \(what) \(path)", errno: .current) }
        var first = stat()
        let statted = fstat(handle, &first) == 0
        close(handle)
        guard statted else { throw SystemError("fstat \(what) \(path)", errno: .current) }
        if first.st_mode & S_IFMT == S_IFLNK {
            throw SystemError("\(what) \(path) is a symbolic link", errno: Errno(ELOOP),
                              hint: "name the file it points to; root does not follow a link as the last component of a path")
        }
        guard first.st_mode & S_IFMT == S_IFREG else {
            throw SystemError("\(what) \(path) is \(typeName(first.st_mode)), not a regular file", errno: nil,
                              hint: "give a regular file")
        }
        // Then the read handle (O_NONBLOCK and O_NOFOLLOW still: the name may have been replaced),
        // which must be the same inode.
        let fd = openat(dir, name, O_RDONLY | O_NOFOLLOW | O_NONBLOCK | O_NOCTTY | O_CLOEXEC)
        guard fd >= 0 else { throw SystemError("open \(what) \(path)", errno: .current) }
        defer { close(fd) }
        var st = stat()
        guard fstat(fd, &st) == 0 else { throw SystemError("fstat \(what) \(path)", errno: .current) }
        guard st.st_mode & S_IFMT == S_IFREG, st.st_dev == first.st_dev, st.st_ino == first.st_ino else {
            throw SystemError("\(what) \(path) changed while it was opened", errno: nil, hint: "try again; if it recurs, someone is replacing the file")
        }
        try checkOwnerAndMode(st, path: path, what: what, sticky: false)
        guard st.st_size <= limit else {
            throw SystemError("\(what) \(path) is \(st.st_size) bytes, more than the \(limit) allowed", errno: Errno(EFBIG))
        }
        var out: [UInt8] = []
        var buf = [UInt8](repeating: 0, count: 65536)
        while true {
            let n = buf.withUnsafeMutableBytes { Glibc.read(fd, $0.baseAddress, $0.count) }
            if n < 0 {
                if errno == EINTR { continue }
                throw SystemError("read \(what) \(path)", errno: .current)
            }
            if n == 0 { break }
            out.append(contentsOf: buf[0..<n])
            guard out.count <= limit else {
                throw SystemError("\(what) \(path) is more than the \(limit) bytes allowed", errno: Errno(EFBIG))
            }
        }
        let caller = getuid()
        // Readable by everyone only when everyone can also reach it (/root/x mode 0644 is not),
        // and when everyone reads the same bytes (/proc/PID/maps, mode 0444, is root's only).
        let isPrivate = (st.st_mode & 0o004 == 0 || !everyoneCanEnter(dir) || onKernelFilesystem(fd))
            && !(caller != 0 && st.st_uid == caller)
        return Contents(path: path, bytes: out, isPrivate: isPrivate, mode: st.st_mode & 0o7777, owner: st.st_uid)
    }

    /// Whether everyone can reach the entries of `dir`: it and every directory above it, up to
    /// `/`, searchable by others (o+x), climbed with `..` from the fd itself.
    static func everyoneCanEnter(_ dir: Int32) -> Bool {
        var root = stat(), st = stat()
        guard stat("/", &root) == 0 else { return false }
        var cur = openat(dir, ".", O_PATH | O_DIRECTORY | O_CLOEXEC)
        defer { if cur >= 0 { close(cur) } }
        for _ in 0..<4096 {
            guard cur >= 0, fstat(cur, &st) == 0, st.st_mode & 0o001 != 0 else { return false }
            if st.st_dev == root.st_dev && st.st_ino == root.st_ino { return true }
            let up = openat(cur, "..", O_PATH | O_DIRECTORY | O_CLOEXEC)
            close(cur)
            cur = up
        }
        return false
    }

    /// On a filesystem the kernel fills for each reader (procfs, sysfs, debugfs, tracefs,
    /// securityfs, bpf): its mode says nothing of what another user would read there.
    static func onKernelFilesystem(_ fd: Int32) -> Bool {
        var type = 0
        guard bh_fstatfs_type(fd, &type) == 0 else { return true }
        let kernel = [0x9fa0, 0x6265_6572, 0x6462_6720, 0x7472_6163, 0x7363_6673, 0xcafe_4a11]
        return kernel.contains(type)
    }

    /// Opens a directory through the checks: an `O_PATH|O_DIRECTORY` fd (the caller closes it)
    /// and the absolute path walked. The directory itself must be owned by root or the caller and
    /// not writable by group or others (sticky or not: its entries are what is used).
    public static func openDirectory(_ path: String, what: String) throws(SystemError) -> (fd: Int32, path: String) {
        let (fd, p, _) = try walk(path, what: what, final: true)
        var st = stat()
        guard fstat(fd, &st) == 0 else { close(fd); throw SystemError("fstat \(what) \(p)", errno: .current) }
        do { try checkOwnerAndMode(st, path: p, what: what, sticky: false) } catch { close(fd); throw error }
        return (fd, p)
    }

    /// The names in a directory opened by `openDirectory` (no "." or ".."), sorted.
    public static func list(_ dir: Int32) -> [String] {
        let fd = openat(dir, ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC)
        guard fd >= 0 else { return [] }
        guard let d = fdopendir(fd) else { close(fd); return [] }
        return FileIO.names(d)
    }

    /// Walks `path` from `/`. With `final: false`, returns the checked directory holding the last
    /// component and that component (not opened); with `final: true`, the last component too is
    /// walked as a directory and returned (with an empty name).
    public static func walk(_ path: String, what: String, final: Bool) throws(SystemError) -> (fd: Int32, path: String, name: String) {
        guard !path.isEmpty, !path.utf8.contains(0) else { throw SystemError("\(what): an empty path", errno: Errno(EINVAL)) }
        var absolute = path
        if !path.hasPrefix("/") {
            guard let cwd = getcwd(nil, 0) else { throw SystemError("\(what) \(path): getcwd", errno: .current) }
            absolute = String(cString: cwd) + "/" + path
            free(cwd)
        }
        // Components still to walk, last first.
        var remaining: [String] = Array(ExactName.pathComponents(absolute).reversed())
        let root = open("/", O_PATH | O_DIRECTORY | O_CLOEXEC)
        guard root >= 0 else { throw SystemError("open /", errno: .current) }
        var stack: [Int32] = [root]
        var names: [String] = []
        // Not `joined(separator:)`: its generic metadata, looked up by name at the first call,
        // is a quarter of a short command's instructions (`run --pool`).
        func shown() -> String {
            guard !names.isEmpty else { return "/" }
            var s = ""
            for n in names { s += "/"; s += n }
            return s
        }
        func closeAll() { for fd in stack { close(fd) } }
        var st = stat()
        guard fstat(root, &st) == 0 else { closeAll(); throw SystemError("fstat /", errno: .current) }
        do { try checkOwnerAndMode(st, path: "/", what: "directory", sticky: true) } catch { closeAll(); throw error }
        var links = 0
        while let c = remaining.popLast() {
            if c == "." { if remaining.isEmpty && !final { closeAll(); throw SystemError("\(what) \(path): not a file name", errno: Errno(EISDIR)) }; continue }
            if c == ".." {
                if stack.count > 1 { close(stack.removeLast()); names.removeLast() }
                if remaining.isEmpty && !final { closeAll(); throw SystemError("\(what) \(path): not a file name", errno: Errno(EISDIR)) }
                continue
            }
            if remaining.isEmpty && !final {
                let dir = stack.removeLast()
                closeAll()
                return (dir, shown(), c)
            }
            let here = names.isEmpty ? "/" + c : shown() + "/" + c
            let fd = openat(stack.last!, c, O_PATH | O_NOFOLLOW | O_CLOEXEC)
            guard fd >= 0 else { let e = Errno.current; closeAll(); throw SystemError("\(what) \(path): open \(here)", errno: e) }
            guard fstat(fd, &st) == 0 else { let e = Errno.current; close(fd); closeAll(); throw SystemError("fstat \(here)", errno: e) }
            switch st.st_mode & S_IFMT {
            case S_IFLNK:
                defer { close(fd) }
                links += 1
                guard links <= 40 else { closeAll(); throw SystemError("\(what) \(path): too many symbolic links", errno: Errno(ELOOP)) }
                guard trustedOwners.contains(st.st_uid) else {
                    closeAll()
                    throw SystemError("\(what) \(path): the symbolic link \(here) belongs to uid \(st.st_uid), not \(ownersText)",
                                      hint: "name the real path; root follows only links that root or the caller made")
                }
                var buf = [CChar](repeating: 0, count: Int(PATH_MAX) + 1)
                let n = readlinkat(fd, "", &buf, buf.count - 1)
                guard n > 0 else { let e = Errno.current; closeAll(); throw SystemError("readlink \(here)", errno: e) }
                let target = String(decoding: buf[0..<n].map { UInt8(bitPattern: $0) }, as: UTF8.self)
                if target.hasPrefix("/") {
                    while stack.count > 1 { close(stack.removeLast()) }
                    names.removeAll()
                }
                remaining += ExactName.pathComponents(target).reversed()
            case S_IFDIR:
                do { try checkOwnerAndMode(st, path: here, what: "directory", sticky: true) } catch {
                    close(fd); closeAll()
                    throw SystemError("\(what) \(path): \(error.operation)", errno: error.errno, hint: error.hint)
                }
                stack.append(fd)
                names.append(c)
            default:
                close(fd); closeAll()
                throw SystemError("\(what) \(path): \(here) is \(typeName(st.st_mode)), not a directory", errno: Errno(ENOTDIR))
            }
        }
        guard final else { closeAll(); throw SystemError("\(what) \(path): not a file name", errno: Errno(EISDIR)) }
        let dir = stack.removeLast()
        closeAll()
        return (dir, shown(), "")
    }

    /// Owned by root or the caller; not writable by group or others (a sticky directory may be).
    static func checkOwnerAndMode(_ st: stat, path: String, what: String, sticky: Bool) throws(SystemError) {
        // Formatted only for an error: this runs for every component of every path a launch
        // checks, and String(_:radix:) runs unspecialised (BENCHMARKS.md, session 18).
        func octal() -> String { "0" + String(st.st_mode & 0o7777, radix: 8) }
        guard trustedOwners.contains(st.st_uid) else {
            throw SystemError("\(what) \(path) is owned by uid \(st.st_uid) (mode \(octal())), not by \(ownersText)", errno: nil,
                              hint: "root uses only files and directories that root (or the caller) owns: chown root \(path), or use another path")
        }
        if st.st_mode & 0o022 != 0 && !(sticky && st.st_mode & S_IFMT == S_IFDIR && st.st_mode & S_ISVTX != 0) {
            throw SystemError("\(what) \(path) is writable by \(st.st_mode & 0o020 != 0 ? "its group" : "others") (owner uid \(st.st_uid), mode \(octal()))",
                              errno: nil, hint: "chmod go-w \(path)")
        }
    }

    static func typeName(_ mode: mode_t) -> String {
        switch mode & S_IFMT {
        case S_IFREG: return "a regular file"
        case S_IFDIR: return "a directory"
        case S_IFLNK: return "a symbolic link"
        case S_IFIFO: return "a FIFO"
        case S_IFSOCK: return "a socket"
        case S_IFCHR: return "a character device"
        case S_IFBLK: return "a block device"
        default: return "of an unknown type"
        }
    }

    /// `O_PATH` (010000000 on every Linux architecture but alpha, parisc and sparc): Glibc's
    /// Swift module does not export this GNU-only flag.
    public static let O_PATH: Int32 = 0o10000000

    static func join(_ dir: String, _ name: String) -> String { dir == "/" ? "/" + name : dir + "/" + name }
}
