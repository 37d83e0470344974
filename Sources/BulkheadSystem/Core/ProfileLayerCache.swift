import BulkheadModel
import CShims
import Glibc

/// Parsed profile layers, content-addressed, so that a launch with an unchanged profile never
/// parses YAML (about 1 ms and half a launch's user-space instructions: BENCHMARKS.md, issue 17).
///
/// The key is a SHA-256 of everything the parse depends on: the profile's bytes, where it was
/// read from (the layer's `source`, which errors name), this cache's format, and this binary
/// (its build-id, `binaryIdentity`: any rebuild is a new key; without one, the device, inode,
/// size, modification and change time of /proc/self/exe, where a reinstall is a new key too). The parse reads nothing else
/// (`ProfileParser` is pure). Only a parse that succeeded is stored; an error always comes from
/// the parser itself.
///
/// A cached layer decides a sandbox's settings, so an entry is trusted only as the seccomp
/// cache's are: the directory belongs to the caller and nobody else may enter it, the entry is
/// opened without following a symlink and must be a regular file of the caller's, written by
/// no one else, of a bounded size. Inside, it must carry the format's magic, its exact length,
/// a SHA-256 of its key and payload that matches, and a payload `ProfileLayerBinary` decodes in full
/// (every length and count checked). Anything else is a `Refusal`: the layer is parsed from
/// the YAML and the entry rewritten; a refused entry never reaches a launch.
public struct ProfileLayerCache: Sendable {
    public let directory: String

    public init(directory: String) { self.directory = directory }

    /// `BULKHEAD_PROFILE_CACHE` (`off`, or an absolute directory), else `CacheLocation`'s
    /// `profiles` directory (root: /var/cache/bulkhead/profiles); nil: none usable, every profile
    /// is parsed.
    /// `environment`: the variables to read (tests); nil, the process's. The directory is
    /// checked at every use (`CacheDirectory.open`), whichever variable named it.
    public static func standard(environment: [String: String]? = nil) -> ProfileLayerCache? {
        let v = environment.map { $0["BULKHEAD_PROFILE_CACHE"] } ?? getenv("BULKHEAD_PROFILE_CACHE").map { String(cString: $0) }
        if let s = v {
            if s == "off" { return nil }
            if s.hasPrefix("/") { return ProfileLayerCache(directory: s) }
        }
        return CacheLocation.directory("profiles", environment: environment ?? CacheLocation.currentEnvironment())
            .directory.map(ProfileLayerCache.init(directory:))
    }

    /// Why an entry was not used (tests and `lookup` read it; a launch just parses).
    public enum Refusal: Error, Sendable, Equatable {
        case missing, directoryNotPrivate, notRegularFile, notOwned, writableByOthers, tooLarge
        case truncated, badMagic, badLength, checksumMismatch, undecodable
    }

    static let magicText = "BHLAYER\(ProfileLayerBinary.version)"
    static let magic: [UInt8] = Array(magicText.utf8)
    static let headerSize = 8 + 4 + 32
    static let sizeLimit = 1 << 20

    /// This binary, as the key sees it: computed once per process.
    ///
    /// A build is named by its GNU build-id (the linker's hash of the linked file), read from the
    /// loaded program (`bh_executable_build_id`), so it is the same wherever the binary runs from:
    /// the OCI runtime re-executes from a detached overlayfs view of itself whose device is new at
    /// every `create` (`SealedSelf`), and a key of the file's device and inode missed the cache
    /// there, compiling the seccomp policy again at every `create` (issue 13, oci-place). A binary
    /// without a build-id is named by its file: device, inode, size, modification and change time.
    ///
    /// The launch executable (`bulkhead`) reads the entries its full command line (`bulkhead-cli`,
    /// next to it) wrote on a miss, so for these two the identity is the pair's: both builds, in
    /// one fixed order, whichever of the two computes it (the other one's build-id read from its
    /// file: `bh_file_build_id`). A rebuild of either is a new key; a launch executable without
    /// its full command line (`none`) shares no entry with anything else. Any other binary
    /// (bulkhead-runc, a test bundle) is itself alone.
    public static let binaryIdentity: String = {
        let own = runningIdentity()
        guard let exe = FileIO.readLink("/proc/self/exe"), let slash = exe.lastIndex(of: "/") else { return own }
        let dir = String(exe[..<slash]), name = String(exe[exe.index(after: slash)...])
        let pair = ["bulkhead", "bulkhead-cli"]
        guard pair.contains(name) else { return own }
        var text = ""
        for member in pair {
            text += member + " " + (member == name ? own : fileIdentity(dir + "/" + member)) + "\n"
        }
        return text
    }()

