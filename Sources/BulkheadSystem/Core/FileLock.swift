import Glibc

/// An exclusive flock(2) on a file, held until `unlock()` or deinit. Launchers of pods take
/// it around every change to state they share (the node network, tenant cgroups), so that
/// two launchers never allocate one address or prune a tenant the other is joining. The
/// kernel drops the lock when the holder dies, so a killed launcher cannot wedge the next.
public final class FileLock {
    private var fd: Int32

    /// Opens (creating, mode 0600) and locks `path`, waiting for another holder to let go.
    public init(_ path: String) throws(SystemError) {
        fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC | O_NOFOLLOW, 0o600)
        guard fd >= 0 else { throw SystemError("open the lock file \(path)", errno: .current) }
        while flock(fd, LOCK_EX) != 0 {
            guard errno == EINTR else {
                let e = Errno.current
                close(fd)
                throw SystemError("lock \(path)", errno: e)
            }
        }
    }

    public func unlock() {
        if fd >= 0 { close(fd); fd = -1 }
    }

    deinit { unlock() }
}
