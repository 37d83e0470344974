// bulkhead-runc: the runc-compatible command line of bulkhead (docs/oci.md), for podman's
// --runtime, containerd's runc shim (BinaryName) and CRI-O. A second small executable rather
// than a symlink to `bulkhead`: it links the Bulkhead library only (no ArgumentParser, no bench),
// so every runc command the engines call starts faster; `bulkhead oci ARGS` is the same code.
import Bulkhead
import Glibc

for fd in Int32(0)...2 where fcntl(fd, F_GETFD) < 0 {
    let n = open("/dev/null", O_RDWR)
    if n >= 0 && n != fd { dup2(n, fd); close(n) }
}
exit(OCICommandLine.main(Array(CommandLine.arguments.dropFirst())))
