import CShims
import Glibc

/// The OCI runtime runs `create` and `run` from a sealed memfd copy of its own binary
/// (CVE-2019-5736, bh_self_clone.h): the container's init is a clone of this process, so
/// whatever in the container reaches /proc/<init>/exe or execs /proc/self/exe reaches the copy,
/// which no one can write, never the binary on the host.
public enum SealedSelf {
    /// Re-executes this process from the sealed copy with the same arguments, environment and
    /// inherited fds; returns when it already runs from one. Fails closed.
    public static func reexecIfNeeded() throws(SystemError) {
        let rc = bh_reexec_from_sealed_copy(CommandLine.unsafeArgv, environ)
        guard rc == 0 else {
            throw SystemError("run the runtime from a sealed copy of its binary (memfd_create, execveat; CVE-2019-5736)", errno: Errno(rc),
                              hint: "the kernel must allow memfd_create and execveat (a seccomp filter around the runtime may forbid them)")
        }
    }
}
