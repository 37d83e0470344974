#include "bh_host_probe.h"

#include <elf.h>
#include <errno.h>
#include <link.h>
#include <stdint.h>
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

/* The GNU build-id (NT_GNU_BUILD_ID) among the notes of one PT_NOTE segment: `p` holds `left`
 * bytes. Every size is checked against what is left before it is used. Returns the id's length
 * (copied to out), 0 when this segment has none or it does not fit `cap`; *found set when the
 * note was there (fitting or not), so that the search stops. */
static size_t bh_build_id_in_notes(const uint8_t *p, size_t left, uint8_t *out, size_t cap, int *found) {
    while (left >= sizeof(ElfW(Nhdr))) {
        ElfW(Nhdr) n;
        memcpy(&n, p, sizeof n);
        size_t name = ((size_t)n.n_namesz + 3) & ~(size_t)3, desc = ((size_t)n.n_descsz + 3) & ~(size_t)3;
        if (name > left - sizeof n || desc > left - sizeof n - name) return 0;
        if (n.n_type == NT_GNU_BUILD_ID && n.n_namesz == 4 && memcmp(p + sizeof n, "GNU", 4) == 0) {
            *found = 1;
            if (n.n_descsz == 0 || n.n_descsz > cap) return 0;
            memcpy(out, p + sizeof n + name, n.n_descsz);
            return n.n_descsz;
        }
        p += sizeof n + name + desc;
        left -= sizeof n + name + desc;
    }
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
    int found = 0;
    for (size_t i = 0; i < info->dlpi_phnum && !found; i++) {
        const ElfW(Phdr) *ph = &info->dlpi_phdr[i];
        if (ph->p_type != PT_NOTE) continue;
        s->len = bh_build_id_in_notes((const uint8_t *)(info->dlpi_addr + ph->p_vaddr), ph->p_memsz, s->out, s->cap, &found);
    }
    return 1;
}

size_t bh_executable_build_id(uint8_t *out, size_t cap) {
    struct bh_build_id_search s = {out, cap, 0};
    dl_iterate_phdr(bh_build_id_in_object, &s);
    return s.len;
}

size_t bh_file_build_id(int fd, uint8_t *out, size_t cap) {
    ElfW(Ehdr) eh;
    if (pread(fd, &eh, sizeof eh, 0) != (ssize_t)sizeof eh) return 0;
    if (memcmp(eh.e_ident, ELFMAG, SELFMAG) != 0 || eh.e_ident[EI_CLASS] != (sizeof(void *) == 8 ? ELFCLASS64 : ELFCLASS32)
        || eh.e_phentsize != sizeof(ElfW(Phdr)) || eh.e_phnum == 0 || eh.e_phnum > 64)
        return 0;
    ElfW(Phdr) ph[64];
    size_t want = (size_t)eh.e_phnum * sizeof ph[0];
    if (eh.e_phoff > (ElfW(Off))INT64_MAX - want || pread(fd, ph, want, (off_t)eh.e_phoff) != (ssize_t)want) return 0;
    uint8_t notes[4096];
    int found = 0;
    for (size_t i = 0; i < eh.e_phnum && !found; i++) {
        if (ph[i].p_type != PT_NOTE || ph[i].p_filesz == 0) continue;
        size_t len = ph[i].p_filesz < sizeof notes ? (size_t)ph[i].p_filesz : sizeof notes;
        if (ph[i].p_offset > (ElfW(Off))INT64_MAX - len || pread(fd, notes, len, (off_t)ph[i].p_offset) != (ssize_t)len) return 0;
        size_t n = bh_build_id_in_notes(notes, len, out, cap, &found);
        if (n > 0) return n;
    }
    return 0;
}
