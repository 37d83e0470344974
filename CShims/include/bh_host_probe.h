#ifndef BH_HOST_PROBE_H
#define BH_HOST_PROBE_H
#include <stddef.h>
#include <stdint.h>
/* Raw system calls that `bulkhead doctor` uses to ask the kernel what it supports.
 * Each shim wraps one system call and keeps the -1/errno convention (bh_common.h: the
 * exception for one-call wrappers), except bh_fstatfs_type, which returns 0 or a positive
 * errno; call them only through a Swift helper that captures errno at once. None of them
 * changes any state. */
#include <sys/types.h>

/* landlock_create_ruleset(NULL, 0, LANDLOCK_CREATE_RULESET_VERSION): the Landlock ABI
 * version (>= 1), or -1 with errno EOPNOTSUPP (disabled at boot) / ENOSYS (not built). */
long bh_landlock_abi_version(void);

/* clone3(NULL, 0): never creates a process. -1 with errno EINVAL means clone3 exists
 * (size 0 is rejected before anything else, kernel >= 5.3); ENOSYS means it does not. */
long bh_clone3_probe(void);

/* pidfd_open(2), kernel >= 5.3. Returns a pidfd (close it) or -1/errno. */
int bh_pidfd_open(pid_t pid, unsigned int flags);

/* mount_setattr(-1, "", 0, NULL, 0): changes nothing. -1 with errno EINVAL/EBADF means
 * the call exists (kernel >= 5.12); ENOSYS means it does not. */
long bh_mount_setattr_probe(void);

/* prctl(PR_GET_SECCOMP): 0 = no filter, 2 = filter mode, -1/EINVAL = no seccomp. */
int bh_prctl_get_seccomp(void);

/* prctl(PR_GET_NO_NEW_PRIVS): 0 or 1, -1/EINVAL on kernels before 3.5. */
int bh_prctl_get_no_new_privs(void);

/* fstatfs(2): the filesystem's magic number (f_type) in *type; 0 or a positive errno. */
int bh_fstatfs_type(int fd, long *_Nonnull type);

/* The GNU build-id (NT_GNU_BUILD_ID) of the running executable, read from its PT_NOTE
 * segments as loaded (dl_iterate_phdr's first object: the program itself; no file is read), into
 * `out` (at most `cap` bytes). Returns its length; 0 when it has none or it does not fit. The
 * same bytes for the same build wherever it runs from: its path, or the detached overlayfs view
 * the OCI runtime re-executes from (a new device at every `create`). */
size_t bh_executable_build_id(uint8_t *_Nonnull out, size_t cap);

/* The same from an executable file, open for reading at `fd` (its ELF header, program headers
 * and PT_NOTE segments, by pread; at most 64 program headers and 4 KiB of each note segment).
 * Returns the id's length; 0 when the file is not an ELF of this class, has none, or it does not
 * fit `cap`. */
size_t bh_file_build_id(int fd, uint8_t *_Nonnull out, size_t cap);

#endif