    /// The running program: its build-id, or its file's identity through /proc/self/exe.
    static func runningIdentity() -> String {
        var id = [UInt8](repeating: 0, count: 64)
        let n = bh_executable_build_id(&id, id.count)
        if n > 0 { return "build-id " + SHA256.hex(Array(id[..<n])) }
        var st = stat()
        guard stat("/proc/self/exe", &st) == 0 else { return "unknown \(getpid()) \(Monotonic.now())" }
        return identity(st)
    }

    /// Another program of the pair, from its file: its build-id, or its file's identity; "none"
    /// when it cannot be opened.
    static func fileIdentity(_ path: String) -> String {
        let fd = open(path, O_RDONLY | O_CLOEXEC | O_NOCTTY | O_NONBLOCK)
        guard fd >= 0 else { return "none" }
        defer { close(fd) }
        var st = stat()
        guard fstat(fd, &st) == 0 else { return "none" }
        // Only a regular file is read (a FIFO or device planted under the name reads nothing).
        guard st.st_mode & S_IFMT == S_IFREG else { return "none" }
        var id = [UInt8](repeating: 0, count: 64)
        let n = bh_file_build_id(fd, &id, id.count)
        return n > 0 ? "build-id " + SHA256.hex(Array(id[..<n])) : identity(st)
    }

    static func identity(_ st: stat) -> String {
        "\(st.st_dev) \(st.st_ino) \(st.st_size) \(st.st_mtim.tv_sec).\(st.st_mtim.tv_nsec) \(st.st_ctim.tv_sec).\(st.st_ctim.tv_nsec)"
    }

    public static func key(text: String, file: String, binary: String = binaryIdentity) -> [UInt8] {
        var h = SHA256()
        h.update("\(magicText)\nbulkhead \(BulkheadVersion.string)\nexe \(binary)\nfile \(file.utf8.count) \(file)\n")
        h.update(text)
        return h.finalize()
    }

    static func name(of key: [UInt8]) -> String {
        SHA256.hex(key)
    }

    /// The layer the parser gives for `text` read from `file`: from the cache when a good entry
    /// is there, else parsed (and stored). Errors are the parser's.
    /// `parser` is the profile reader (`ProfileParser.parse`, BulkheadConfig): this layer links
    /// no YAML reader, so a launch whose layers are all cached runs none.
    public func parse(_ text: String, file: String,
                      parser: (String, String) throws(ConfigError) -> ProfileLayer) throws(ConfigError) -> ProfileLayer {
        let key = Self.key(text: text, file: file)
        if case .success(let layer) = lookup(key: key) { return layer }
        let layer = try parser(text, file)
        store(key: key, layer)
        return layer
    }

    /// The entry for `key`, checked as the type's comment says.
    public func lookup(key: [UInt8]) -> Result<ProfileLayer, Refusal> {
        guard let dir = try? CacheDirectory.open(directory, what: "profile cache", create: false) else { return .failure(.directoryNotPrivate) }
        defer { close(dir) }
        let fd = openat(dir, Self.name(of: key), O_RDONLY | O_NOFOLLOW | O_NONBLOCK | O_CLOEXEC)
        guard fd >= 0 else { return .failure(errno == ELOOP ? .notRegularFile : .missing) }
        defer { close(fd) }
        var st = stat()
        guard fstat(fd, &st) == 0, (st.st_mode & S_IFMT) == S_IFREG else { return .failure(.notRegularFile) }
        guard st.st_uid == geteuid() else { return .failure(.notOwned) }
        guard st.st_mode & 0o022 == 0 else { return .failure(.writableByOthers) }
        guard st.st_size >= 0, st.st_size <= Self.sizeLimit else { return .failure(.tooLarge) }
        // One byte more than the file claims, to see a file that grew since fstat.
        var bytes = [UInt8](repeating: 0, count: Int(st.st_size) + 1)
        var n = 0
        while n < bytes.count {
            let r = bytes.withUnsafeMutableBytes { read(fd, $0.baseAddress! + n, $0.count - n) }
            if r < 0 && errno == EINTR { continue }
            guard r > 0 else { break }
            n += r
        }
        guard n == Int(st.st_size) else { return .failure(.truncated) }
        bytes.removeLast()
        return Self.decodeEntry(bytes, key: key)
    }

