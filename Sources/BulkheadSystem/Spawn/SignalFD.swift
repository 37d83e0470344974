import CShims
import Glibc

/// The signals a launcher takes synchronously: SIGINT, SIGTERM, SIGHUP, SIGQUIT, SIGUSR1,
/// SIGUSR2, SIGCHLD and SIGWINCH, blocked (sigprocmask) and read from a signalfd in the
/// launcher's poll loop, to be forwarded to the sandbox's init.
///
/// Blocked before clone3, so a child starts with them blocked (its C code resets them), and
/// before any thread is started: a pod's container threads inherit the mask, so only the pod
/// runner's loop takes them. One owner, one thread: a final class with an explicit `close`
/// (the owner's `defer`, which also keeps the descriptor alive through the loop that polls
/// it), and `deinit` as the backstop. Idempotent.
public final class SignalFD {
    private var fd: Int32

    private init(fd: Int32) { self.fd = fd }
    deinit { close() }

    /// Blocks the launcher's signals in the calling thread and opens a signalfd for them
    /// (close-on-exec, non-blocking).
    public static func blockSupervisorSignals() throws(SystemError) -> SignalFD {
        var fd: Int32 = -1
        let rc = bh_block_supervisor_signals(&fd)
        guard rc == 0 else { throw SystemError("signalfd", errno: Errno(rc)) }
        return SignalFD(fd: fd)
    }

    /// For poll(2): readable while a signal is pending.
    public var pollFD: pollfd { pollfd(fd: fd, events: Int16(POLLIN), revents: 0) }

    /// The next pending signal; nil when none is (or on a read error, or once closed).
    public func next() -> Int32? {
        guard fd >= 0 else { return nil }
        var sig: Int32 = 0
        guard bh_read_signalfd(fd, &sig) == 0 else { return nil }
        return sig > 0 ? sig : nil
    }

    /// Closes the signalfd (the signals stay blocked).
    public func close() {
        if fd >= 0 { Glibc.close(fd); fd = -1 }
    }
}
