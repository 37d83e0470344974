import BulkheadModel
import CShims
import Glibc

/// One request to the warm pool (`bulkhead pool`), client -> pool and pool -> the waiting init:
/// the wire format of CShims/include/bh_pool.h, whose bounds are the only ones (argv, env and
/// candidate-path counts, string and message length, fd count). The fds travel beside it.
public struct PoolRequest: Sendable, Equatable {
    public var argv: [String]
    public var environment: [String]
    /// The candidate paths of argv[0] (the pool fills them; a client sends none).
    public var execPaths: [String]
    public var workingDirectory: String

    public static let maxBytes = Int(BH_POOL_MAX_BYTES)
    public static let maxArguments = Int(BH_POOL_MAX_ARGS)
    public static let maxEnvironment = Int(BH_POOL_MAX_ENV)
    public static let maxString = Int(BH_POOL_MAX_STRING)
    public static let minFDs = Int(BH_POOL_MIN_FDS)
    public static let maxFDs = Int(BH_POOL_MAX_FDS)

    public init(argv: [String], environment: [String], execPaths: [String] = [], workingDirectory: String) {
        self.argv = argv; self.environment = environment; self.execPaths = execPaths; self.workingDirectory = workingDirectory
    }

    /// The message, checked as the receiving side checks it (`bh_pool_check`).
    public func encode(fdCount: Int) throws(SystemError) -> [UInt8] {
        let strings = argv + environment + execPaths + [workingDirectory]
        guard argv.count <= Self.maxArguments, environment.count <= Self.maxEnvironment, execPaths.count <= Int(BH_POOL_MAX_EXEC),
              !argv.isEmpty, (Self.minFDs...Self.maxFDs).contains(fdCount) else {
            throw SystemError("pool request: \(argv.count) arguments (1-\(Self.maxArguments)), \(environment.count) variables (at most \(Self.maxEnvironment)), \(fdCount) fds (\(Self.minFDs)-\(Self.maxFDs))", errno: Errno(E2BIG))
        }
        var body: [UInt8] = []
        for s in strings {
            guard !s.utf8.contains(0) else { throw SystemError("pool request: a string holds a NUL byte", errno: Errno(EINVAL)) }
            guard s.utf8.count < Self.maxString else { throw SystemError("pool request: a string of \(s.utf8.count) bytes (at most \(Self.maxString - 1))", errno: Errno(E2BIG)) }
            body += s.utf8
            body.append(0)
        }
        let headerSize = MemoryLayout<bh_pool_header>.size
        guard body.count <= Self.maxBytes - headerSize else {
            throw SystemError("pool request: \(body.count + headerSize) bytes (at most \(Self.maxBytes))", errno: Errno(E2BIG))
        }
        var h = bh_pool_header(magic: BH_POOL_MAGIC, version: BH_POOL_VERSION, argc: UInt32(argv.count), envc: UInt32(environment.count),
                               execc: UInt32(execPaths.count), fdc: UInt32(fdCount), length: UInt32(body.count), flags: 0)
        return withUnsafeBytes(of: &h) { Array($0) } + body
    }

    /// Reads a message that `bh_pool_check` accepts with `fdCount` fds; EBADMSG or EMSGSIZE else.
    public static func decode(_ bytes: [UInt8], fdCount: Int) throws(SystemError) -> PoolRequest {
        let rc = bytes.withUnsafeBufferPointer { bh_pool_check($0.baseAddress!, $0.count, UInt32(clamping: fdCount)) }
        guard rc == 0 else { throw SystemError("pool request: refused (\(bytes.count) bytes, \(fdCount) fds)", errno: Errno(rc)) }
        var h = bh_pool_header()
        withUnsafeMutableBytes(of: &h) { $0.copyBytes(from: bytes[0..<MemoryLayout<bh_pool_header>.size]) }
        var strings: [String] = []
        var start = MemoryLayout<bh_pool_header>.size
        for i in start..<bytes.count where bytes[i] == 0 {
            strings.append(String(decoding: bytes[start..<i], as: UTF8.self))
            start = i + 1
        }
        let a = Int(h.argc), e = Int(h.envc), x = Int(h.execc)
        return PoolRequest(argv: Array(strings[0..<a]), environment: Array(strings[a..<(a + e)]),
                           execPaths: Array(strings[(a + e)..<(a + e + x)]), workingDirectory: strings[a + e + x])
    }
}

/// The unix socket of the warm pool: made by the pool in a directory it checks, reached by a
/// client that checks it, and every peer checked with SO_PEERCRED.
public enum PoolSocket {
    /// The peer's credentials (SO_PEERCRED): what the kernel recorded at connect(2) or listen(2).
    public struct Peer: Sendable, Equatable { public var pid: Int32; public var uid: UInt32; public var gid: UInt32 }