    /// An entry's bytes: magic, payload length (u32 LE), SHA-256 of key + payload, payload.
    static func encodeEntry(_ layer: ProfileLayer, key: [UInt8]) -> [UInt8]? {
        let payload = ProfileLayerBinary.encode(layer)
        guard payload.count <= sizeLimit - headerSize else { return nil }
        var out = magic
        var len = UInt32(payload.count).littleEndian
        withUnsafeBytes(of: &len) { out.append(contentsOf: $0) }
        var h = SHA256()
        h.update(key)
        h.update(payload)
        out += h.finalize()
        out += payload
        return out
    }

    static func decodeEntry(_ bytes: [UInt8], key: [UInt8]) -> Result<ProfileLayer, Refusal> {
        guard bytes.count >= headerSize else { return .failure(.truncated) }
        guard bytes[0..<8].elementsEqual(magic) else { return .failure(.badMagic) }
        var len = 0
        for i in 0..<4 { len |= Int(bytes[8 + i]) << (8 * i) }
        // Both sides are at most 2^32 and the file at most 1 MiB: no overflow.
        guard len == bytes.count - headerSize else { return .failure(.badLength) }
        let payload = Array(bytes[headerSize...])
        var h = SHA256()
        h.update(key)
        h.update(payload)
        guard h.finalize().elementsEqual(bytes[12..<44]) else { return .failure(.checksumMismatch) }
        guard let layer = try? ProfileLayerBinary.decode(payload) else { return .failure(.undecodable) }
        return .success(layer)
    }

    /// Stores an entry atomically (a new private file, renamed over the name). Failures are
    /// ignored: the cache only saves time.
    public func store(key: [UInt8], _ layer: ProfileLayer) {
        guard let data = Self.encodeEntry(layer, key: key),
              let dir = try? CacheDirectory.open(directory, what: "profile cache", create: true) else { return }
        defer { close(dir) }
        let name = Self.name(of: key)
        let tmp = ".\(name).\(getpid())"
        let fd = openat(dir, tmp, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0o600)
        guard fd >= 0 else { return }
        var written = 0
        while written < data.count {
            let r = data.withUnsafeBytes { write(fd, $0.baseAddress! + written, $0.count - written) }
            if r < 0 && errno == EINTR { continue }
            guard r > 0 else { break }
            written += r
        }
        close(fd)
        if written != data.count || renameat(dir, tmp, dir, name) != 0 { unlinkat(dir, tmp, 0) }
    }
}

/// A cache directory root may trust (the seccomp and profile caches): the directory itself,
/// not a symlink, belongs to the caller and only the caller may use it.
enum CacheDirectory {
    /// The cache directory, opened once and used by its fd (no check-then-use by path): walked
    /// from `/` by `TrustedFile.walk` (every directory on the way, and every symbolic link,
    /// belongs to root or the caller and is writable by nobody else unless sticky), then the
    /// directory itself (`create`: made 0700 when missing; its parent must exist) must be a real
    /// directory owned by the effective uid with no group or other bit. A root launch given a
    /// `$BULKHEAD_SECCOMP_CACHE`, `$BULKHEAD_PROFILE_CACHE` or `$XDG_CACHE_HOME` inside a user's
    /// directory (`sudo -E`) neither loads nor stores there. The caller closes the fd (`O_PATH`:
    /// use it with `openat`, `renameat`, `unlinkat`).
    static func open(_ directory: String, what: String, create: Bool) throws(SystemError) -> Int32 {
        guard directory.hasPrefix("/") else { throw SystemError("\(what) \(directory): not an absolute path", errno: Errno(EINVAL)) }
        let w = try TrustedFile.walk(directory, what: what, final: false)
        defer { close(w.fd) }
        if create && mkdirat(w.fd, w.name, 0o700) != 0 && errno != EEXIST { throw SystemError("mkdir \(directory)", errno: .current) }
        let fd = openat(w.fd, w.name, TrustedFile.O_PATH | O_NOFOLLOW | O_DIRECTORY | O_CLOEXEC)
        guard fd >= 0 else { throw SystemError("open the \(what) \(directory)", errno: .current) }
        var st = stat()
        guard fstat(fd, &st) == 0, (st.st_mode & S_IFMT) == S_IFDIR, st.st_uid == geteuid(), st.st_mode & 0o077 == 0 else {
            close(fd)
            throw SystemError("the \(what) \(directory) is not a directory of uid \(geteuid()) with mode 0700", errno: nil)
        }
        return fd
    }
}
