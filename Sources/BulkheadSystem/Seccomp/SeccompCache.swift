import BulkheadModel
import CShims
import Glibc

/// Compiled seccomp programs, content-addressed: a repeated launch with the same policy text,
/// capabilities, architecture, bulkhead and libseccomp versions loads the BPF instead of
/// parsing and compiling again.
///
/// A cached program is loaded into sandboxes, so whoever can write the cache could weaken their
/// filter. The directory must belong to the caller and be writable by nobody else, entries are
/// opened without following symlinks and must be regular files owned by the caller; anything
/// else is ignored (and recompiled).
public struct SeccompCache: Sendable {
    public let directory: String
    /// Why no cache directory could be used (`CacheLocation`): `load` and `store` then do
    /// nothing, every launch compiles, and the report and a warning say so.
    public let unavailable: String?

    /// A cached program and what the report says of it.
    public struct Entry: Sendable, Equatable {
        public var program: [UInt8]
        public var defaultAction: String
        public var rules: Int
        /// What the loader changed to read the policy as runc does (`SeccompSetup`: the warning
        /// lines, without the policy file's path), so a run that loads the program warns as the
        /// run that compiled it did. Empty for a policy that loaded unchanged.
        public var notes: [String]
        public init(program: [UInt8], defaultAction: String, rules: Int, notes: [String] = []) {
            self.program = program; self.defaultAction = defaultAction; self.rules = rules; self.notes = notes
        }
    }

    public init(directory: String) { self.directory = directory; unavailable = nil }

    /// A cache that has no directory, for `reason`: nothing is loaded or stored.
    public init(unavailable reason: String) { directory = ""; unavailable = reason }

    /// `BULKHEAD_SECCOMP_CACHE`'s absolute path, nil when it is `off`; else where
    /// `CacheLocation.directory("seccomp")` puts it (root: /var/cache/bulkhead/seccomp; anyone
    /// else: `$XDG_CACHE_HOME`, `$XDG_RUNTIME_DIR`, then a checked per-uid directory), or a cache
    /// that says why none of them can be used.
    /// `environment`: the variables to read (tests); nil, the process's.
    public static func standard(environment: [String: String]? = nil) -> SeccompCache? {
        let v = environment.map { $0["BULKHEAD_SECCOMP_CACHE"] } ?? getenv("BULKHEAD_SECCOMP_CACHE").map { String(cString: $0) }
        if let s = v {
            if s == "off" { return nil }
            // Checked at every use like any other (`openDirectory`): under `sudo -E` this is the
            // caller's setting, and root never uses a directory someone else controls.
            if s.hasPrefix("/") { return checked(s) }
        }
        let r = CacheLocation.directory("seccomp", environment: environment ?? CacheLocation.currentEnvironment())
        guard let dir = r.directory else { return SeccompCache(unavailable: r.problem ?? "no usable cache directory") }
        return checked(dir)
    }

    /// A cache in `dir` when `openCheckedDirectory` takes it now, else one that says why not (the
    /// report's `cacheUnavailable` and the launch's warning).
    static func checked(_ dir: String) -> SeccompCache {
        let c = SeccompCache(directory: dir)
        do { close(try c.openCheckedDirectory(create: true)) } catch {
            return SeccompCache(unavailable: "\(error)")
        }
        return c
    }

    /// The key: everything that decides the compiled program and its warnings. `binary` is this
    /// build (`ProfileLayerCache.binaryIdentity`: its GNU build-id, and for the launch pair both
    /// builds; a file's dev, inode, size and times where there is no build-id): the version string does not change with the build's system-call tables
    /// (which names are unknown and skipped), its reading of a policy or its compiler, so an
    /// entry another build wrote is never loaded (`RedTeamSeccompCacheTests`).
    /// `embedded`: `policyText` is, byte for byte, this one of bulkhead's own policies
    /// (`EmbeddedProfiles.match`), named by its file and the digest scripts/embed-profiles.sh
    /// computed instead of hashing the text at every launch. The two kinds of name differ in their
    /// first bytes, so no text's key is an embedded policy's, even were a stored digest stale.
    public static func key(policyText: String, embedded: EmbeddedProfiles.Match? = nil, capabilities: [String],
                           architecture: String, binary: String = ProfileLayerCache.binaryIdentity) -> String {
        var h = SHA256()
        h.update("bulkhead \(BulkheadVersion.string)\nexe \(binary)\nlibseccomp \(libseccompVersion)\narch \(architecture)\n")
        h.update("caps \(capabilities.sorted().joined(separator: ","))\n")
        if let e = embedded {
            h.update("policy embedded \(e.path)\(e.shipped ? " shipped" : "") sha256 \(e.sha256)\n")
        } else {
            h.update("policy text\n")
            h.update(policyText)
        }
        return SHA256.hex(h.finalize())
    }

