#ifndef BH_SECCOMP_H
#define BH_SECCOMP_H
/* The libseccomp bridge: compile a seccomp policy, given as plain C records, into a classic BPF
 * program (an array of struct sock_filter, 8 bytes each) or into libseccomp's readable PFC text.
 * libseccomp's header is included only by seccomp_bridge.c. Every function here is a compound
 * shim: it returns 0 or a positive errno (libseccomp's negative returns are normalised).
 *
 * How system calls are named: Swift resolves names to numbers with bulkhead's own SyscallTable,
 * per architecture, and passes one record per (architecture, system call). On the native
 * architecture the number is used as it is, so calls that the installed libseccomp does not
 * know (Debian 12's 2.5.4 stops at Linux 6.6: statmount, mseal, ...) are still enforced. For a
 * non-native architecture libseccomp 2.5 only accepts numbers it can translate through its own
 * name tables (arch.c: arch_syscall_translate), so the bridge hands it the name's native-space
 * number and checks that libseccomp lands on the number Swift expected; Swift leaves out the
 * records libseccomp cannot place and says so (see SeccompCompiler). Each architecture is built
 * in its own filter context and the contexts are merged, because a rule added to a
 * multi-architecture context fails as a whole when any one architecture cannot take it. */
#include <stddef.h>
#include <stdint.h>

/* Actions (translated to SCMP_ACT_* in the bridge). */
enum {
    BH_SECCOMP_ACT_KILL_THREAD = 1,
    BH_SECCOMP_ACT_KILL_PROCESS = 2,
    BH_SECCOMP_ACT_TRAP = 3,
    BH_SECCOMP_ACT_ERRNO = 4, /* action_data: the errno */
    BH_SECCOMP_ACT_TRACE = 5, /* action_data: the value reported to the tracer */
    BH_SECCOMP_ACT_ALLOW = 6,
    BH_SECCOMP_ACT_LOG = 7,
    BH_SECCOMP_ACT_NOTIFY = 8,
};

/* Argument comparisons, with libseccomp's (and the runtime spec's) meaning. */
enum {
    BH_SECCOMP_CMP_NE = 1,
    BH_SECCOMP_CMP_LT = 2,
    BH_SECCOMP_CMP_LE = 3,
    BH_SECCOMP_CMP_EQ = 4,
    BH_SECCOMP_CMP_GE = 5,
    BH_SECCOMP_CMP_GT = 6,
    BH_SECCOMP_CMP_MASKED_EQ = 7, /* (arg & value) == value_two */
};

typedef struct bh_seccomp_arg {
    uint32_t index; /* 0...5 */
    uint32_t op;    /* BH_SECCOMP_CMP_* */
    uint64_t value;
    uint64_t value_two;
} bh_seccomp_arg;

typedef struct bh_seccomp_rule {
    uint32_t arch;               /* libseccomp's token for the architecture (AUDIT_ARCH_* value; x32 0x4000003e) */
    int32_t syscall_nr;          /* the call's number on that architecture (x32 numbers carry 0x40000000) */
    const char *_Nonnull name;   /* the kernel's name of the call */
    uint32_t action;             /* BH_SECCOMP_ACT_* */
    uint32_t action_data;
    uint32_t arg_count;          /* 0...6 */
    bh_seccomp_arg args[6];
} bh_seccomp_rule;

typedef struct bh_seccomp_policy {
    uint32_t default_action;     /* BH_SECCOMP_ACT_* */
    uint32_t default_action_data;
    const uint32_t *_Nonnull arches; /* tokens; the native one, when present, must come first */
    size_t arch_count;
    const bh_seccomp_rule *_Nonnull rules;
    size_t rule_count;
    /* What a call of an architecture not in `arches` gets (libseccomp's SCMP_FLTATR_ACT_BADARCH,
     * tested in the filter's first instructions; on x86_64 without x32 also every call with
     * x32's bit, 0x40000000): a BH_SECCOMP_ACT_*, or 0 for libseccomp's default (kill thread). */
    uint32_t bad_arch_action;
    uint32_t bad_arch_action_data;
} bh_seccomp_policy;

/* Builds the filter (binary-tree optimisation on, no_new_privs left to the caller) and exports
 * it as BPF into a malloc'ed buffer (*out, *out_len; release with bh_seccomp_free). On failure
 * *failed_rule is the index of the rule libseccomp refused, or SIZE_MAX. */
int bh_seccomp_compile(const bh_seccomp_policy *_Nonnull policy, uint8_t *_Nullable *_Nonnull out,
                       size_t *_Nonnull out_len, size_t *_Nonnull failed_rule);

/* Like bh_seccomp_compile, but exports libseccomp's pseudo-filter-code text (NUL-terminated). */
int bh_seccomp_export_pfc(const bh_seccomp_policy *_Nonnull policy, char *_Nullable *_Nonnull out,
                          size_t *_Nonnull out_len, size_t *_Nonnull failed_rule);

void bh_seccomp_free(void *_Nullable buffer);

/* The token of the architecture libseccomp was built for (the host's). */
uint32_t bh_seccomp_native_arch(void);

/* libseccomp's number for name on arch, or INT32_MIN when libseccomp does not know the name
 * there (a negative pseudo-number means the call does not exist on that architecture). */
int32_t bh_seccomp_resolve_name(uint32_t arch, const char *_Nonnull name);

/* The installed libseccomp's version, e.g. 2, 5, 4. */
void bh_seccomp_library_version(uint32_t *_Nonnull major, uint32_t *_Nonnull minor, uint32_t *_Nonnull micro);

#endif