    public static func peer(_ fd: Int32) -> Peer? {
        var p = Peer(pid: 0, uid: 0, gid: 0)
        guard bh_pool_peer(fd, &p.pid, &p.uid, &p.gid) == 0 else { return nil }
        return p
    }

    /// A path name for a file in the directory `dir` (an fd) that bind/connect resolve through
    /// that very directory: /proc/self/fd/DIR/NAME (at most 107 bytes).
    static func address(dir: Int32, name: String) throws(SystemError) -> sockaddr_un {
        let path = "/proc/self/fd/\(dir)/\(name)"
        var a = sockaddr_un()
        a.sun_family = sa_family_t(AF_UNIX)
        let capacity = MemoryLayout.size(ofValue: a.sun_path)
        guard path.utf8.count < capacity else { throw SystemError("pool socket name \(name): too long", errno: Errno(ENAMETOOLONG)) }
        withUnsafeMutableBytes(of: &a.sun_path) { buf in
            for (i, b) in path.utf8.enumerated() { buf[i] = b }
            buf[path.utf8.count] = 0
        }
        return a
    }

    /// The pool's listening socket at `path` (SOCK_SEQPACKET, close-on-exec). The directory is
    /// walked and checked as every path root uses (`TrustedFile`: owned by root or the caller,
    /// not writable by group or others, no link but root's or the caller's); the name must not
    /// exist (bind(2) never follows or replaces anything); the socket gets `mode` (0600, or
    /// 0660 with `group`). Returns the fd and the socket's device and inode, which `remove`
    /// checks before it unlinks.
    public static func listen(path: String, mode: mode_t, group: UInt32?) throws(SystemError) -> (fd: Int32, device: UInt64, inode: UInt64) {
        let walked = try TrustedFile.walk(path, what: "pool socket", final: false)
        defer { close(walked.fd) }
        var st = stat()
        guard fstat(walked.fd, &st) == 0 else { throw SystemError("fstat \(walked.path)", errno: .current) }
        try TrustedFile.checkOwnerAndMode(st, path: walked.path, what: "the pool socket's directory", sticky: false)
        let fd = socket(AF_UNIX, Int32(SOCK_SEQPACKET.rawValue) | Int32(SOCK_CLOEXEC.rawValue), 0)
        guard fd >= 0 else { throw SystemError("socket(AF_UNIX)", errno: .current) }
        var addr = try address(dir: walked.fd, name: walked.name)
        // Created with no bits for group or others; the mode is set on the path before listen.
        let old = umask(0o177)
        let rc = withUnsafePointer(to: &addr) { $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { bind(fd, $0, socklen_t(MemoryLayout<sockaddr_un>.size)) } }
        let bindErrno = Errno.current
        umask(old)
        guard rc == 0 else {
            close(fd)
            throw SystemError("bind the pool socket \(path)", errno: bindErrno,
                              hint: bindErrno.rawValue == EADDRINUSE ? "the name exists: is a pool running there (`bulkhead pool status --socket \(path)`)? Remove a stale socket yourself" : nil)
        }
        var sock = stat()
        guard fstatat(walked.fd, walked.name, &sock, AT_SYMLINK_NOFOLLOW) == 0, sock.st_mode & S_IFMT == S_IFSOCK else {
            let e = Errno.current
            close(fd)
            throw SystemError("stat the pool socket \(path)", errno: e)
        }
        if let group, fchownat(walked.fd, walked.name, getuid(), group, AT_SYMLINK_NOFOLLOW) != 0 {
            let e = Errno.current
            unlinkat(walked.fd, walked.name, 0); close(fd)
            throw SystemError("chown the pool socket to gid \(group)", errno: e)
        }
        // fchmodat never follows a symlink in the last component here: the name is our socket,
        // checked above, in a directory only root or the caller can write.
        if fchmodat(walked.fd, walked.name, mode, 0) != 0 {
            let e = Errno.current
            unlinkat(walked.fd, walked.name, 0); close(fd)
            throw SystemError("chmod the pool socket", errno: e)
        }
        guard Glibc.listen(fd, 64) == 0 else {
            let e = Errno.current
            unlinkat(walked.fd, walked.name, 0); close(fd)
            throw SystemError("listen on the pool socket", errno: e)
        }
        return (fd, UInt64(sock.st_dev), UInt64(sock.st_ino))
    }

