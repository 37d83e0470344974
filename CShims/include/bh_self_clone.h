#ifndef BH_SELF_CLONE_H
#define BH_SELF_CLONE_H
/* The OCI runtime's own binary, run from a file no one can write (CVE-2019-5736). The
 * container's init is a clone of the runtime: until its execve, /proc/self/exe of the init (and
 * of the workload it forks) is the runtime's binary, and a container that execs /proc/self/exe
 * (a rootfs symlink to it, or `#!/proc/self/exe`) with an ELF interpreter of its own runs code
 * with a descriptor of that binary. Run from a read-only view of it, that descriptor can never
 * be opened for writing; the binary on the host is never reachable. As runc >= 1.2 does
 * (libcontainer/exeseal): first an overlayfs that no path names (fsopen/fsmount, lower layers
 * only, mounted read-only: no copy, EROFS for every writer, and unlike a read-only bind mount
 * nothing can remount it), and only where the kernel cannot, a copy in a memfd sealed against
 * writes (EPERM for every write). */
#include "bh_common.h"

/* When /proc/self/exe is neither a memfd sealed against writes nor a file of a read-only
 * overlayfs mounted where no path of this mount namespace names it (the one made here; a
 * read-only overlayfs mount of the host's may have a writable upper layer and be remounted
 * read-write): open the same binary through a new read-only overlayfs of its directory, or when
 * that fails copy it into a memfd (MFD_CLOEXEC|MFD_ALLOW_SEALING, sealed SEAL|SHRINK|GROW|WRITE),
 * and execveat it with `argv` and `envp` (every other fd not close-on-exec is kept). Returns 0
 * when already running from such a file; on failure a positive errno (nothing is left open).
 * Never returns on success. */
int bh_reexec_from_sealed_copy(char *_Nullable const *_Nonnull argv, char *_Nullable const *_Nonnull envp);

#endif
