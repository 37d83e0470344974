import BulkheadLaunch
import BulkheadModel
import BulkheadSystem
import Glibc

/// The files `bulkhead seccomp scan` reads: executables and libraries through `TrustedFile`
/// (owner, mode and type checked; a link is followed only when it belongs to root or the
/// caller), and the library search of the dynamic loader: DT_RUNPATH ($ORIGIN expanded), then
/// /etc/ld.so.cache, then the default directories. LD_LIBRARY_PATH is not read: the scan is of
/// what the binary gets on this host, not of the caller's environment.
public enum ScanFiles {
    public static let defaultDirectories = ["/lib/x86_64-linux-gnu", "/usr/lib/x86_64-linux-gnu", "/lib64", "/usr/lib64", "/lib", "/usr/lib"]
    static let maxLinks = 16

    /// Reads `path` as a file to scan, following links that root or the caller own. A file
    /// other users cannot read is refused unless the caller is root (its system calls would
    /// tell what it is).
    public static func read(_ path: String) throws(SystemError) -> [UInt8] {
        var current = path
        for _ in 0...maxLinks {
            let (dir, dirPath, name) = try TrustedFile.walk(current, what: "file to scan", final: false)
            defer { close(dir) }
            var st = stat()
            guard fstatat(dir, name, &st, AT_SYMLINK_NOFOLLOW) == 0 else { throw SystemError("stat file to scan \(current)", errno: .current) }
            if st.st_mode & S_IFMT == S_IFLNK {
                guard TrustedFile.trustedOwners.contains(st.st_uid) else {
                    throw SystemError("file to scan \(current) is a symbolic link owned by uid \(st.st_uid)", errno: Errno(ELOOP),
                                      hint: "name the file it points to")
                }
                var buf = [CChar](repeating: 0, count: 4096)
                let n = readlinkat(dir, name, &buf, buf.count - 1)
                guard n > 0 else { throw SystemError("readlink file to scan \(current)", errno: .current) }
                let target = String(decoding: buf[0..<n].map { UInt8(bitPattern: $0) }, as: UTF8.self)
                current = target.hasPrefix("/") ? target : (dirPath == "/" ? "/" : dirPath + "/") + target
                continue
            }
            let contents = try TrustedFile.read(in: dir, directory: dirPath, name: name, what: "file to scan", limit: ELFFile.maxFileSize)
            if contents.isPrivate, getuid() != 0 {
                throw SystemError("file to scan \(current) is not readable by everyone", errno: Errno(EACCES), hint: "scan it as its owner")
            }
            return contents.bytes
        }
        throw SystemError("file to scan \(path): more than \(maxLinks) symbolic links", errno: Errno(ELOOP))
    }

    /// The loader's cache, or an empty map when it cannot be read.
    public static func loaderCache() -> [String: String] {
        guard let c = try? TrustedFile.read("/etc/ld.so.cache", what: "loader cache", limit: 64 << 20) else { return [:] }
        return (try? LdSoCache.parse(c.bytes)) ?? [:]
    }

    /// The path of library `name` for the file at `neededBy`.
    public static func resolver(cache: [String: String]) -> (String, String, [String]) -> String? {
        { name, neededBy, runPath in
            guard !name.isEmpty, !name.contains("\0") else { return nil }
            if name.contains("/") { return name.hasPrefix("/") && exists(name) ? name : nil }
            let origin = neededBy.split(separator: "/", omittingEmptySubsequences: false).dropLast().joined(separator: "/")
            for d in runPath {
                let dir = d.replacingOrigin(with: origin.isEmpty ? "/" : origin)
                guard dir.hasPrefix("/") else { continue }
                let p = dir + "/" + name
                if exists(p) { return p }
            }
            if let p = cache[name], exists(p) { return p }
            for d in defaultDirectories where exists(d + "/" + name) { return d + "/" + name }
            return nil
        }
    }

    static func exists(_ path: String) -> Bool {
        var st = stat()
        return stat(path, &st) == 0 && st.st_mode & S_IFMT == S_IFREG
    }
}

private extension String {
    func replacingOrigin(with origin: String) -> String {
        var s = self
        for token in ["${ORIGIN}", "$ORIGIN"] {
            while let r = s.firstRange(of: token) { s.replaceSubrange(r, with: origin) }
        }
        return s
    }
}