    /// Unlinks the pool's socket, only if the name still is that socket (same device and
    /// inode): a name someone swapped in meanwhile is left alone. True when removed.
    @discardableResult
    public static func remove(path: String, device: UInt64, inode: UInt64) -> Bool {
        guard let walked = try? TrustedFile.walk(path, what: "pool socket", final: false) else { return false }
        defer { close(walked.fd) }
        var st = stat()
        guard fstatat(walked.fd, walked.name, &st, AT_SYMLINK_NOFOLLOW) == 0, st.st_mode & S_IFMT == S_IFSOCK,
              UInt64(st.st_dev) == device, UInt64(st.st_ino) == inode else { return false }
        return unlinkat(walked.fd, walked.name, 0) == 0
    }

    /// A client's connection: the directory walked as `listen` walks it; the name must be a
    /// socket (never a link) owned by root or the caller; after connect(2), the peer (the pool)
    /// must run as the socket's owner, which is root or the caller. A socket swapped in by
    /// anyone else is refused before a byte is sent.
    public static func connect(path: String) throws(SystemError) -> Int32 {
        let walked = try TrustedFile.walk(path, what: "pool socket", final: false)
        defer { close(walked.fd) }
        var st = stat()
        guard fstatat(walked.fd, walked.name, &st, AT_SYMLINK_NOFOLLOW) == 0 else {
            throw SystemError("pool socket \(path)", errno: .current, hint: "start one with `bulkhead pool start --socket \(path)`")
        }
        guard st.st_mode & S_IFMT == S_IFSOCK else {
            throw SystemError("pool socket \(path) is \(TrustedFile.typeName(st.st_mode)), not a socket", errno: Errno(ENOTSOCK))
        }
        guard TrustedFile.trustedOwners.contains(st.st_uid) else {
            throw SystemError("pool socket \(path) belongs to uid \(st.st_uid), not \(TrustedFile.ownersText)", errno: Errno(EPERM),
                              hint: "only a pool run by root or by you is used")
        }
        let fd = socket(AF_UNIX, Int32(SOCK_SEQPACKET.rawValue) | Int32(SOCK_CLOEXEC.rawValue), 0)
        guard fd >= 0 else { throw SystemError("socket(AF_UNIX)", errno: .current) }
        var addr = try address(dir: walked.fd, name: walked.name)
        let rc = withUnsafePointer(to: &addr) { $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { Glibc.connect(fd, $0, socklen_t(MemoryLayout<sockaddr_un>.size)) } }
        guard rc == 0 else { let e = Errno.current; close(fd); throw SystemError("connect to the pool socket \(path)", errno: e) }
        guard let p = peer(fd), p.uid == st.st_uid, TrustedFile.trustedOwners.contains(p.uid) else {
            let uid = peer(fd).map { String($0.uid) } ?? "?"
            close(fd)
            throw SystemError("pool socket \(path): the process listening on it runs as uid \(uid), not as the socket's owner \(st.st_uid)", errno: Errno(EPERM),
                              hint: "the socket was replaced; only a pool run by root or by you is used")
        }
        return fd
    }

    /// The fds a client passes become the workload's 0 .. n-1, and the workload's
    /// /proc/self/fd/N is a magic link that leads wherever the fd points, with the workload's
    /// credentials (CVE-2024-21626's shape). Refused: a directory (a way out of the root), an
    /// O_PATH fd (opened without read or write permission: reopened by the workload it would
    /// grant what the client never had), and the kernel's handles to processes and namespaces
    /// (pidfd, nsfs, anon inodes: signals or setns reaching past the sandbox). Kept: regular
    /// files, pipes, sockets and character devices (a terminal) opened for reading or writing.
    public static func checkPassed(fds: [Int32]) throws(SystemError) {
        for (i, fd) in fds.enumerated() {
            let kind = bh_pool_fd_kind(fd)
            let why: String
            switch kind {
            case BH_POOL_FD_OK: continue
            case BH_POOL_FD_DIRECTORY: why = "a directory"
            case BH_POOL_FD_OPATH: why = "an O_PATH fd"
            case BH_POOL_FD_HANDLE: why = "a kernel handle (pidfd, namespace, anon inode)"
            case BH_POOL_FD_OTHER: why = "neither a file, a pipe, a socket nor a terminal"
            case BH_POOL_FD_USERSPACE_FS:
                throw SystemError("the request's fd \(i) is a file of a FUSE filesystem, whose server answers each close: the pool takes none (a server that never answers would stall it)",
                                  errno: Errno(EBADF), hint: "pass its content through a pipe (`cat FILE | bulkhead run --pool ...`)")
            case BH_POOL_FD_UNSEEN_MOUNT:
                throw SystemError("the request's fd \(i) is a file of a mount the pool cannot see (another mount namespace's, or a detached one): whether its filesystem is FUSE's, whose server answers each stat and close, cannot be learned without asking it",
                                  errno: Errno(EBADF), hint: "pass its content through a pipe (`cat FILE | bulkhead run --pool ...`)")
            default: throw SystemError("fstat the request's fd \(i)", errno: Errno(-kind))
            }
            throw SystemError("the request's fd \(i) is \(why): only files, pipes, sockets and terminals go into a pooled sandbox", errno: Errno(EBADF),
                              hint: "pass the file opened for reading or writing, not a directory or a handle")
        }
    }

