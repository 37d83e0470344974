import BulkheadSystem
import Glibc

/// A file the command line names for output (`--report FILE`, `--json FILE`, `--html FILE`),
/// opened as a shell's `>` opens it, but without the ways a local user could turn root's write
/// against a file that is not the caller's:
/// - `/dev/stdout`, `/dev/stderr`, `/dev/fd/N` and `/proc/self/fd/N` are the launcher's own
///   descriptors: duplicated, not reopened (they are links, and magic ones);
/// - the directory is walked through `TrustedFile` (no directory on the way that someone else
///   owns or can write, no link on the way that someone else made) and the file opened from it;
/// - a symbolic link as the last component is followed only when it belongs to the caller (the
///   real uid: root when root runs it) and points straight at its target (that target opened
///   `O_NOFOLLOW`); a link planted by someone else in a shared directory (/tmp) is refused;
/// - the file is opened without `O_TRUNC` and `fstat`ed first: an existing regular file must
///   belong to the caller and have one link (no hard link to someone else's file), a FIFO must
///   belong to the caller, a character device to root or the caller (`/dev/null`); anything else
///   is refused. Only then is a regular file truncated, in place (same inode: a device stays a
///   device; FileManager.createFile once replaced /dev/null with a file).
/// Each refusal is printed (the path, owner, type and the fix) before the caller's own message.
/// Written on file descriptors (no `FileHandle`): the report of a launch is part of the launch
/// executable, which links no Foundation (LaunchImportTests).
package enum OutputFile {
    /// An opened output file: one owner, which writes and closes it once.
    package final class Handle {
        package let fd: Int32
        private var closed = false
        init(fd: Int32) { self.fd = fd }
        deinit { close() }

        /// Writes all of `text` (a short write continues, EINTR retries); false on an error.
        @discardableResult
        package func write(_ text: String) -> Bool {
            var t = text
            return t.withUTF8 { buf in
                var off = 0
                while off < buf.count {
                    let n = Glibc.write(fd, buf.baseAddress! + off, buf.count - off)
                    if n < 0 && errno == EINTR { continue }
                    guard n > 0 else { return false }
                    off += n
                }
                return true
            }
        }

        package func close() {
            guard !closed else { return }
            closed = true
            _ = Glibc.close(fd)
        }
    }

    package static func open(_ path: String) -> Handle? {
        switch openChecked(path) {
        case .success(let fd): return Handle(fd: fd)
        case .failure(let reason):
            warn("\(path): \(reason)")
            return nil
        }
    }

    /// Writes `text` to `path`; false when it cannot be opened or written.
    package static func write(_ text: String, to path: String) -> Bool {
        guard let h = open(path) else { return false }
        defer { h.close() }
        return h.write(text)
    }

    package struct Refusal: Error, CustomStringConvertible {
        package var description: String
        init(_ d: String) { description = d }
        init(_ op: String, errno e: Int32) { description = "\(op): \(String(cString: strerror(e))) (errno \(e))" }
    }

    /// The standard descriptor a path names, if it names one (`/dev/stdout` → 1).
    package static func standardDescriptor(_ path: String) -> Int32? {
        switch path {
        case "/dev/stdout": return 1
        case "/dev/stderr": return 2
        default:
            for prefix in ["/dev/fd/", "/proc/self/fd/"] where path.hasPrefix(prefix) {
                if let n = Int32(path.dropFirst(prefix.count)), n >= 0 { return n }
            }
            return nil
        }
    }

    package static func openChecked(_ path: String) -> Result<Int32, Refusal> {
        let caller = getuid()
        if let n = standardDescriptor(path) {
            let fd = fcntl(n, F_DUPFD_CLOEXEC, 3)
            return fd >= 0 ? .success(fd) : .failure(Refusal("duplicate descriptor \(n)", errno: errno))
        }
        // The directory is walked through TrustedFile (every directory on the way owned by root or
        // the caller and not writable by others unless sticky; a link on the way followed only when
        // it is root's or the caller's) and the file is opened relative to the fd checked: a link
        // someone else made on the way (/tmp/shared/out -> /root) cannot redirect the write.
        var dir: Int32 = -1
        defer { if dir >= 0 { close(dir) } }
        var name = ""
        func enter(_ p: String) -> Refusal? {
            if dir >= 0 { close(dir); dir = -1 }
            do { (dir, _, name) = try TrustedFile.walk(p, what: "output file", final: false) } catch {
                return Refusal("\(error)")
            }
            return nil
        }
        if let refusal = enter(path) { return .failure(refusal) }
        var target = path
        var st = stat()
        if fstatat(dir, name, &st, AT_SYMLINK_NOFOLLOW) == 0, st.st_mode & S_IFMT == S_IFLNK {
            // Read the link through an O_PATH fd of the link itself: the owner checked is the
            // owner of the link whose target is used.
            let l = openat(dir, name, TrustedFile.O_PATH | O_NOFOLLOW | O_CLOEXEC)
            guard l >= 0 else { return .failure(Refusal("open the link", errno: errno)) }
            defer { close(l) }
            guard fstat(l, &st) == 0 else { return .failure(Refusal("fstat the link", errno: errno)) }
            guard st.st_mode & S_IFMT == S_IFLNK, st.st_uid == caller else {
                return .failure(Refusal("a symbolic link owned by uid \(st.st_uid), not by the caller (uid \(caller)): refused, a link in a shared directory may point at any file; name the file itself, or /dev/stdout"))
            }
            var buf = [CChar](repeating: 0, count: Int(PATH_MAX) + 1)
            let n = readlinkat(l, "", &buf, buf.count - 1)
            guard n > 0 else { return .failure(Refusal("readlink", errno: errno)) }
            let dest = String(decoding: buf[0..<n].map { UInt8(bitPattern: $0) }, as: UTF8.self)
            if dest.hasPrefix("/") { target = dest } else {
                let dir = path.lastIndex(of: "/").map { String(path[...$0]) } ?? ""
                target = dir + dest
            }
            if let n = standardDescriptor(target) {
                let fd = fcntl(n, F_DUPFD_CLOEXEC, 3)
                return fd >= 0 ? .success(fd) : .failure(Refusal("duplicate descriptor \(n)", errno: errno))
            }
            if let refusal = enter(target) { return .failure(refusal) }
        }
        let base = O_WRONLY | O_NOFOLLOW | O_NOCTTY | O_CLOEXEC
        var created = true
        var fd = openat(dir, name, base | O_CREAT | O_EXCL, 0o644)
        if fd < 0 && errno == EEXIST {
            created = false
            // Non-blocking, so that a FIFO without a reader cannot hang the check; see below.
            fd = openat(dir, name, base | O_NONBLOCK)
            if fd < 0 && errno == ENXIO {
                // A FIFO with no reader yet: wait for one, as `>` does, if the FIFO is the caller's.
                guard fstatat(dir, name, &st, AT_SYMLINK_NOFOLLOW) == 0, st.st_mode & S_IFMT == S_IFIFO, st.st_uid == caller else {
                    return .failure(Refusal("a FIFO owned by uid \(st.st_uid), not by the caller (uid \(caller))"))
                }
                fd = openat(dir, name, base)
            }
        }
        guard fd >= 0 else {
            let e = errno
            if e == ELOOP { return .failure(Refusal("\(target) is a symbolic link (a link to a link is not followed); name the file itself")) }
            return .failure(Refusal("open \(target)", errno: e))
        }
        guard fstat(fd, &st) == 0 else { let e = errno; close(fd); return .failure(Refusal("fstat", errno: e)) }
        func mode() -> String { "0" + String(st.st_mode & 0o7777, radix: 8) }  // for an error only
        switch st.st_mode & S_IFMT {
        case S_IFREG:
            guard created || (st.st_uid == caller && st.st_nlink == 1) else {
                close(fd)
                if st.st_uid != caller {
                    return .failure(Refusal("an existing file owned by uid \(st.st_uid) (mode \(mode())), not by the caller (uid \(caller)): refused; remove it or choose another path"))
                }
                return .failure(Refusal("an existing file with \(st.st_nlink) hard links: refused (one may be someone else's file); remove it or choose another path"))
            }
            guard created || ftruncate(fd, 0) == 0 else { let e = errno; close(fd); return .failure(Refusal("truncate", errno: e)) }
        case S_IFIFO:
            guard st.st_uid == caller else {
                close(fd); return .failure(Refusal("a FIFO owned by uid \(st.st_uid), not by the caller (uid \(caller))"))
            }
            _ = fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) & ~O_NONBLOCK)
        case S_IFCHR:
            guard st.st_uid == 0 || st.st_uid == caller else {
                close(fd); return .failure(Refusal("a device owned by uid \(st.st_uid), not by root or the caller (uid \(caller))"))
            }
            _ = fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) & ~O_NONBLOCK)
        default:
            close(fd)
            return .failure(Refusal("not a regular file, FIFO or character device (mode \(mode()))"))
        }
        return .success(fd)
    }
}
