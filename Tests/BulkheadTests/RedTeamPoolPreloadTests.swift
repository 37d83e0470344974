import BulkheadModel
import BulkheadSystem
import CShims
import CShimsTesting
import Foundation
import Glibc
import Testing

/// Red team of session 17 (rt17): the pooled init's early seccomp load (SeccompAllowProof,
/// SeccompBeforePoolRequest) and the acceptor's quick path (WarmPool `acceptLoop`/`handle`).
@Suite(.enabled(if: Gate.root, Gate.rootReason), .serialized)
struct RedTeamPoolPreloadTests {
    /// The quick path serves a connection on the acceptor itself, with no other thread polling
    /// the socket meanwhile. A request that is refused there is answered and then its fds are
    /// closed on that thread: a close that does not return (a FUSE file's FLUSH, which the kernel
    /// waits for without a timeout, held by the client's own server) then leaves the pool with
    /// no acceptor, and every later client (a `pool status`, a `pool stop`) waits forever.
    @Test("A refused request whose fd's close never returns (FUSE FLUSH held) does not leave the pool without an acceptor")
    func aRefusalOnTheQuickPathDoesNotHoldTheAcceptor() throws {
        try Self.refusedWithHeldFile("fuse-quick") { pool, file in
            try WarmPoolTests.sendRequest(pool, fds: [file, 1, 2])
        }
    }

    /// The same for a request the pool cannot even read: over BH_POOL_MAX_BYTES, its fds are
    /// closed by the receive itself (bh_pool_receive), on the acceptor.
    @Test("An oversized request with a FUSE file whose close never returns does not leave the pool without an acceptor")
    func anOversizedRequestOnTheQuickPathDoesNotHoldTheAcceptor() throws {
        try Self.refusedWithHeldFile("fuse-oversized") { pool, file in
            let c = try PoolSocket.connect(path: pool.socket)
            do { try PoolSocket.send(c, [UInt8](repeating: 0x41, count: PoolRequest.maxBytes + 1), fds: [file, 1, 2]) } catch {
                close(c)
                throw error
            }
            return c
        }
    }

    /// The same for a request with one fd over BH_POOL_MAX_FDS (the file first): the receive
    /// refuses it and its fds are closed after the answer, off the acceptor.
    @Test("A request with one fd over the bound, a FUSE file whose close never returns among them, does not leave the pool without an acceptor")
    func tooManyFDsOnTheQuickPathDoNotHoldTheAcceptor() throws {
        try Self.refusedWithHeldFile("fuse-fds") { pool, file in
            let c = try PoolSocket.connect(path: pool.socket)
            let request = try PoolRequest(argv: ["/bin/true"], environment: [], workingDirectory: "").encode(fdCount: 3)
            let rc = Self.send(c, request, fds: [file] + [Int32](repeating: 1, count: PoolRequest.maxFDs))
            if rc != 0 { close(c); throw SystemError("send \(PoolRequest.maxFDs + 1) fds", errno: Errno(rc)) }
            return c
        }
    }

    /// One message with any number of fds (one SCM_RIGHTS): 0 or the errno.
    static func send(_ socket: Int32, _ bytes: [UInt8], fds: [Int32]) -> Int32 {
        // struct cmsghdr on 64-bit Linux: cmsg_len (size_t), cmsg_level, cmsg_type (int), then the data.
        let data = fds.count * 4
        var control = [UInt8](repeating: 0, count: 16 + ((data + 7) & ~7))
        control.withUnsafeMutableBytes { c in
            c.storeBytes(of: UInt64(16 + data), toByteOffset: 0, as: UInt64.self)
            c.storeBytes(of: Int32(SOL_SOCKET), toByteOffset: 8, as: Int32.self)
            c.storeBytes(of: Int32(1), toByteOffset: 12, as: Int32.self) // SCM_RIGHTS
            for (i, fd) in fds.enumerated() { c.storeBytes(of: fd, toByteOffset: 16 + 4 * i, as: Int32.self) }
        }
        var payload = bytes
        return payload.withUnsafeMutableBytes { p in
            control.withUnsafeMutableBytes { c in
                var iov = iovec(iov_base: p.baseAddress, iov_len: p.count)
                return withUnsafeMutablePointer(to: &iov) { v in
                    var msg = msghdr(msg_name: nil, msg_namelen: 0, msg_iov: v, msg_iovlen: 1, msg_control: c.baseAddress, msg_controllen: c.count, msg_flags: 0)
                    return sendmsg(socket, &msg, Int32(MSG_NOSIGNAL)) < 0 ? errno : 0
                }
            }
        }
    }