    /// accept(2) of a connection, close-on-exec; nil on failure.
    public static func accept(_ fd: Int32) -> Int32? {
        let c = bh_pool_accept(fd)
        return c >= 0 ? c : nil
    }

    /// A close-on-exec pipe (read end, write end).
    public static func pipe() throws(SystemError) -> [Int32] {
        var p: [Int32] = [-1, -1]
        let rc = p.withUnsafeMutableBufferPointer { bh_pool_pipe($0.baseAddress!) }
        guard rc == 0 else { throw SystemError("pipe2", errno: Errno(rc)) }
        return p
    }

    /// A one-shot timer on CLOCK_MONOTONIC that poll(2) can wait for (timerfd, close-on-exec,
    /// non-blocking): the warm pool's deferred refill.
    public static func timer() throws(SystemError) -> Int32 {
        let t = bh_pool_timer_create()
        guard t >= 0 else { throw SystemError("timerfd_create (the pool's refill timer)", errno: .current) }
        return t
    }

    /// Arms `timer` to expire once, `seconds` from now (at least a nanosecond). False on failure.
    public static func arm(_ timer: Int32, seconds: Double) -> Bool {
        bh_pool_timer_arm(timer, UInt64(max(1, (seconds * 1e9).rounded()))) == 0
    }

    /// Reads `timer`'s expirations (it stops being readable).
    public static func drain(_ timer: Int32) { bh_pool_timer_drain(timer) }

    /// Sends one message with fds. Throws the errno.
    public static func send(_ fd: Int32, _ bytes: [UInt8], fds: [Int32] = []) throws(SystemError) {
        let rc = bytes.withUnsafeBufferPointer { b in fds.withUnsafeBufferPointer { f in
            bh_pool_send(fd, b.baseAddress!, b.count, f.baseAddress, UInt32(f.count))
        } }
        guard rc == 0 else { throw SystemError("send to the pool socket", errno: Errno(rc)) }
    }

    /// Receives one message (at most `BH_POOL_MAX_BYTES`) and the fds that came with it
    /// (close-on-exec; the caller owns them). EMSGSIZE for more (every fd closed), EPIPE at the end.
    public static func receive(_ fd: Int32, nonblocking: Bool = false) throws(SystemError) -> (bytes: [UInt8], fds: [Int32]) {
        switch receiveKeeping(fd, nonblocking: nonblocking) {
        case .success(let message): return message
        case .failure(let refused):
            for fd in refused.fds { close(fd) }
            throw refused.error
        }
    }

    /// A message `receiveKeeping` refused, and the fds that came with it (the caller's to close).
    public struct RefusedMessage: Error {
        public let error: SystemError
        public let fds: [Int32]
    }

    /// `receive`, closing nothing: a refused message's fds come back with the error, for a
    /// caller that must not wait on their close (a FUSE file's FLUSH waits for its server, a
    /// socket's SO_LINGER for its peer) and closes them after its answer, or elsewhere.
    public static func receiveKeeping(_ fd: Int32, nonblocking: Bool = false) -> Result<(bytes: [UInt8], fds: [Int32]), RefusedMessage> {
        // Neither buffer is zeroed first (128 KiB, three messages a run: a third of a pooled
        // client's instructions): each keeps only what the kernel wrote.
        var fds = [Int32](repeating: -1, count: Int(BH_FD_PASSING_ALL))
        var count: UInt32 = 0
        var rc: Int32 = 0
        let bytes = [UInt8](unsafeUninitializedCapacity: PoolRequest.maxBytes + 1) { b, initialized in
            var length = 0
            rc = fds.withUnsafeMutableBufferPointer { f in
                bh_pool_receive_keeping(fd, b.baseAddress!, b.count, &length, f.baseAddress!, &count, nonblocking ? 1 : 0)
            }
            initialized = rc == 0 ? length : 0
        }
        let came = Array(fds[0..<Int(min(count, UInt32(BH_FD_PASSING_ALL)))])
        guard rc == 0 else { return .failure(RefusedMessage(error: SystemError("receive from the pool socket", errno: Errno(rc)), fds: came)) }
        return .success((bytes, came))
    }
}
