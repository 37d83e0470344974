#include "bh_seccomp.h"

#include <errno.h>
#include <seccomp.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

_Static_assert(sizeof(bh_seccomp_arg) == 24, "bh_seccomp_arg layout");

static int bh_positive(int rc) { return rc < 0 ? -rc : rc; }

static int bh_action(uint32_t kind, uint32_t data, uint32_t *out) {
    switch (kind) {
    case BH_SECCOMP_ACT_KILL_THREAD: *out = SCMP_ACT_KILL_THREAD; return 0;
    case BH_SECCOMP_ACT_KILL_PROCESS: *out = SCMP_ACT_KILL_PROCESS; return 0;
    case BH_SECCOMP_ACT_TRAP: *out = SCMP_ACT_TRAP; return 0;
    case BH_SECCOMP_ACT_ERRNO: *out = SCMP_ACT_ERRNO(data); return 0;
    case BH_SECCOMP_ACT_TRACE: *out = SCMP_ACT_TRACE(data); return 0;
    case BH_SECCOMP_ACT_ALLOW: *out = SCMP_ACT_ALLOW; return 0;
    case BH_SECCOMP_ACT_LOG: *out = SCMP_ACT_LOG; return 0;
    case BH_SECCOMP_ACT_NOTIFY: *out = SCMP_ACT_NOTIFY; return 0;
    default: return EINVAL;
    }
}

static int bh_compare(uint32_t op, enum scmp_compare *out) {
    switch (op) {
    case BH_SECCOMP_CMP_NE: *out = SCMP_CMP_NE; return 0;
    case BH_SECCOMP_CMP_LT: *out = SCMP_CMP_LT; return 0;
    case BH_SECCOMP_CMP_LE: *out = SCMP_CMP_LE; return 0;
    case BH_SECCOMP_CMP_EQ: *out = SCMP_CMP_EQ; return 0;
    case BH_SECCOMP_CMP_GE: *out = SCMP_CMP_GE; return 0;
    case BH_SECCOMP_CMP_GT: *out = SCMP_CMP_GT; return 0;
    case BH_SECCOMP_CMP_MASKED_EQ: *out = SCMP_CMP_MASKED_EQ; return 0;
    default: return EINVAL;
    }
}

/* One context holding only `arch`, with bulkhead's attributes. */
static int bh_new_context(const bh_seccomp_policy *p, uint32_t arch, scmp_filter_ctx *out) {
    uint32_t def;
    int rc = bh_action(p->default_action, p->default_action_data, &def);
    if (rc != 0) return rc;
    scmp_filter_ctx ctx = seccomp_init(def);
    if (ctx == NULL) return ENOMEM;
    /* The launcher sets no_new_privs itself, in the child; the filter is only exported here. */
    rc = seccomp_attr_set(ctx, SCMP_FLTATR_CTL_NNP, 0);
    /* Binary tree of system-call numbers instead of a linear list (libseccomp >= 2.5). */
    if (rc == 0) rc = seccomp_attr_set(ctx, SCMP_FLTATR_CTL_OPTIMIZE, 2);
    if (rc == 0 && p->bad_arch_action != 0) {
        uint32_t bad;
        rc = bh_action(p->bad_arch_action, p->bad_arch_action_data, &bad);
        if (rc != 0) {
            seccomp_release(ctx);
            return rc;
        }
        rc = seccomp_attr_set(ctx, SCMP_FLTATR_ACT_BADARCH, bad);
    }
    if (rc == 0 && arch != seccomp_arch_native()) {
        rc = seccomp_arch_add(ctx, arch);
        if (rc == 0) rc = seccomp_arch_remove(ctx, SCMP_ARCH_NATIVE);
    }
    if (rc != 0) {
        seccomp_release(ctx);
        return bh_positive(rc);
    }
    *out = ctx;
    return 0;
}

static int bh_add_rule(scmp_filter_ctx ctx, uint32_t arch, const bh_seccomp_rule *r) {
    uint32_t action;
    int rc = bh_action(r->action, r->action_data, &action);
    if (rc != 0) return rc;
    if (r->arg_count > 6) return EINVAL;
    struct scmp_arg_cmp args[6];
    memset(args, 0, sizeof(args));
    for (uint32_t i = 0; i < r->arg_count; i++) {
        enum scmp_compare op;
        rc = bh_compare(r->args[i].op, &op);
        if (rc != 0) return rc;
        args[i].arg = r->args[i].index;
        args[i].op = op;
        args[i].datum_a = r->args[i].value;
        args[i].datum_b = r->args[i].value_two;
    }
    int nr = r->syscall_nr;
    if (arch != seccomp_arch_native()) {
        /* libseccomp translates a number given for another architecture from the native
         * numbering through the call's name; give it the native-space number (a pseudo-number
         * for calls the native architecture lacks) and check where it lands. */
        if (seccomp_syscall_resolve_name_arch(arch, r->name) != r->syscall_nr) return ENOENT;
        nr = seccomp_syscall_resolve_name(r->name);
        if (nr == __NR_SCMP_ERROR) return ENOENT;
    }
    /* Not the _exact variant: like runc, let libseccomp adapt rules to an architecture's
     * multiplexed calls (socketcall and ipc on x86). */
    return bh_positive(seccomp_rule_add_array(ctx, action, nr, r->arg_count, args));
}

