import Glibc

/// Small file helpers for /proc and /sys files: one open, one read or write, one close.
/// A file root reads on a user's behalf (a profile, a policy, a manifest, a secret) goes
/// through `TrustedFile` instead.
public enum FileIO {
    /// Writes `text` with a single write(2), as the kernel's control files require
    /// (uid_map, setgroups, cgroup files).
    public static func write(_ text: String, to path: String) throws(SystemError) {
        let fd = open(path, O_WRONLY | O_CLOEXEC)
        guard fd >= 0 else { throw SystemError("open \(path) for writing", errno: .current) }
        defer { close(fd) }
        var bytes = Array(text.utf8)
        let n = bytes.withUnsafeMutableBytes { Glibc.write(fd, $0.baseAddress, $0.count) }
        guard n == bytes.count else { throw SystemError("write \(path)", errno: n < 0 ? .current : Errno(EIO)) }
    }

    /// Reads a whole (small) file; nil when it cannot be opened.
    public static func read(_ path: String, limit: Int = 1 << 22) -> String? {
        let fd = open(path, O_RDONLY | O_CLOEXEC)
        guard fd >= 0 else { return nil }
        defer { close(fd) }
        var out: [UInt8] = []
        var buf = [UInt8](repeating: 0, count: 65536)
        while out.count < limit {
            let n = buf.withUnsafeMutableBytes { Glibc.read(fd, $0.baseAddress, $0.count) }
            if n < 0 { if errno == EINTR { continue }; return nil }
            if n == 0 { break }
            out.append(contentsOf: buf[0..<n])
        }
        return String(decoding: out, as: UTF8.self)
    }

    public static func exists(_ path: String) -> Bool { access(path, F_OK) == 0 }
}

extension FileIO {
    /// readlink(2); nil when it fails.
    public static func readLink(_ path: String) -> String? {
        var buf = [CChar](repeating: 0, count: Int(PATH_MAX) + 1)
        let n = readlink(path, &buf, buf.count - 1)
        guard n > 0 else { return nil }
        return String(decoding: buf[0..<n].map { UInt8(bitPattern: $0) }, as: UTF8.self)
    }

    /// The names in a directory (no "." or ".."); empty when it cannot be read.
    public static func listDirectory(_ path: String) -> [String] {
        guard let d = opendir(path) else { return [] }
        return names(d)
    }

    /// The names of an open directory stream (no "." or ".."), sorted; closes the stream.
    static func names(_ d: OpaquePointer) -> [String] {
        defer { closedir(d) }
        var out: [String] = []
        while let e = readdir(d) {
            let name = withUnsafeBytes(of: e.pointee.d_name) { raw in
                String(cString: raw.baseAddress!.assumingMemoryBound(to: CChar.self))
            }
            if name != "." && name != ".." { out.append(name) }
        }
        return out.sorted()
    }
}
