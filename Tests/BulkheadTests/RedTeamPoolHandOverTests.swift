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
        try RedTeamPoolFastTests.silentFUSEFileRequest("fuse-detached", prepare: { mountpoint in
            try #require(umount2(mountpoint, Int32(MNT_DETACH)) == 0, "detach the FUSE mount: errno \(errno)")
        }) { message, _ in
            #expect(message.contains("the request's fd 0"), "\(message)")
        }
    }

    /// The boundary of "a mount the pool cannot see" (bh_pool_fd_kind, asked in this process as
    /// the pool asks in its own): what lives on the kernel's internal mounts, which no namespace
    /// lists, is still taken (a pipe, a socket, a memfd) or refused as before (a pidfd: a
    /// handle); a character device is taken; a file of a detached mount whose superblock a mount
    /// here still shows is taken (that mount's type decides); a file of a detached tmpfs, which
    /// no mount here shows, is refused without asking it.
    @Test("Files of mounts no namespace lists: internal ones and shown superblocks taken, others refused")
    func unseenMountsBoundary() throws {
        let p = try PoolSocket.pipe()
        defer { close(p[0]); close(p[1]) }
        #expect(bh_pool_fd_kind(p[0]) == BH_POOL_FD_OK, "a pipe")
        let sock = socket(AF_UNIX, Int32(SOCK_STREAM.rawValue) | Int32(SOCK_CLOEXEC.rawValue), 0)
        try #require(sock >= 0)
        defer { close(sock) }
        #expect(bh_pool_fd_kind(sock) == BH_POOL_FD_OK, "a socket")
        let memfd = bh_state_memfd()
        try #require(memfd >= 0)
        defer { close(memfd) }
        #expect(bh_pool_fd_kind(memfd) == BH_POOL_FD_OK, "a memfd")
        let pidfd = bh_pidfd_open(getpid(), 0)
        try #require(pidfd >= 0)
        defer { close(pidfd) }
        #expect(bh_pool_fd_kind(pidfd) == BH_POOL_FD_HANDLE, "a pidfd")
        let null = open("/dev/null", O_RDWR | O_CLOEXEC)
        try #require(null >= 0)
        defer { close(null) }
        #expect(bh_pool_fd_kind(null) == BH_POOL_FD_OK, "/dev/null")

        let dir = "/tmp/bh-rt16-\(getpid())"
        try FileManager.default.createDirectory(atPath: dir + "/bind", withIntermediateDirectories: true)
        try FileManager.default.createDirectory(atPath: dir + "/tmpfs", withIntermediateDirectories: true)
        try "x".write(toFile: dir + "/file", atomically: false, encoding: .utf8)
        defer {
            umount2(dir + "/bind", Int32(MNT_DETACH))
            umount2(dir + "/tmpfs", Int32(MNT_DETACH))
            try? FileManager.default.removeItem(atPath: dir)
        }
        // A bind mount of the directory's own superblock, detached with a file of it open.
        try #require(mount(dir, dir + "/bind", nil, UInt(MS_BIND), nil) == 0, "bind mount: errno \(errno)")
        let shown = open(dir + "/bind/file", O_RDONLY | O_CLOEXEC)
        try #require(shown >= 0)
        defer { close(shown) }
        try #require(umount2(dir + "/bind", Int32(MNT_DETACH)) == 0)
        #expect(bh_pool_fd_kind(shown) == BH_POOL_FD_OK, "a detached bind mount's file, its superblock shown by another mount")
        // A tmpfs of its own, detached with a file of it open: no mount here shows it.
        try #require(mount("rt16", dir + "/tmpfs", "tmpfs", 0, "size=64k,mode=0700") == 0, "tmpfs: errno \(errno)")
        let hidden = open(dir + "/tmpfs/file", O_RDWR | O_CREAT | O_CLOEXEC, 0o600)
        try #require(hidden >= 0)
        defer { close(hidden) }
        try #require(umount2(dir + "/tmpfs", Int32(MNT_DETACH)) == 0)
        #expect(bh_pool_fd_kind(hidden) == BH_POOL_FD_UNSEEN_MOUNT, "a detached tmpfs's file")
    }
    /// One thread at a time accepts (WarmPool.acceptLoop, session 16): it counts and starts the
    /// next acceptor, then serves its connection. A thread that cannot be made (the pool's pids
    /// or threads limit reached, e.g. by many connections that send nothing: each holds its
    /// thread for the request's 10 s) must not end the accepting for good: Foundation's
    /// Thread.detachNewThread fails silently, and then no thread ever polls the socket again and
    /// teardown waits for the acceptor it counted. Shown with the pool process in a pids cgroup
    /// whose limit is its thread count while one connection is accepted, then moved back.
    @Test("A connection accepted when no thread can be made does not end the pool's accepting")
    func acceptingSurvivesAThreadThatCouldNotStart() throws {
        let v1 = "/sys/fs/cgroup/pids"
        let root = FileManager.default.fileExists(atPath: v1 + "/cgroup.procs") ? v1 : "/sys/fs/cgroup"
        let pool = try WarmPoolTests.Pool(size: 1)
        let line = try #require(FileIO.read("/proc/\(pool.pid)/cgroup")?.split(separator: "\n").first {
            root == v1 ? $0.contains(":pids:") : $0.hasPrefix("0::")
        }, "the pool's pids cgroup")
        let home = root + String(line.split(separator: ":", maxSplits: 2)[2])
        let cage = root + "/bh-rt16-\(getpid())"
        try #require(mkdir(cage, 0o755) == 0, "mkdir \(cage): errno \(errno)")
        var caged = true
        func release() {
            guard caged else { return }
            try? FileIO.write("\(pool.pid)", to: home + "/cgroup.procs")
            for _ in 0..<100 where rmdir(cage) != 0 { usleep(10_000) }
            caged = false
        }
        var served = false
        defer {
            release()
            if !served { Self.killPool(pool.pid) }
            pool.stop()
        }
        try FileIO.write("\(pool.pid)", to: cage + "/cgroup.procs")
        try FileIO.write("\(FileIO.listDirectory("/proc/\(pool.pid)/task").count)", to: cage + "/pids.max")
        // A status request: accepted, served (its answer comes), but the next acceptor cannot start.
        let c = try PoolSocket.connect(path: pool.socket)
        defer { close(c) }
        try PoolSocket.send(c, Array("status".utf8))
        var p = pollfd(fd: c, events: Int16(POLLIN), revents: 0)
        #expect(poll(&p, 1, 20_000) == 1, "the status request in the cage got no answer")
        release()
        // Threads can be made again: the pool must still accept (asked on the socket itself: a
        // `pool status` left waiting outlives the harness's timeout).
        let again = try PoolSocket.connect(path: pool.socket)
        defer { close(again) }
        try PoolSocket.send(again, Array("status".utf8))
        var q = pollfd(fd: again, events: Int16(POLLIN), revents: 0)
        served = poll(&q, 1, 20_000) == 1
        #expect(served, "the pool no longer accepts after a thread could not start: no answer to a status request within 20 s")
    }

    /// A pool that can no longer be stopped: SIGKILL, then its sandboxes' cgroups (c-PID-...).
    static func killPool(_ pid: Int32) {
        kill(pid, SIGKILL)
        usleep(200_000)
        for h in [""] + FileIO.listDirectory("/sys/fs/cgroup").map({ "/" + $0 }) {
            let dir = "/sys/fs/cgroup\(h)/bulkhead/pool"
            for parent in FileIO.listDirectory(dir) where parent.hasPrefix("c-\(pid)-") {
                let leaves = FileIO.listDirectory(dir + "/" + parent).filter { $0.hasPrefix("c-\(pid)-") }
                for leaf in leaves {
                    let path = dir + "/" + parent + "/" + leaf
                    try? FileIO.write("1", to: path + "/cgroup.kill")
                    for t in (FileIO.read(path + "/cgroup.procs") ?? "").split(separator: "\n") { if let n = Int32(t) { kill(n, SIGKILL) } }
                    for _ in 0..<100 where rmdir(path) != 0 { usleep(10_000) }
                }
                for _ in 0..<100 where rmdir(dir + "/" + parent) != 0 { usleep(10_000) }
            }
        }
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