static int bh_build(const bh_seccomp_policy *p, scmp_filter_ctx *out, size_t *failed_rule) {
    *failed_rule = SIZE_MAX;
    if (p->arch_count == 0) return EINVAL;
    scmp_filter_ctx merged = NULL;
    for (size_t a = 0; a < p->arch_count; a++) {
        uint32_t arch = p->arches[a];
        scmp_filter_ctx ctx;
        int rc = bh_new_context(p, arch, &ctx);
        if (rc != 0) goto fail;
        for (size_t i = 0; i < p->rule_count; i++) {
            if (p->rules[i].arch != arch) continue;
            rc = bh_add_rule(ctx, arch, &p->rules[i]);
            if (rc != 0) {
                *failed_rule = i;
                seccomp_release(ctx);
                goto fail;
            }
        }
        if (merged == NULL) {
            merged = ctx;
        } else {
            rc = bh_positive(seccomp_merge(merged, ctx)); /* consumes ctx on success */
            if (rc != 0) {
                seccomp_release(ctx);
                goto fail;
            }
        }
        continue;
    fail:
        if (merged != NULL) seccomp_release(merged);
        return rc;
    }
    *out = merged;
    return 0;
}

/* libseccomp 2.5 exports only to a file descriptor: export into a memfd and read it back. */
static int bh_export(const bh_seccomp_policy *p, int pfc, uint8_t **out, size_t *out_len, size_t *failed_rule) {
    *out = NULL;
    *out_len = 0;
    scmp_filter_ctx ctx;
    int rc = bh_build(p, &ctx, failed_rule);
    if (rc != 0) return rc;
    int fd = memfd_create("bulkhead-seccomp", MFD_CLOEXEC);
    if (fd < 0) {
        rc = errno;
        seccomp_release(ctx);
        return rc;
    }
    rc = bh_positive(pfc ? seccomp_export_pfc(ctx, fd) : seccomp_export_bpf(ctx, fd));
    seccomp_release(ctx);
    struct stat st;
    if (rc == 0 && fstat(fd, &st) != 0) rc = errno;
    uint8_t *buf = NULL;
    size_t len = rc == 0 ? (size_t)st.st_size : 0;
    if (rc == 0) {
        buf = malloc(len + 1);
        if (buf == NULL) rc = ENOMEM;
    }
    size_t done = 0;
    while (rc == 0 && done < len) {
        ssize_t n = pread(fd, buf + done, len - done, (off_t)done);
        if (n < 0 && errno == EINTR) continue;
        if (n <= 0) rc = n < 0 ? errno : EIO;
        else done += (size_t)n;
    }
    close(fd);
    if (rc != 0) {
        free(buf);
        return rc;
    }
    buf[len] = 0;
    *out = buf;
    *out_len = len;
    return 0;
}

int bh_seccomp_compile(const bh_seccomp_policy *p, uint8_t **out, size_t *out_len, size_t *failed_rule) {
    return bh_export(p, 0, out, out_len, failed_rule);
}

int bh_seccomp_export_pfc(const bh_seccomp_policy *p, char **out, size_t *out_len, size_t *failed_rule) {
    return bh_export(p, 1, (uint8_t **)out, out_len, failed_rule);
}

void bh_seccomp_free(void *buffer) { free(buffer); }

uint32_t bh_seccomp_native_arch(void) { return seccomp_arch_native(); }

int32_t bh_seccomp_resolve_name(uint32_t arch, const char *name) {
    int nr = seccomp_syscall_resolve_name_arch(arch, name);
    return nr == __NR_SCMP_ERROR ? INT32_MIN : nr;
}

void bh_seccomp_library_version(uint32_t *major, uint32_t *minor, uint32_t *micro) {
    const struct scmp_version *v = seccomp_version();
    *major = v ? v->major : 0;
    *minor = v ? v->minor : 0;
    *micro = v ? v->micro : 0;
}
