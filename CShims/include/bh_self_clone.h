#ifndef BH_SELF_CLONE_H
#define BH_SELF_CLONE_H
/* The OCI runtime's own binary, run from a sealed memfd copy (CVE-2019-5736). The container's
 * init is a clone of the runtime: until its execve, /proc/self/exe of the init (and of the
 * workload it forks) is the runtime's binary, and a container that execs /proc/self/exe (a
 * rootfs symlink to it, or `#!/proc/self/exe`) with an ELF interpreter of its own runs code
 * with a descriptor of that binary. Run from a memfd sealed against writes, that descriptor
 * is the copy, which no one can write; the binary on the host is never reachable. runc does
 * the same (libcontainer/dmz, nsexec's cloned_binary.c). */
#include "bh_common.h"

/* When /proc/self/exe is not already a memfd sealed against writes: copy it into one
 * (MFD_CLOEXEC|MFD_ALLOW_SEALING, sealed SEAL|SHRINK|GROW|WRITE) and execveat it with `argv`
 * and `envp` (every other fd not close-on-exec is kept). Returns 0 when already running from
 * the sealed copy; on failure a positive errno (nothing is left open). Never returns on success. */
int bh_reexec_from_sealed_copy(char *_Nullable const *_Nonnull argv, char *_Nullable const *_Nonnull envp);

#endif
