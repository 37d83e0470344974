import BulkheadModel
import CShims
import Glibc
import Synchronization

/// A record from the sandbox's init (`bh_msg`).
public enum InitMessage: Sendable, Equatable {
    case stepFailed(step: Int, errno: Errno)
    case execSucceeded(pidInside: Int32)
    /// The workload ended. `last`: the init has no child left, so no process of the sandbox
    /// runs but the init, which only exits next (`BH_MSG_EXITED_LAST`).
    case exited(waitStatus: Int32, last: Bool)
    /// OCI `create`: every setup step succeeded; the init waits on the exec fifo.
    case created
    /// The warm pool: every setup step succeeded; the init waits for its request.
    case poolReady
}

/// The sandbox's init as the launcher holds it after clone3 (`ChildSpawner.spawn`): its pid
/// and the three descriptors that reach it, owned here and closed here, once: the pidfd
/// (signals, and readable once the init has exited), the message pipe from it (`InitMessage`)
/// and the release pipe to it (one byte once the id maps are written; kept open while the
/// sandbox lives, the init takes its hang-up for the launcher's death).
///
/// A final class, not a noncopyable struct: in a pod, the pod runner's signal loop
/// (`SignalRouter`, another thread) forwards signals to the inits of every container's
/// supervisor thread, so an init is shared by reference, registered in a set while it runs.
/// What is shared is guarded: the descriptors live in a `Mutex`, and `kill` and `close` both
/// take it, so a signal never reaches a descriptor number that `close` has given back (it
/// reports ESRCH, as the kernel does for an init that has been reaped; a pidfd never signals a
/// reused pid). The rest (the id maps, the release, the messages, the reaping) is the owner's,
/// the one supervisor thread. `close()` is explicit, at a point the owner chooses (after the
/// reap, before the report); `deinit` closes what an early exit left open. Both are idempotent.
public final class SandboxInit: Sendable {
    /// The init's pid in the launcher's PID namespace: for /proc/PID (the id maps, the
    /// holder's namespaces) and wait4. Signals go through the pidfd (`kill`), never the pid.
    public let pid: Int32

    private struct State {
        var pidfd: Int32
        var messages: Int32
        var release: Int32
        /// The wait status and usage once `reap` has collected the init.
        var reaped: (status: Int32, usage: rusage)?
    }
    private let state: Mutex<State>

    init(pid: Int32, pidfd: Int32, messageFD: Int32, releaseFD: Int32) {
        self.pid = pid
        state = Mutex(State(pidfd: pidfd, messages: messageFD, release: releaseFD, reaped: nil))
    }

    deinit { close() }

    // MARK: Start

    /// Writes the plan's id maps (when it creates a user namespace). The init waits at its
    /// first step until `release`.
    public func writeIDMaps(_ plan: LaunchPlan) throws(SystemError) {
        guard plan.cloneNamespaces.contains(.user) else { return }
        try IDMapWriter.write(pid: pid, uidMap: plan.uidMap, gidMap: plan.gidMap, denySetgroups: plan.denySetgroups)
    }

    /// Lets the init go on past its first step. An init that failed already has closed its end
    /// (EPIPE, SIGPIPE being ignored by the supervisor): its message says why, so the write's
    /// own result tells nothing more.
    public func release() {
        let fd = state.withLock { $0.release }
        guard fd >= 0 else { return }
        var one: UInt8 = 1
        while Glibc.write(fd, &one, 1) < 0 && errno == EINTR {}
    }

    /// cgroup v1: sends the v1 leaves' `tasks` files (`SandboxCgroup.openJoinFiles`, opened once
    /// every leaf exists with its limits) to the init, which waits for them at its
    /// `.joinCgroups` step and moves itself in (`ChildSpawner.spawn(cgroupJoinCount:)`). The
    /// caller closes its own copies. EPIPE when the init has already failed (its message says
    /// why); any other error leaves the init waiting: the caller must kill it.
    public func sendCgroupJoinFiles(_ fds: [Int32]) throws(SystemError) {
        let fd = state.withLock { $0.release }
        let rc = fd < 0 ? EPIPE : fds.withUnsafeBufferPointer { bh_send_fds(fd, 1, $0.baseAddress, UInt32(clamping: $0.count)) }
        if rc != 0 {
            throw SystemError("send the cgroup v1 tasks files to the sandbox's init", errno: Errno(rc),
                              hint: rc == EPIPE ? "the init has already ended" : nil)
        }
    }

    /// Ends an init that was never released (a failure between clone3 and the release): kills
    /// it, closes the release pipe and reaps it. It still waits at its first step, so nothing
    /// of the plan ran.
    public func abandon() {
        try? kill(SIGKILL)
        state.withLock { s in
            if s.release >= 0 { Glibc.close(s.release); s.release = -1 }
        }
        _ = reap()
    }