    /// A pool of one and a FUSE file whose server holds the pool's FLUSH: `send` sends a request
    /// the pool refuses, with the file, while the pool is stopped (SIGSTOP), so that the request
    /// is there when the pool accepts it (the quick path, every time). Once the pool's close
    /// reached the server, another client's `status` must be answered.
    static func refusedWithHeldFile(_ name: String, send: (WarmPoolTests.Pool, Int32) throws -> Int32) throws {
        let pool = try WarmPoolTests.Pool(size: 1)
        let mountpoint = pool.dir + "/" + name
        try FileManager.default.createDirectory(atPath: mountpoint, withIntermediateDirectories: false, attributes: [.posixPermissions: 0o755])
        var fuse = bh_testing_fuse()
        let rc = bh_testing_fuse_start(mountpoint, pool.pid, &fuse)
        try #require(rc == 0, "mount a FUSE filesystem: errno \(rc)")
        let file = open(mountpoint + "/f", O_RDONLY | O_CLOEXEC)
        var conns: [Int32] = []
        var stopped = false
        defer {
            if stopped { kill(pool.pid, SIGCONT) }
            bh_testing_fuse_release(&fuse)
            for c in conns { close(c) }
            if file >= 0 { close(file) }
            pool.stop()
            bh_testing_fuse_stop(mountpoint, &fuse)
        }
        try #require(file >= 0, "open the FUSE file: errno \(errno)")
        stopped = kill(pool.pid, SIGSTOP) == 0
        try #require(stopped)
        let refused = try send(pool, file)
        conns.append(refused)
        #expect(kill(pool.pid, SIGCONT) == 0)
        stopped = false
        var p = pollfd(fd: refused, events: Int16(POLLIN), revents: 0)
        #expect(poll(&p, 1, 20_000) == 1, "the refused request got no answer")
        // The pool's close of the file reached the server, which holds it.
        for _ in 0..<500 where (fuse.held?.pointee ?? 0) == 0 { usleep(10_000) }
        try #require((fuse.held?.pointee ?? 0) >= 1, "the pool's close of the file never reached the server")
        // Another client: `status` is answered while that close waits.
        let other = try PoolSocket.connect(path: pool.socket)
        conns.append(other)
        try PoolSocket.send(other, Array("status".utf8))
        var q = pollfd(fd: other, events: Int16(POLLIN), revents: 0)
        #expect(poll(&q, 1, 10_000) == 1,
                "no answer to `pool status` within 10 s while a refused client's close waits: the acceptor closed the client's fds itself, and no other thread accepts")
    }

    /// Programs the proof walks with the wrong semantics, run on the real kernel
    /// (bh_seccomp_probe_in_child: a child loads the filter and makes the call):
    /// - a division by X whose X is an unknown argument: the kernel's filter returns 0
    ///   (SECCOMP_RET_KILL_THREAD) when X is 0 (bpf_convert_filter's check), as bh_bpf_run does;
    ///   the proof took the unknown quotient and went on to RET ALLOW;
    /// - a shift by X = 32: the kernel shifts by X & 31 (1 << 32 is 1, the interpreter's and the
    ///   JIT's 32-bit shift), the proof took 0 and followed the branch for 0 to RET ALLOW.
    /// The proof must not say ALLOW for a call the kernel refuses.
    @Test("The proof says ALLOW for no call the kernel's filter refuses: a division by an unknown X, a shift by X >= 32")
    func theProofAgreesWithTheKernelOnDivisionAndShift() throws {
        let allow: UInt32 = 0x7fff_0000, eperm: UInt32 = 0x0005_0001
        func program(_ rows: [(UInt16, UInt8, UInt8, UInt32)]) -> [UInt8] {
            rows.flatMap { r in [UInt8(r.0 & 0xff), UInt8(r.0 >> 8), r.1, r.2] + withUnsafeBytes(of: r.3.littleEndian) { Array($0) } }
        }
        let arch = try #require(SeccompCompiler.nativeArchitecture)
        let audit = try #require(SeccompCompiler.token(of: arch))
        let getppid = try #require(SyscallTable.number(of: "getppid", on: arch))
        let cases: [(String, [UInt8])] = [
            // A = args[0]; X = A; A = nr; A = A / X; RET ALLOW.
            ("a division by args[0]", program([(0x20, 0, 0, 16), (0x07, 0, 0, 0), (0x20, 0, 0, 0), (0x3c, 0, 0, 0), (0x06, 0, 0, allow)])),
            // getppid: A = 1; X = 32; A = A << X; A == 0 ? ALLOW : EPERM. Every other call: ALLOW.
            ("a shift by X = 32", program([(0x20, 0, 0, 0), (0x15, 0, 4, UInt32(getppid)), (0x00, 0, 0, 1), (0x01, 0, 0, 32), (0x6c, 0, 0, 0),
                                           (0x15, 0, 1, 0), (0x06, 0, 0, allow), (0x06, 0, 0, eperm)])),
        ]
        for (name, p) in cases {
            var callErrno: Int32 = 0, signal: Int32 = 0
            let rc = p.withUnsafeBufferPointer { bh_seccomp_probe_in_child($0.baseAddress!, $0.count, Int(getppid), 0, 0, 0, 0, 0, 0, &callErrno, &signal) }
            try #require(rc == 0, "\(name): the probe did not run: errno \(rc) (call errno \(callErrno))")
            let kernelAllows = signal == 0 && callErrno == 0
            #expect(!kernelAllows, "\(name): the kernel allowed the call; the test's program is wrong")
            #expect(!SeccompAllowProof.allows(p, auditArch: audit, number: UInt32(getppid)),
                    "\(name): proven ALLOW for every argument, yet the kernel refuses getppid(0) (signal \(signal), errno \(callErrno))")
        }
    }
}
