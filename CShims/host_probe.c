#include "bh_host_probe.h"

#include <elf.h>
#include <errno.h>
#include <link.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/statfs.h>
#include <sys/syscall.h>
#include <unistd.h>

/* Fallback numbers for older headers; these are the x86_64/generic numbers
 * (all architectures share them since the unified syscall table of 5.1+). */
#ifndef SYS_clone3
#define SYS_clone3 435 /* Linux 5.3 */
#endif
#ifndef SYS_pidfd_open
#define SYS_pidfd_open 434 /* Linux 5.3 */
#endif
#ifndef SYS_mount_setattr
#define SYS_mount_setattr 442 /* Linux 5.12 */
#endif
#ifndef SYS_landlock_create_ruleset
#define SYS_landlock_create_ruleset 444 /* Linux 5.13 */
#endif
#ifndef LANDLOCK_CREATE_RULESET_VERSION
#define LANDLOCK_CREATE_RULESET_VERSION (1U << 0)
#endif

long bh_landlock_abi_version(void) {
    return syscall(SYS_landlock_create_ruleset, NULL, 0, LANDLOCK_CREATE_RULESET_VERSION);
}

long bh_clone3_probe(void) {
    return syscall(SYS_clone3, NULL, 0);
}

int bh_pidfd_open(pid_t pid, unsigned int flags) {
    return (int)syscall(SYS_pidfd_open, pid, flags);
}

long bh_mount_setattr_probe(void) {
    return syscall(SYS_mount_setattr, -1, "", 0, NULL, 0);
}

int bh_prctl_get_seccomp(void) {
    return prctl(PR_GET_SECCOMP, 0, 0, 0, 0);
}

int bh_prctl_get_no_new_privs(void) {
    return prctl(PR_GET_NO_NEW_PRIVS, 0, 0, 0, 0);
}

int bh_fstatfs_type(int fd, long *type) {
    struct statfs fs;
    if (fstatfs(fd, &fs) != 0) return errno;
    *type = (long)fs.f_type;
    return 0;
}

struct bh_build_id_search {
    uint8_t *out;
    size_t cap;
    size_t len;
};

/* The first object dl_iterate_phdr reports is the executable; only it is looked at. */
static int bh_build_id_in_object(struct dl_phdr_info *info, size_t size, void *data) {
    (void)size;
    struct bh_build_id_search *s = data;
    for (size_t i = 0; i < info->dlpi_phnum; i++) {
        const ElfW(Phdr) *ph = &info->dlpi_phdr[i];
        if (ph->p_type != PT_NOTE) continue;
        const uint8_t *p = (const uint8_t *)(info->dlpi_addr + ph->p_vaddr);
        size_t left = ph->p_memsz;
        while (left >= sizeof(ElfW(Nhdr))) {
            const ElfW(Nhdr) *n = (const ElfW(Nhdr) *)p;
            size_t name = ((size_t)n->n_namesz + 3) & ~(size_t)3, desc = ((size_t)n->n_descsz + 3) & ~(size_t)3;
            if (name > left - sizeof *n || desc > left - sizeof *n - name) break;
            if (n->n_type == NT_GNU_BUILD_ID && n->n_namesz == 4 && memcmp(p + sizeof *n, "GNU", 4) == 0) {
                if (n->n_descsz > 0 && n->n_descsz <= s->cap) {
                    memcpy(s->out, p + sizeof *n + name, n->n_descsz);
                    s->len = n->n_descsz;
                }
                return 1;
            }
            p += sizeof *n + name + desc;
            left -= sizeof *n + name + desc;
        }
    }
    return 1;
}

size_t bh_executable_build_id(uint8_t *out, size_t cap) {
    struct bh_build_id_search s = {out, cap, 0};
    dl_iterate_phdr(bh_build_id_in_object, &s);
    return s.len;
}
