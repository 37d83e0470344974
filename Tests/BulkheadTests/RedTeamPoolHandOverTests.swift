import BulkheadModel
import BulkheadSystem
import CShims
import CShimsTesting
import Foundation
import Glibc
import Testing

/// Red team of session 16's hand-over (rt16): the pool's FUSE check by statmount(2) and the
/// workload's inline send of its seccomp listener.
@Suite(.enabled(if: Gate.root, Gate.rootReason), .serialized)
struct RedTeamPoolHandOverTests {
    /// A client opens a file of its FUSE filesystem and detaches the mount (`fusermount -u -z`,
    /// umount2 MNT_DETACH: any FUSE mount's owner may): the open file keeps the superblock and
    /// its server alive, but the mount is in no namespace. statmount(2) answers ENOENT for it
    /// and /proc/self/mountinfo does not list it, as for a pipe's or a socket's internal mount:
    /// "not visible" must not mean "not FUSE" (then fstat and fstatfs ask the server, and a
    /// server that never answers holds the pool's thread). The same holds for a mount of the
    /// client's own mount namespace (`unshare -Urm` and a FUSE mount in it).
    @Test("A file of a detached FUSE mount is refused without asking its server")
    func aDetachedFUSEMountsFileIsRefusedWithoutAskingItsServer() throws {
        let pool = try WarmPoolTests.Pool(size: 1)
        let mountpoint = pool.dir + "/fuse-detached"
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
        try #require(umount2(mountpoint, Int32(MNT_DETACH)) == 0, "detach the FUSE mount: errno \(errno)")
        conn = try WarmPoolTests.sendRequest(pool, fds: [file, 1, 2])
        var p = pollfd(fd: conn, events: Int16(POLLIN), revents: 0)
        #expect(poll(&p, 1, 20_000) == 1, "no answer within 20 s: the pool asked the FUSE server of a detached mount (fstat/fstatfs) and waits")
        guard p.revents & Int16(POLLIN) != 0 else { return }
        let head = try PoolSocket.receive(conn).bytes
        try #require(head.count > 4)
        #expect(head.withUnsafeBytes { $0.loadUnaligned(as: Int32.self) } == ExitStatus.launchFailed)
        let message = String(decoding: head[4...], as: UTF8.self)
        #expect(message.contains("the request's fd 0"), "\(message)")
    }
}

/// The workload's inline hand-over of its seccomp listener (session 16, `load_notifying_inline`)
/// when the send fails: the thread's hand-over closes the listener then ("no listener is left:
/// refused calls get ENOSYS"), so the step's failure report (a write to the exec pipe) and the
/// exit cannot wait on a notification. A listener left in the workload's own table would hold
/// its next refused call until someone answered, and no one can: the launcher never got it.
struct RedTeamSeccompInlineHandOverTests {
    #if arch(x86_64)
    @Test("A failed inline send of the listener leaves no listener in the workload")
    func aFailedInlineSendLeavesNoListener() throws {
        var loadErr: Int32 = 0
        let rc = bh_testing_seccomp_failed_handover({ channel, plain, plainLength, notifying, notifyingLength in
            var n = bh_seccomp_notify_config(channel: channel, notifying: notifying, notifying_length: notifyingLength)
            return bh_seccomp_load_notifying(plain, plainLength, 0, &n)
        }, 20_000, &loadErr)
        #expect(rc == 0, "the workload did not exit within 20 s after its send failed (errno \(rc)): its refused write waits on the listener it kept")
        #expect(rc != 0 || loadErr == EPIPE, "the load's result: \(loadErr)")
    }
    #endif
}
