import Glibc

/// What a host process started with `posix_spawn` gets of its parent: nothing. One place for
/// the two steps every such start takes (the OCI seccomp-record keeper, the bench's children).
public enum SpawnDefaults {
    /// Marks every descriptor above 2 close-on-exec, so none reaches the child (a file action's
    /// `dup2` clears the flag on the copy it makes only).
    public static func closeOnExecAbove2() {
        for entry in FileIO.listDirectory("/proc/self/fd") {
            if let fd = Int32(entry), fd > 2 { _ = fcntl(fd, F_SETFD, FD_CLOEXEC) }
        }
    }

    /// Sets `attr` so the child starts with no signal blocked and every signal at its default
    /// action (none of the parent's masks or ignores); returns the flags to add to the others.
    public static func resetSignals(_ attr: inout posix_spawnattr_t) -> Int16 {
        var mask = sigset_t()
        sigemptyset(&mask)
        posix_spawnattr_setsigmask(&attr, &mask)
        var all = sigset_t()
        sigfillset(&all)
        posix_spawnattr_setsigdefault(&attr, &all)
        return Int16(POSIX_SPAWN_SETSIGMASK | POSIX_SPAWN_SETSIGDEF)
    }
}
