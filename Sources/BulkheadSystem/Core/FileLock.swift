import Glibc

/// An exclusive flock(2) on a file, held until `unlock()` or deinit. Launchers of pods take
/// it around every change to state they share (the node network, tenant cgroups), so that
/// two launchers never allocate one address or prune a tenant the other is joining. The
/// kernel drops the lock when the holder dies, so a killed launcher cannot wedge the next.
public final class FileLock {
    private var fd: Int32

    /// Opens (creating, mode 0600) and locks `path`, waiting for another holder to let go.
    /// `removedByHolders`: a holder may unlink the file before it lets go (OCI `delete` removes
    /// its container's lock); a waiter that then wins the lock of the unlinked file would
    /// share "the lock" with whoever creates the next one, so it checks that `path` is still
    /// the file it locked, and starts again if not.
    public init(_ path: String, removedByHolders: Bool = false) throws(SystemError) {
        fd = -1
        while true {
            fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC | O_NOFOLLOW, 0o600)
            guard fd >= 0 else { throw SystemError("open the lock file \(path)", errno: .current) }
            while flock(fd, LOCK_EX) != 0 {
                guard errno == EINTR else {
                    let e = Errno.current
                    close(fd)
                    throw SystemError("lock \(path)", errno: e)
                }
            }
            guard removedByHolders else { return }
            var held = stat(), named = stat()
            if fstat(fd, &held) == 0, lstat(path, &named) == 0, held.st_dev == named.st_dev, held.st_ino == named.st_ino { return }
            close(fd)
        }
    }

    public func unlock() {
        if fd >= 0 { close(fd); fd = -1 }
    }

    deinit { unlock() }
}