    static var libseccompVersion: String {
        var major: UInt32 = 0, minor: UInt32 = 0, micro: UInt32 = 0
        bh_seccomp_library_version(&major, &minor, &micro)
        return "\(major).\(minor).\(micro)"
    }

    static let magic = "BHSECCOMP1"
    /// An entry with notes: `BHSECCOMP2 ACTION RULES NOTEBYTES`, the notes (UTF-8, one per line),
    /// then the program.
    static let magicWithNotes = "BHSECCOMP2"

    public func load(key: String) -> Entry? {
        guard let dir = openDirectory(create: false) else { return nil }
        defer { close(dir) }
        // O_NONBLOCK: a FIFO planted as an entry would otherwise hold the launch in open(2)
        // (the type is checked after the open, on the fd).
        let fd = openat(dir, key, O_RDONLY | O_NOFOLLOW | O_NONBLOCK | O_CLOEXEC)
        guard fd >= 0 else { return nil }
        defer { close(fd) }
        var st = stat()
        guard fstat(fd, &st) == 0, (st.st_mode & S_IFMT) == S_IFREG, st.st_uid == geteuid(),
              st.st_mode & 0o022 == 0, st.st_size < 1 << 20 else { return nil }
        var bytes = [UInt8](repeating: 0, count: Int(st.st_size))
        let n = bytes.withUnsafeMutableBytes { read(fd, $0.baseAddress, $0.count) }
        guard n == bytes.count, let nl = bytes.firstIndex(of: 10) else { return nil }
        let header = String(decoding: bytes[..<nl], as: UTF8.self).split(separator: " ")
        var start = nl + 1
        var notes: [String] = []
        if header.count == 4, header[0] == Self.magicWithNotes {
            // The notes' length is checked against what is there before any slice is taken.
            guard let n = Int(header[3]), n > 0, n <= bytes.count - start else { return nil }
            let text = bytes[start..<(start + n)]
            guard let decoded = String(validating: text, as: UTF8.self) else { return nil }
            notes = decoded.split(separator: "\n", omittingEmptySubsequences: false).map(String.init)
            start += n
        } else {
            guard header.count == 3, header[0] == Self.magic else { return nil }
        }
        guard let rules = Int(header[2]) else { return nil }
        let program = Array(bytes[start...])
        guard !program.isEmpty, program.count % 8 == 0 else { return nil }
        return Entry(program: program, defaultAction: String(header[1]), rules: rules, notes: notes)
    }

    /// Stores an entry atomically (write a temporary file, rename). Failures are ignored: the
    /// cache only saves time.
    public func store(key: String, _ e: Entry) {
        guard let dir = openDirectory(create: true) else { return }
        defer { close(dir) }
        let tmp = ".\(key).\(getpid())"
        let fd = openat(dir, tmp, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0o600)
        guard fd >= 0 else { return }
        let notes = Array(e.notes.joined(separator: "\n").utf8)
        var data = e.notes.isEmpty ? Array("\(Self.magic) \(e.defaultAction) \(e.rules)\n".utf8) + e.program
            : Array("\(Self.magicWithNotes) \(e.defaultAction) \(e.rules) \(notes.count)\n".utf8) + notes + e.program
        let n = data.withUnsafeMutableBytes { write(fd, $0.baseAddress, $0.count) }
        close(fd)
        if n != data.count || renameat(dir, tmp, dir, key) != 0 { unlinkat(dir, tmp, 0) }
    }

    /// The cache directory, opened once and used by its fd (no check-then-use by path): walked
    /// from `/` by `TrustedFile.walk` (every directory on the way, and every symbolic link,
    /// belongs to root or the caller and is writable by nobody else unless sticky), then the
    /// directory itself (`create`: made 0700 when missing, its parent must exist) must be a real
    /// directory owned by the effective uid with no group or other bit. Nil when anything fails:
    /// a root launch given a `$BULKHEAD_SECCOMP_CACHE` or `$XDG_CACHE_HOME` inside a user's
    /// directory (`sudo -E`) neither loads nor stores there.
    func openDirectory(create: Bool) -> Int32? {
        guard unavailable == nil else { return nil }
        return try? openCheckedDirectory(create: create)
    }

    /// `openDirectory`, saying why not.
    func openCheckedDirectory(create: Bool) throws(SystemError) -> Int32 {
        try CacheDirectory.open(directory, what: "seccomp cache", create: create)
    }
}
