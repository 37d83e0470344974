import CShims
import Glibc

/// A process named by pid AND start time (/proc/PID/stat field 22), held through a pidfd: the
/// one way to signal a process recorded earlier (`bulkhead stop`). The pidfd is opened first,
/// then the start time is checked: if it matches, the pidfd is that process, and a signal sent
/// through it can never reach a later process that reused the pid (it fails with ESRCH).
public final class ProcessHandle {
    public let pid: Int32
    private var fd: Int32

    /// Opens `pid` if it runs and started at `startTime`; nil when it is gone or the pid now
    /// belongs to another process.
    public init?(pid: Int32, startTime: UInt64) {
        guard pid > 0 else { return nil }
        let fd = bh_pidfd_open(pid, 0)
        guard fd >= 0 else { return nil }
        guard CgroupLeafName.isRunning(pid, startTime: startTime) else { Glibc.close(fd); return nil }
        self.pid = pid
        self.fd = fd
    }

    /// Opens `pid`, then asks `check` about it (e.g. that /proc/PID/cgroup is a container's):
    /// the pidfd is held before the check, so a signal through it reaches the process the check
    /// saw or, if that one has exited, nothing (a process that reused the pid is never signalled).
    public init?(pid: Int32, checkedBy check: (Int32) -> Bool) {
        guard pid > 0 else { return nil }
        let fd = bh_pidfd_open(pid, 0)
        guard fd >= 0 else { return nil }
        guard check(pid) else { Glibc.close(fd); return nil }
        self.pid = pid
        self.fd = fd
    }

    /// pidfd_send_signal(2): 0 or the errno (ESRCH once the process is gone).
    @discardableResult
    public func signal(_ sig: Int32) -> Int32 {
        guard fd >= 0 else { return ESRCH }
        return bh_pidfd_send_signal(fd, sig) == 0 ? 0 : errno
    }

    /// Waits until the process has exited (the pidfd becomes readable) or `seconds` pass;
    /// true when it has exited.
    public func waitForExit(seconds: Double) -> Bool {
        guard fd >= 0 else { return true }
        let deadline = Monotonic.now() + max(0, seconds)
        while true {
            let left = deadline - Monotonic.now()
            var p = pollfd(fd: fd, events: Int16(POLLIN), revents: 0)
            let ms = left <= 0 ? 0 : Int32(min(left * 1000, 60_000).rounded(.up))
            let n = poll(&p, 1, ms)
            if n > 0 { return true }
            if n < 0 && errno == EINTR { continue }
            if left <= 0 { return false }
        }
    }

    public func close() {
        if fd >= 0 { Glibc.close(fd); fd = -1 }
    }

    deinit { close() }
}
