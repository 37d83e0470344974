#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#endif

/// The handful of file-system calls the cgroup drivers need, each returning the kernel's
/// errno as a value so that callers can turn it into a `CgroupError` with context.
///
/// cgroup files are small and the kernel handles each `write(2)` as one request, so a
/// value is written with exactly one `write`; a short write is reported as `EIO`.
enum CgroupFS {
    /// Reads a whole (small) file: open(2), read(2) until EOF.
    static func read(_ path: String) -> Result<String, Errno> {
        let fd = open(path, O_RDONLY | O_CLOEXEC)
        if fd < 0 { return .failure(Errno.current) }
        defer { close(fd) }
        var bytes: [UInt8] = []
        var chunk = [UInt8](repeating: 0, count: 16_384)
        while true {
            let n = chunk.withUnsafeMutableBytes { Glibc.read(fd, $0.baseAddress, $0.count) }
            if n < 0 {
                let e = Glibc.errno
                if e == EINTR { continue }
                return .failure(Errno(e))
            }
            if n == 0 { break }
            bytes.append(contentsOf: chunk[0..<n])
        }
        return .success(String(decoding: bytes, as: UTF8.self))
    }

    /// Writes `value` to a cgroup control file with one write(2).
    static func write(_ path: String, _ value: String) -> Result<Void, Errno> {
        let fd = open(path, O_WRONLY | O_CLOEXEC)
        if fd < 0 { return .failure(Errno.current) }
        defer { close(fd) }
        var utf8 = Array(value.utf8)
        while true {
            let n = utf8.withUnsafeMutableBytes { Glibc.write(fd, $0.baseAddress, $0.count) }
            if n < 0 {
                let e = Glibc.errno
                if e == EINTR { continue }
                return .failure(Errno(e))
            }
            if n != utf8.count { return .failure(Errno(EIO)) }
            return .success(())
        }
    }

    /// mkdir(2) with mode 0755. `.success(false)` when the directory already existed.
    static func makeDirectory(_ path: String) -> Result<Bool, Errno> {
        if mkdir(path, 0o755) == 0 { return .success(true) }
        let e = Glibc.errno
        if e == EEXIST { return .success(false) }
        return .failure(Errno(e))
    }

    /// rmdir(2). A cgroup directory is removable once it has no member and no child.
    static func removeDirectory(_ path: String) -> Result<Void, Errno> {
        if rmdir(path) == 0 { return .success(()) }
        return .failure(Errno.current)
    }

    /// access(2) with F_OK.
    static func exists(_ path: String) -> Bool {
        access(path, F_OK) == 0
    }

    /// access(2) with W_OK: may the caller create entries in (or write to) `path`.
    static func isWritable(_ path: String) -> Bool {
        access(path, W_OK) == 0
    }

    /// Whether `path` is a directory (lstat: not a link) owned by the caller's effective uid
    /// or by root that neither its group nor others may write: only then were its entries
    /// made, and could they be renamed, by the caller or root alone. Where bulkhead's base
    /// directory may be (or already is), and every directory the stale collection walks.
    static func isTrustedDirectory(_ path: String) -> Bool {
        var st = stat()
        return lstat(path, &st) == 0 && isTrustedDirectory(st, euid: geteuid())
    }

    /// The same rule for what lstat(2) gave, with the caller's effective uid.
    static func isTrustedDirectory(_ st: stat, euid: uid_t) -> Bool {
        (st.st_mode & S_IFMT) == S_IFDIR && (st.st_uid == euid || st.st_uid == 0) && (st.st_mode & 0o022) == 0
    }

    /// The names of the subdirectories of `path` (opendir(3)/readdir(3)); empty on error.
    static func subdirectories(_ path: String) -> [String] {
        guard let dir = opendir(path) else { return [] }
        defer { closedir(dir) }
        var names: [String] = []
        while let entry = readdir(dir) {
            guard entry.pointee.d_type == UInt8(DT_DIR) else { continue }
            let name = withUnsafePointer(to: entry.pointee.d_name) {
                $0.withMemoryRebound(to: CChar.self, capacity: 256) { String(cString: $0) }
            }
            if name != "." && name != ".." { names.append(name) }
        }
        return names.sorted()
    }

    /// open(2) of a directory with O_RDONLY|O_DIRECTORY|O_CLOEXEC, the fd clone3's
    /// CLONE_INTO_CGROUP takes. (The kernel takes it with fget_raw(), so O_PATH would do
    /// too, but Glibc's Swift module does not export the GNU-only O_PATH; cgroup
    /// directories are world-readable, so O_RDONLY costs nothing.)
    static func openDirectory(_ path: String) -> Result<Int32, Errno> {
        let fd = open(path, O_RDONLY | O_DIRECTORY | O_CLOEXEC)
        if fd < 0 { return .failure(Errno.current) }
        return .success(fd)
    }
}
