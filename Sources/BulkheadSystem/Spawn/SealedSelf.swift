import CShims
import Glibc

/// The OCI runtime runs `create`, `run` and `exec` from a view of its own binary that no one can
/// write (CVE-2019-5736, bh_self_clone.h): the binary through a read-only overlayfs that no path
/// names (no copy), or where the kernel cannot make one, a copy in a sealed memfd. The
/// container's init is a clone of this process, so whatever in the container reaches
/// /proc/<init>/exe or execs /proc/self/exe reaches that view, never a writable binary on the
/// host.
public enum SealedSelf {
    /// Re-executes this process from the sealed view with the same arguments, environment and
    /// inherited fds; returns when it already runs from one. Fails closed.
    public static func reexecIfNeeded() throws(SystemError) {
        let rc = bh_reexec_from_sealed_copy(CommandLine.unsafeArgv, environ)
        guard rc == 0 else {
            throw SystemError("run the runtime from a sealed view of its binary (fsopen overlay or memfd_create, execveat; CVE-2019-5736)", errno: Errno(rc),
                              hint: "the kernel must allow memfd_create and execveat (a seccomp filter around the runtime may forbid them)")
        }
    }
}
