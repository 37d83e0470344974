import BulkheadModel
import BulkheadSystem
import CShims
import CShimsTesting
import Foundation
import Glibc
import Testing

/// Red team of pool-fast (session 10): the pooled spawn's helper (CShims `clone_init_isolated`)
/// starts from a copy of the pool's fd table and closes every fd but the init's own in it. A
/// close calls the file's `flush` (every close, not only the last): a FUSE file's server answers
/// it (FUSE_FLUSH, which the kernel waits for without a timeout, not even a fatal signal ends
/// the wait). Any local user can mount a FUSE filesystem (fusermount) and pass a file of it.
@Suite(.enabled(if: Gate.root, Gate.rootReason), .serialized)
struct RedTeamPoolFastTests {
    /// A client's request waits in the pool with a FUSE file whose server answers no FLUSH of
    /// the pool's (or of a child of the pool); the pool's next sandbox is spawned meanwhile (the author's
    /// frozen-cgroup set-up, `WarmPoolTests.refillHoldsNoClientFD`). The spawn's helper must not
    /// hang on that file: afterwards another client is served, and the pool stops.
    @Test("A client's fd whose close never returns (FUSE FLUSH held) does not stall the pool's next spawn")
    func blockingFlushDoesNotStallTheSpawn() throws {
        let pool = try WarmPoolTests.Pool(size: 1)
        let mountpoint = pool.dir + "/fuse"
        try FileManager.default.createDirectory(atPath: mountpoint, withIntermediateDirectories: false, attributes: [.posixPermissions: 0o755])
        var fuse = bh_testing_fuse()
        let rc = bh_testing_fuse_start(mountpoint, pool.pid, &fuse)
        try #require(rc == 0, "mount a FUSE filesystem: errno \(rc)")
        let s = try #require(try WarmPoolTests.Pool.status(pool.socket))
        let cgroup = try #require(s.cgroup, "the container profile has limits: the pool has a parent cgroup")
        let v2 = try #require(["/sys/fs/cgroup/unified/\(cgroup)", "/sys/fs/cgroup/\(cgroup)"].first { FileManager.default.fileExists(atPath: $0 + "/cgroup.freeze") },
                              "no cgroup v2 directory of \(cgroup)")
        let file = open(mountpoint + "/f", O_RDONLY | O_CLOEXEC)
        var conns: [Int32] = []
        // The FUSE server answers first (else the pool's own closes stay blocked), then the pool stops.
        defer {
            bh_testing_fuse_release(&fuse)
            try? FileIO.write("0", to: v2 + "/cgroup.freeze")
            for c in conns { close(c) }
            if file >= 0 { close(file) }
            pool.stop()
            bh_testing_fuse_stop(mountpoint, &fuse)
        }
        try #require(file >= 0, "open the FUSE file: errno \(errno)")
        let ready = WarmPoolTests.inits(of: pool)
        try #require(ready.count == 1, "\(ready)")
        try FileIO.write("1", to: v2 + "/cgroup.freeze")
        // A takes the ready sandbox; the refill is cloned frozen and stays preparing.
        conns.append(try WarmPoolTests.sendRequest(pool, fds: [0, 1, 2]))
        let second = try #require(WarmPoolTests.newInit(of: pool, cgroup: cgroup, besides: ready), "the refill after A's request")
        // C's request, with the FUSE file as its stdin, waits in the pool (no sandbox is ready),
        // or is refused at once.
        conns.append(try WarmPoolTests.sendRequest(pool, fds: [file, 1, 2]))
        for _ in 0..<100 where !WarmPoolTests.fdTargets(pool.pid).contains(mountpoint + "/f") { usleep(10_000) }
        // The preparing sandbox fails: the pool spawns the next one.
        #expect(kill(second, SIGKILL) == 0)
        usleep(500_000)
        try FileIO.write("0", to: v2 + "/cgroup.freeze")
        // D is served: the pool's next sandbox became ready (its spawn did not hang on C's file).
        let d = try Bulkhead.run(["run", "--pool", pool.socket, "--", "/bin/true"], timeout: 50)
        #expect(d.status == 0, "the pool served no one after a client passed a FUSE file (its spawn's helper waits on the file's FLUSH): \(d.stderr)")
    }

    /// A client passes a FUSE file whose server never answers the pool (GETATTR, STATFS and
    /// FLUSH of the pool's process held): the pool learns that the file is FUSE's without asking
    /// the server (statx without sync, the mount's superblock from statmount(2), or
    /// /proc/self/mountinfo before Linux 6.8) and refuses it. The answer comes before the pool
    /// closes its copy of the file (a close whose FLUSH waits for the server). Shown able to fail
    /// (session 16): with the mount's type taken from fstatfs (as the check after it does), the
    /// pool's fstat waits on the server and the client gets no answer.
    @Test("A client's FUSE file is refused without asking its server, and the answer comes before the pool's close")
    func aFUSEFileIsRefusedWithoutAskingItsServer() throws {
        try Self.silentFUSEFileRequest("fuse-silent") { message, fuse in
            #expect(message.contains("a file of a FUSE filesystem"), "\(message)")
            // Then the pool closes its copy: that close's FLUSH is what the server holds.
            for _ in 0..<500 where (fuse.held?.pointee ?? 0) == 0 { usleep(10_000) }
            #expect((fuse.held?.pointee ?? 0) >= 1, "the pool's close of the file reached the server after its answer")
        }
    }

    /// A pool of one, and a file of a FUSE mount at `name` whose server answers the pool nothing
    /// (its GETATTR, STATFS and FLUSH held until the end): `prepare` runs with the file open
    /// (given the mount point), then the file goes to the pool as a client's fd 0. The answer must
    /// come within 20 s with status 125; `check` gets its message and the server's state.
    static func silentFUSEFileRequest(_ name: String, prepare: (String) throws -> Void = { _ in },
                                      check: (String, bh_testing_fuse) throws -> Void) throws {
        let pool = try WarmPoolTests.Pool(size: 1)
        let mountpoint = pool.dir + "/" + name
        try FileManager.default.createDirectory(atPath: mountpoint, withIntermediateDirectories: false, attributes: [.posixPermissions: 0o755])
        var fuse = bh_testing_fuse()
        let rc = bh_testing_fuse_start_holding(mountpoint, pool.pid, 1, &fuse)
        try #require(rc == 0, "mount a FUSE filesystem: errno \(rc)")
        let file = open(mountpoint + "/f", O_RDONLY | O_CLOEXEC)
        var conn: Int32 = -1
        defer {
            bh_testing_fuse_release(&fuse)
            if conn >= 0 { close(conn) }
            if file >= 0 { close(file) }
            pool.stop()
            bh_testing_fuse_stop(mountpoint, &fuse)
        }
        try #require(file >= 0, "open the FUSE file: errno \(errno)")
        try prepare(mountpoint)
        conn = try WarmPoolTests.sendRequest(pool, fds: [file, 1, 2])
        var p = pollfd(fd: conn, events: Int16(POLLIN), revents: 0)
        #expect(poll(&p, 1, 20_000) == 1, "no answer within 20 s: the pool asked the FUSE server (fstat, fstatfs) and waits")
        guard p.revents & Int16(POLLIN) != 0 else { return }
        let head = try PoolSocket.receive(conn).bytes
        try #require(head.count > 4)
        #expect(head.withUnsafeBytes { $0.loadUnaligned(as: Int32.self) } == ExitStatus.launchFailed)
        try check(String(decoding: head[4...], as: UTF8.self), fuse)
    }
}
