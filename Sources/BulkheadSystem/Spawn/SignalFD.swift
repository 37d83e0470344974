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

    /// The OCI runtime in the foreground (`run`, `exec` without --detach), as runc's: every
    /// signal it can catch is blocked in the calling thread and read from the signalfd, to be
    /// forwarded to the container's process (SIGWINCH resizes a relayed pty instead), so no
    /// signal but SIGKILL ends the runtime while it holds the caller's terminal in raw mode, and
    /// none stops it (SIGTSTP, SIGTTIN, SIGTTOU: a blocked SIGTTOU lets it restore the terminal
    /// from a background process group). SIGPIPE is ignored instead: a write to a closed stdout
    /// fails with EPIPE, which is the relay's to handle, not the process's to get. A process
    /// the runtime starts afterwards resets its mask and every disposition (bh_exec_into).
    public static func blockForwardable() throws(SystemError) -> SignalFD {
        var fd: Int32 = -1
        let rc = bh_block_forwardable_signals(&fd)
        guard rc == 0 else { throw SystemError("block the signals to forward (sigprocmask, signalfd)", errno: Errno(rc)) }
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