    // MARK: Running

    /// For poll(2), in the supervisor's loop: readable while a message (or the end of the
    /// stream) is pending; an fd of -1 when `open` is false or the init was closed, which
    /// poll ignores.
    public func messagesPollFD(open: Bool = true) -> pollfd {
        let fd = open ? state.withLock { $0.messages } : -1
        return pollfd(fd: fd, events: Int16(POLLIN), revents: 0)
    }

    /// For poll(2): readable once the init has exited (the pidfd).
    public var exitPollFD: pollfd {
        pollfd(fd: state.withLock { $0.pidfd }, events: Int16(POLLIN), revents: 0)
    }

    /// Reads one message from the init; nil at the end of the stream (the init has exited and
    /// everything it wrote was read). Blocks until a whole record arrives.
    public func nextMessage() throws(SystemError) -> InitMessage? {
        let fd = state.withLock { $0.messages }
        guard fd >= 0 else { return nil }
        var m = bh_msg()
        var got = 0
        while got < MemoryLayout<bh_msg>.size {
            let n = withUnsafeMutableBytes(of: &m) { Glibc.read(fd, $0.baseAddress! + got, $0.count - got) }
            if n < 0 { if errno == EINTR { continue }; throw SystemError("read from the sandbox's init", errno: .current) }
            if n == 0 { if got == 0 { return nil }; throw SystemError("short message from the sandbox's init") }
            got += n
        }
        return try InitMessage(m)
    }

    /// Sends `signal` to the init through its pidfd (pidfd_send_signal(2)): SIGKILL to the
    /// init ends the sandbox's whole PID namespace. From any thread. ESRCH once the init has
    /// been reaped or this handle closed: never a signal to whatever process reuses the pid.
    public func kill(_ signal: Int32) throws(SystemError) {
        let rc = state.withLock { s -> Int32 in
            guard s.pidfd >= 0 else { return ESRCH }
            return bh_pidfd_send_signal(s.pidfd, signal) == 0 ? 0 : errno
        }
        guard rc == 0 else {
            throw SystemError("send \(SignalName.name(signal)) to the sandbox's init (pid \(pid))", errno: Errno(rc))
        }
    }

    /// Waits for the init to end (wait4) and collects its wait status and resource usage;
    /// later calls return what the first collected.
    public func reap() -> (status: Int32, usage: rusage) {
        if let r = state.withLock({ $0.reaped }) { return r }
        var status: Int32 = 0
        var usage = rusage()
        // Not under the lock: the wait may be long, and `kill` must stay possible meanwhile.
        while wait4(pid, &status, 0, &usage) < 0 && errno == EINTR {}
        return state.withLock { s in
            s.reaped = (status, usage)
            return (status, usage)
        }
    }

    // MARK: Ownership

    /// Closes the pidfd and both pipes (the release pipe's hang-up tells an init that still
    /// runs that the launcher is gone). Idempotent: a second call closes nothing, so no
    /// descriptor opened since under the same number is touched.
    public func close() {
        state.withLock { s in
            for fd in [s.pidfd, s.messages, s.release] where fd >= 0 { Glibc.close(fd) }
            s.pidfd = -1; s.messages = -1; s.release = -1
        }
    }

    /// Whether `close` has run.
    public var isClosed: Bool { state.withLock { $0.pidfd < 0 && $0.messages < 0 && $0.release < 0 } }
}

extension InitMessage {
    /// One `bh_msg` as the init wrote it (16 bytes), read by another process than the one that
    /// started the init (OCI `start` reads a failure after the release from the exec fifo).
    public init(bytes: [UInt8]) throws(SystemError) {
        guard bytes.count == MemoryLayout<bh_msg>.size else { throw SystemError("short message from the sandbox's init") }
        var m = bh_msg()
        withUnsafeMutableBytes(of: &m) { for (i, b) in bytes.enumerated() { $0[i] = b } }
        try self.init(m)
    }

    init(_ m: bh_msg) throws(SystemError) {
        switch Int(m.kind) {
        case Int(BH_MSG_STEP_FAILED.rawValue): self = .stepFailed(step: Int(m.step), errno: Errno(m.err))
        case Int(BH_MSG_EXEC_OK.rawValue): self = .execSucceeded(pidInside: m.value)
        case Int(BH_MSG_EXITED.rawValue): self = .exited(waitStatus: m.value, last: false)
        case Int(BH_MSG_EXITED_LAST.rawValue): self = .exited(waitStatus: m.value, last: true)
        case Int(BH_MSG_CREATED.rawValue): self = .created
        case Int(BH_MSG_POOL_READY.rawValue): self = .poolReady
        default: throw SystemError("unknown message \(m.kind) from the sandbox's init")
        }
    }
}
