/* The fast system-call recorder: eBPF programs assembled here (see bh_recorder_bpf.h).
 *
 * Runs in the launcher, never between clone3 and execve. The bytecode is written with the
 * kernel's instruction macros (as samples/bpf does) and small labels; bh_fast_recorder_open
 * returns the verifier's log when the kernel refuses it. */
#include "bh_recorder_bpf.h"

#include <errno.h>
#include <fcntl.h>
#include <linux/bpf.h>
#include <linux/btf.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#define NR_LIMIT BH_RECORD_NR_LIMIT
/* Slots of the counts map after the 3 * NR_LIMIT counts. */
enum { IDX_OUT_OF_RANGE = 3 * NR_LIMIT, IDX_TASKS, IDX_EXECS, IDX_COUNT };
/* Offsets in the shared value. */
enum { SH_FLAGS = 0, SH_SOCKETS = 8, SH_CLONE = 16, SH_EXES = 24, SH_SIZE = 32 };
/* Executable slots in the kernel (the table's exes[0] is "before the workload's execve"). */
enum { EXE_SLOTS = BH_RECORD_EXE_LIMIT - 1, EXE_UNKNOWN = 0xFFFF };
#define X32_BIT 0x40000000
#define TS_COMPAT 0x0002
/* struct pt_regs (x86_64): where the first argument is. */
#define REGS_DI 112
#define REGS_BX 40

static long sys_bpf(int cmd, union bpf_attr *attr) { return syscall(SYS_bpf, cmd, attr, sizeof *attr); }

/* One map command (lookup, update, delete, next key: `value` is the next key's buffer there, as
 * bpf_attr's union has it): 0 or the errno. */
static int map_op(int cmd, int fd, const void *key, const void *value) {
    union bpf_attr at;
    memset(&at, 0, sizeof at);
    at.map_fd = (uint32_t)fd;
    at.key = (uint64_t)(uintptr_t)key;
    at.value = (uint64_t)(uintptr_t)value;
    at.flags = cmd == BPF_MAP_UPDATE_ELEM ? BPF_ANY : 0;
    return sys_bpf(cmd, &at) < 0 ? errno : 0;
}

void bh_fast_recorder_init(bh_fast_recorder *r) {
    memset(r, 0, sizeof *r);
    r->tids = r->counts = r->shared = r->pers = r->exes = r->first = -1;
    for (int i = 0; i < BH_FAST_PROGS; i++) r->progs[i] = r->links[i] = -1;
    r->ia32 = -1;
}

void bh_fast_recorder_close(bh_fast_recorder *r) {
    for (int i = 0; i < BH_FAST_PROGS; i++) {
        if (r->links[i] >= 0) close(r->links[i]);
        if (r->progs[i] >= 0) close(r->progs[i]);
        r->links[i] = r->progs[i] = -1;
    }
    int *fds[] = {&r->tids, &r->counts, &r->shared, &r->pers, &r->exes, &r->first};
    for (size_t i = 0; i < sizeof fds / sizeof fds[0]; i++) {
        if (*fds[i] >= 0) close(*fds[i]);
        *fds[i] = -1;
    }
}

/* ---------------------------------------------------------------- BTF offsets */

/* Byte offset of `member` in struct `strct` from the kernel's BTF, or -1. */
static long btf_member_offset(const uint8_t *d, size_t len, const char *strct, const char *member) {
    if (len < sizeof(struct btf_header)) return -1;
    struct btf_header h;
    memcpy(&h, d, sizeof h);
    if (h.magic != BTF_MAGIC) return -1;
    size_t tb = (size_t)h.hdr_len + h.type_off, sb = (size_t)h.hdr_len + h.str_off;
    if (tb > len || sb > len || h.type_len > len - tb || h.str_len > len - sb) return -1;
    const char *strs = (const char *)d + sb;
    size_t p = tb, end = tb + h.type_len;
#define NAME_IS(off, want) ((off) < h.str_len && strncmp(strs + (off), (want), h.str_len - (off)) == 0)
    while (p + sizeof(struct btf_type) <= end) {
        struct btf_type t;
        memcpy(&t, d + p, sizeof t);
        p += sizeof t;
        uint32_t kind = BTF_INFO_KIND(t.info), vlen = BTF_INFO_VLEN(t.info);
        size_t extra = 0;
        switch (kind) {
        case BTF_KIND_INT: extra = 4; break;
        case BTF_KIND_ARRAY: extra = sizeof(struct btf_array); break;
        case BTF_KIND_STRUCT:
        case BTF_KIND_UNION: extra = (size_t)vlen * sizeof(struct btf_member); break;
        case BTF_KIND_ENUM: extra = (size_t)vlen * sizeof(struct btf_enum); break;
        case BTF_KIND_FUNC_PROTO: extra = (size_t)vlen * sizeof(struct btf_param); break;
        case BTF_KIND_VAR: extra = sizeof(struct btf_var); break;
        case BTF_KIND_DATASEC: extra = (size_t)vlen * sizeof(struct btf_var_secinfo); break;
        case BTF_KIND_DECL_TAG: extra = sizeof(struct btf_decl_tag); break;
        case BTF_KIND_ENUM64: extra = (size_t)vlen * sizeof(struct btf_enum64); break;
        default: extra = 0;
        }
        if (extra > end - p) return -1;
        if (kind == BTF_KIND_STRUCT && NAME_IS(t.name_off, strct)) {
            for (uint32_t i = 0; i < vlen; i++) {
                struct btf_member m;
                memcpy(&m, d + p + i * sizeof m, sizeof m);
                if (!NAME_IS(m.name_off, member)) continue;
                uint32_t bits = BTF_INFO_KFLAG(t.info) ? BTF_MEMBER_BIT_OFFSET(m.offset) : m.offset;
                if (bits % 8) return -1;
                return (long)(bits / 8);
            }
            return -1;
        }
        p += extra;
    }
#undef NAME_IS
    return -1;
}

static int read_btf_offsets(bh_fast_recorder *r, const char **step) {
    *step = "read the kernel's BTF (/sys/kernel/btf/vmlinux, CONFIG_DEBUG_INFO_BTF)";
    int fd = open("/sys/kernel/btf/vmlinux", O_RDONLY | O_CLOEXEC);
    if (fd < 0) return errno;
    size_t cap = 1 << 22, len = 0;
    uint8_t *buf = malloc(cap);
    int err = 0;
    while (buf) {
        if (len == cap) {
            if (cap > (1u << 28)) { err = EFBIG; break; }
            uint8_t *nb = realloc(buf, cap * 2);
            if (!nb) { err = ENOMEM; break; }
            buf = nb;
            cap *= 2;
        }
        ssize_t n = read(fd, buf + len, cap - len);
        if (n < 0) {
            if (errno == EINTR) continue;
            err = errno;
            break;
        }
        if (n == 0) break;
        len += (size_t)n;
    }
    close(fd);
    if (!buf) return ENOMEM;
    if (err) { free(buf); return err; }
    long ti = btf_member_offset(buf, len, "task_struct", "thread_info");
    long st = btf_member_offset(buf, len, "thread_info", "status");
    long pid = btf_member_offset(buf, len, "task_struct", "pid");
    long filename = btf_member_offset(buf, len, "linux_binprm", "filename");
    free(buf);
    *step = "find task_struct.thread_info.status, task_struct.pid and linux_binprm.filename in the kernel's BTF";
    if (ti < 0 || st < 0 || pid < 0 || filename < 0 || ti + st > 65535 || pid > 65535 || filename > 65535) return ENOENT;
    r->status_off = (uint32_t)(ti + st);
    r->pid_off = (uint32_t)pid;
    r->filename_off = (uint32_t)filename;
    return 0;
}

/* ---------------------------------------------------------------- the assembler */

#define INSN(c, d, s, o, i) ((struct bpf_insn){.code = (c), .dst_reg = (d), .src_reg = (s), .off = (o), .imm = (i)})
#define MOV_REG(d, s) INSN(BPF_ALU64 | BPF_MOV | BPF_X, d, s, 0, 0)
#define MOV_IMM(d, i) INSN(BPF_ALU64 | BPF_MOV | BPF_K, d, 0, 0, i)
#define ADD_IMM(d, i) INSN(BPF_ALU64 | BPF_ADD | BPF_K, d, 0, 0, i)
#define ADD_REG(d, s) INSN(BPF_ALU64 | BPF_ADD | BPF_X, d, s, 0, 0)
#define AND_IMM(d, i) INSN(BPF_ALU64 | BPF_AND | BPF_K, d, 0, 0, i)
#define LSH_REG(d, s) INSN(BPF_ALU64 | BPF_LSH | BPF_X, d, s, 0, 0)
#define LDX(sz, d, s, o) INSN(BPF_LDX | (sz) | BPF_MEM, d, s, o, 0)
#define STX(sz, d, s, o) INSN(BPF_STX | (sz) | BPF_MEM, d, s, o, 0)
#define ST(sz, d, o, i) INSN(BPF_ST | (sz) | BPF_MEM, d, 0, o, i)
#define ATOMIC_OR64(d, s, o) INSN(BPF_STX | BPF_DW | BPF_ATOMIC, d, s, o, BPF_OR)
#define ATOMIC_FETCH_ADD64(d, s, o) INSN(BPF_STX | BPF_DW | BPF_ATOMIC, d, s, o, BPF_ADD | BPF_FETCH)
#define ATOMIC_CMPXCHG32(d, s, o) INSN(BPF_STX | BPF_W | BPF_ATOMIC, d, s, o, BPF_CMPXCHG)
#define CALL(f) INSN(BPF_JMP | BPF_CALL, 0, 0, 0, f)
#define EXIT() INSN(BPF_JMP | BPF_EXIT, 0, 0, 0, 0)

enum { MAX_INSNS = 512, MAX_LABELS = 32 };
typedef struct asm_ctx {
    struct bpf_insn insn[MAX_INSNS];
    int n;
    int label[MAX_LABELS];   /* instruction index, -1 unset */
    int fix_at[MAX_INSNS];   /* jump instruction index */
    int fix_label[MAX_INSNS];
    int fixes;
    int overflow;
} asm_ctx;

static void a_init(asm_ctx *a) {
    memset(a, 0, sizeof *a);
    for (int i = 0; i < MAX_LABELS; i++) a->label[i] = -1;
}
static void emit(asm_ctx *a, struct bpf_insn i) {
    if (a->n >= MAX_INSNS) { a->overflow = 1; return; }
    a->insn[a->n++] = i;
}
static void mark(asm_ctx *a, int l) { a->label[l] = a->n; }
/* A conditional jump (op with an immediate) or, with op = BPF_JA, an unconditional one, to label l. */
static void jmp_imm(asm_ctx *a, int op, int reg, int32_t imm, int l) {
    if (a->fixes >= MAX_INSNS) { a->overflow = 1; return; }
    a->fix_at[a->fixes] = a->n;
    a->fix_label[a->fixes++] = l;
    emit(a, INSN(BPF_JMP | op | BPF_K, reg, 0, 0, imm));
}
static void jmp_reg(asm_ctx *a, int op, int reg, int src, int l) {
    if (a->fixes >= MAX_INSNS) { a->overflow = 1; return; }
    a->fix_at[a->fixes] = a->n;
    a->fix_label[a->fixes++] = l;
    emit(a, INSN(BPF_JMP | op | BPF_X, reg, src, 0, 0));
}
static void ld_map(asm_ctx *a, int reg, int fd) {
    emit(a, INSN(BPF_LD | BPF_DW | BPF_IMM, reg, BPF_PSEUDO_MAP_FD, 0, fd));
    emit(a, INSN(0, 0, 0, 0, 0));
}
static int a_finish(asm_ctx *a) {
    if (a->overflow) return E2BIG;
    for (int i = 0; i < a->fixes; i++) {
        int l = a->label[a->fix_label[i]];
        if (l < 0) return EINVAL;
        a->insn[a->fix_at[i]].off = (int16_t)(l - a->fix_at[i] - 1);
    }
    return 0;
}

/* *(u32 *)(r10 + off) = tid of the current task. Clobbers r0-r5. */
static void emit_store_tid(asm_ctx *a, int16_t off) {
    emit(a, CALL(BPF_FUNC_get_current_pid_tgid));
    emit(a, STX(BPF_W, BPF_REG_10, BPF_REG_0, off));
}
/* r0 = lookup(map, r10 + keyoff); if NULL goto l. */
static void emit_lookup(asm_ctx *a, int fd, int16_t keyoff, int l) {
    ld_map(a, BPF_REG_1, fd);
    emit(a, MOV_REG(BPF_REG_2, BPF_REG_10));
    emit(a, ADD_IMM(BPF_REG_2, keyoff));
    emit(a, CALL(BPF_FUNC_map_lookup_elem));
    jmp_imm(a, BPF_JEQ, BPF_REG_0, 0, l);
}
/* counts[idx in r10-32] += 1, the slot set by the caller; goto l when done. Per-CPU: no atomics. */
static void emit_count(asm_ctx *a, const bh_fast_recorder *r, int l) {
    emit_lookup(a, r->counts, -32, l);
    emit(a, LDX(BPF_DW, BPF_REG_1, BPF_REG_0, 0));
    emit(a, ADD_IMM(BPF_REG_1, 1));
    emit(a, STX(BPF_DW, BPF_REG_0, BPF_REG_1, 0));
}
/* shared[off] |= r8 (atomic); goto l if the value is missing. */
static void emit_shared_or(asm_ctx *a, const bh_fast_recorder *r, int16_t off, int l) {
    emit(a, ST(BPF_W, BPF_REG_10, -36, 0));
    emit_lookup(a, r->shared, -36, l);
    emit(a, ATOMIC_OR64(BPF_REG_0, BPF_REG_8, off));
}

/* r0 = update(map, r10 + keyoff, r10 + valoff, BPF_ANY). */
static void emit_update(asm_ctx *a, int fd, int16_t keyoff, int16_t valoff) {
    ld_map(a, BPF_REG_1, fd);
    emit(a, MOV_REG(BPF_REG_2, BPF_REG_10));
    emit(a, ADD_IMM(BPF_REG_2, keyoff));
    emit(a, MOV_REG(BPF_REG_3, BPF_REG_10));
    emit(a, ADD_IMM(BPF_REG_3, valoff));
    emit(a, MOV_IMM(BPF_REG_4, BPF_ANY));
    emit(a, CALL(BPF_FUNC_map_update_elem));
}
/* delete(map, r10 + keyoff). */
static void emit_delete(asm_ctx *a, int fd, int16_t keyoff) {
    ld_map(a, BPF_REG_1, fd);
    emit(a, MOV_REG(BPF_REG_2, BPF_REG_10));
    emit(a, ADD_IMM(BPF_REG_2, keyoff));
    emit(a, CALL(BPF_FUNC_map_delete_elem));
}
/* *(r10 + stackoff) = size bytes at field_off in the kernel object whose pointer is ctx->args[arg]
 * (r6 holds ctx); r0 = the helper's result. */
static void emit_read_field(asm_ctx *a, int arg, int32_t field_off, int16_t stackoff, int32_t size) {
    emit(a, LDX(BPF_DW, BPF_REG_3, BPF_REG_6, (int16_t)(8 * arg)));
    emit(a, ADD_IMM(BPF_REG_3, field_off));
    emit(a, MOV_REG(BPF_REG_1, BPF_REG_10));
    emit(a, ADD_IMM(BPF_REG_1, stackoff));
    emit(a, MOV_IMM(BPF_REG_2, size));
    emit(a, CALL(BPF_FUNC_probe_read_kernel));
}

/* ---------------------------------------------------------------- the programs */

enum { L_EXIT, L_WATCH, L_GATE, L_COUNTING, L_I386, L_HAVE_IDX, L_OOR, L_FAIL, L_WIDE, L_SOCK0, L_PERS0 = L_SOCK0 + 2,
       L_CLONE0 = L_PERS0 + 2, L_COUNT, L_MOVE, L_LAST };
_Static_assert(L_LAST <= MAX_LABELS, "labels");

/* r8 = the first argument of the call (pt_regs at ctx->args[0], register offset in r7). */
static void emit_arg0(asm_ctx *a) {
    emit(a, LDX(BPF_DW, BPF_REG_3, BPF_REG_6, 0));
    emit(a, ADD_REG(BPF_REG_3, BPF_REG_7));
    emit(a, MOV_REG(BPF_REG_1, BPF_REG_10));
    emit(a, ADD_IMM(BPF_REG_1, -24));
    emit(a, MOV_IMM(BPF_REG_2, 8));
    emit(a, CALL(BPF_FUNC_probe_read_kernel));
    emit(a, LDX(BPF_DW, BPF_REG_8, BPF_REG_10, -24));
}

/* raw_syscalls:sys_enter(struct pt_regs *regs, long id). */
static void prog_enter(asm_ctx *a, const bh_fast_recorder *r, const bh_record_watch *w) {
    emit(a, MOV_REG(BPF_REG_6, BPF_REG_1));
    emit_store_tid(a, -4);
    emit_lookup(a, r->tids, -4, L_EXIT);
    emit(a, LDX(BPF_W, BPF_REG_1, BPF_REG_0, 4)); /* the task's executable */
    emit(a, STX(BPF_W, BPF_REG_10, BPF_REG_1, -16));
    emit(a, LDX(BPF_DW, BPF_REG_8, BPF_REG_6, 8)); /* id */
    emit(a, LDX(BPF_W, BPF_REG_1, BPF_REG_0, 0));
    jmp_imm(a, BPF_JNE, BPF_REG_1, 0, L_COUNTING);
    /* Waiting: the launcher's C, until the workload's execve (x86_64 execve or execveat). */
    jmp_imm(a, BPF_JEQ, BPF_REG_8, 59, L_GATE);
    jmp_imm(a, BPF_JEQ, BPF_REG_8, 322, L_GATE);
    jmp_imm(a, BPF_JA, 0, 0, L_EXIT);
    mark(a, L_GATE);
    emit(a, ST(BPF_W, BPF_REG_0, 0, 1));
    mark(a, L_COUNTING);
    /* TS_COMPAT: an i386 call, whatever the mode of the code that made it. */
    emit(a, ST(BPF_W, BPF_REG_10, -8, 0));
    emit(a, CALL(BPF_FUNC_get_current_task));
    emit(a, MOV_REG(BPF_REG_3, BPF_REG_0));
    emit(a, ADD_IMM(BPF_REG_3, (int32_t)r->status_off));
    emit(a, MOV_REG(BPF_REG_1, BPF_REG_10));
    emit(a, ADD_IMM(BPF_REG_1, -8));
    emit(a, MOV_IMM(BPF_REG_2, 4));
    emit(a, CALL(BPF_FUNC_probe_read_kernel));
    emit(a, LDX(BPF_W, BPF_REG_1, BPF_REG_10, -8));
    emit(a, AND_IMM(BPF_REG_1, TS_COMPAT));
    jmp_imm(a, BPF_JNE, BPF_REG_1, 0, L_I386);
    /* x86_64 (idx = nr) or x32 (nr with the x32 bit; idx = 2 * NR_LIMIT + nr). */
    emit(a, MOV_IMM(BPF_REG_7, REGS_DI));
    emit(a, MOV_REG(BPF_REG_9, BPF_REG_8));
    jmp_imm(a, BPF_JLT, BPF_REG_9, NR_LIMIT, L_HAVE_IDX);
    emit(a, ADD_IMM(BPF_REG_9, -X32_BIT));
    jmp_imm(a, BPF_JGE, BPF_REG_9, NR_LIMIT, L_OOR);
    emit(a, ADD_IMM(BPF_REG_9, 2 * NR_LIMIT));
    jmp_imm(a, BPF_JA, 0, 0, L_HAVE_IDX);
    mark(a, L_I386);
    emit(a, MOV_IMM(BPF_REG_7, REGS_BX));
    emit(a, MOV_REG(BPF_REG_9, BPF_REG_8));
    jmp_imm(a, BPF_JGE, BPF_REG_9, NR_LIMIT, L_OOR);
    emit(a, ADD_IMM(BPF_REG_9, NR_LIMIT));
    mark(a, L_HAVE_IDX);
    emit(a, STX(BPF_W, BPF_REG_10, BPF_REG_9, -32));
    emit_lookup(a, r->counts, -32, L_EXIT);
    emit(a, LDX(BPF_DW, BPF_REG_1, BPF_REG_0, 0));
    emit(a, MOV_REG(BPF_REG_2, BPF_REG_1));
    emit(a, ADD_IMM(BPF_REG_2, 1));
    emit(a, STX(BPF_DW, BPF_REG_0, BPF_REG_2, 0));
    jmp_imm(a, BPF_JNE, BPF_REG_1, 0, L_WATCH);
    /* First on this CPU: the first executable, if no CPU has one yet. */
    emit_lookup(a, r->first, -32, L_EXIT);
    emit(a, MOV_REG(BPF_REG_1, BPF_REG_0));
    emit(a, LDX(BPF_W, BPF_REG_2, BPF_REG_10, -16));
    emit(a, ADD_IMM(BPF_REG_2, 1));
    emit(a, MOV_IMM(BPF_REG_0, 0));
    emit(a, ATOMIC_CMPXCHG32(BPF_REG_1, BPF_REG_2, 0));
    mark(a, L_WATCH);
    /* The calls whose first argument becomes a rule. */
    for (int arch = 0; arch < BH_RECORD_ARCHES; arch++) {
        int32_t base = arch * NR_LIMIT;
        if (w->socket_nr[arch] >= 0 && w->socket_nr[arch] < NR_LIMIT)
            jmp_imm(a, BPF_JEQ, BPF_REG_9, base + w->socket_nr[arch], L_SOCK0);
        if (w->personality_nr[arch] >= 0 && w->personality_nr[arch] < NR_LIMIT)
            jmp_imm(a, BPF_JEQ, BPF_REG_9, base + w->personality_nr[arch], L_PERS0);
        if (w->clone_nr[arch] >= 0 && w->clone_nr[arch] < NR_LIMIT)
            jmp_imm(a, BPF_JEQ, BPF_REG_9, base + w->clone_nr[arch], L_CLONE0);
    }
    jmp_imm(a, BPF_JA, 0, 0, L_EXIT);

    mark(a, L_SOCK0);
    emit_arg0(a);
    jmp_imm(a, BPF_JGE, BPF_REG_8, 64, L_WIDE);
    emit(a, MOV_IMM(BPF_REG_1, 1));
    emit(a, LSH_REG(BPF_REG_1, BPF_REG_8));
    emit(a, MOV_REG(BPF_REG_8, BPF_REG_1));
    emit_shared_or(a, r, SH_SOCKETS, L_EXIT);
    jmp_imm(a, BPF_JA, 0, 0, L_EXIT);
    mark(a, L_WIDE);
    emit(a, MOV_IMM(BPF_REG_8, BH_RECORD_SOCKET_WIDE));
    emit_shared_or(a, r, SH_FLAGS, L_EXIT);
    jmp_imm(a, BPF_JA, 0, 0, L_EXIT);

    mark(a, L_PERS0);
    emit_arg0(a);
    emit(a, STX(BPF_DW, BPF_REG_10, BPF_REG_8, -48));
    emit(a, ST(BPF_W, BPF_REG_10, -52, 1));
    emit_update(a, r->pers, -48, -52);
    jmp_imm(a, BPF_JEQ, BPF_REG_0, 0, L_EXIT);
    emit(a, MOV_IMM(BPF_REG_8, BH_RECORD_PERSONALITY_FULL));
    emit_shared_or(a, r, SH_FLAGS, L_EXIT);
    jmp_imm(a, BPF_JA, 0, 0, L_EXIT);

    mark(a, L_CLONE0);
    emit_arg0(a);
    emit_shared_or(a, r, SH_CLONE, L_EXIT);
    jmp_imm(a, BPF_JA, 0, 0, L_EXIT);

    /* A number no table has (>= NR_LIMIT, with or without the x32 bit): ENOSYS, counted apart. */
    mark(a, L_OOR);
    emit(a, ST(BPF_W, BPF_REG_10, -32, IDX_OUT_OF_RANGE));
    emit_count(a, r, L_EXIT);

    mark(a, L_EXIT);
    emit(a, MOV_IMM(BPF_REG_0, 0));
    emit(a, EXIT());
}

/* The end of the follower programs: counts[idx] += 1 and return; at L_FAIL, flag a lost task. */
static void emit_count_or_lost(asm_ctx *a, const bh_fast_recorder *r, int32_t idx) {
    emit(a, ST(BPF_W, BPF_REG_10, -32, idx));
    emit_count(a, r, L_EXIT);
    jmp_imm(a, BPF_JA, 0, 0, L_EXIT);
    mark(a, L_FAIL);
    emit(a, MOV_IMM(BPF_REG_8, BH_FAST_TASKS_LOST));
    emit_shared_or(a, r, SH_FLAGS, L_EXIT);
    mark(a, L_EXIT);
    emit(a, MOV_IMM(BPF_REG_0, 0));
    emit(a, EXIT());
}

/* sched_process_fork(struct task_struct *parent, struct task_struct *child): follow the child. */
static void prog_fork(asm_ctx *a, const bh_fast_recorder *r) {
    emit(a, MOV_REG(BPF_REG_6, BPF_REG_1));
    emit_store_tid(a, -4);
    emit_lookup(a, r->tids, -4, L_EXIT);
    emit(a, LDX(BPF_DW, BPF_REG_1, BPF_REG_0, 0));
    emit(a, STX(BPF_DW, BPF_REG_10, BPF_REG_1, -24));
    emit(a, ST(BPF_W, BPF_REG_10, -12, 0));
    emit_read_field(a, 1, (int32_t)r->pid_off, -12, 4); /* child->pid */
    jmp_imm(a, BPF_JNE, BPF_REG_0, 0, L_FAIL);
    emit_update(a, r->tids, -12, -24);
    jmp_imm(a, BPF_JNE, BPF_REG_0, 0, L_FAIL);
    emit_count_or_lost(a, r, IDX_TASKS);
}

/* sched_process_exec(struct task_struct *p, pid_t old_pid, struct linux_binprm *bprm): a thread
 * that execs takes its leader's tid (de_thread); move its entry. Counts the exec. */
static void prog_exec(asm_ctx *a, const bh_fast_recorder *r) {
    emit(a, MOV_REG(BPF_REG_6, BPF_REG_1));
    emit(a, LDX(BPF_DW, BPF_REG_1, BPF_REG_6, 8));
    emit(a, STX(BPF_W, BPF_REG_10, BPF_REG_1, -4));
    emit_lookup(a, r->tids, -4, L_EXIT);
    emit(a, LDX(BPF_DW, BPF_REG_1, BPF_REG_0, 0));
    emit(a, STX(BPF_DW, BPF_REG_10, BPF_REG_1, -24)); /* {state, executable} */
    emit(a, LDX(BPF_W, BPF_REG_7, BPF_REG_0, 0));
    /* A slot for the path the execve named: the next one, or none when they are used up. */
    emit(a, ST(BPF_W, BPF_REG_10, -36, 0));
    emit_lookup(a, r->shared, -36, L_EXIT);
    emit(a, MOV_IMM(BPF_REG_9, 1));
    emit(a, ATOMIC_FETCH_ADD64(BPF_REG_0, BPF_REG_9, SH_EXES));
    emit(a, ST(BPF_W, BPF_REG_10, -20, EXE_UNKNOWN));
    jmp_imm(a, BPF_JGE, BPF_REG_9, EXE_SLOTS, L_WIDE);
    emit(a, STX(BPF_W, BPF_REG_10, BPF_REG_9, -40));
    emit_read_field(a, 2, (int32_t)r->filename_off, -48, 8); /* bprm->filename */
    jmp_imm(a, BPF_JNE, BPF_REG_0, 0, L_MOVE);
    emit_lookup(a, r->exes, -40, L_MOVE);
    emit(a, MOV_REG(BPF_REG_1, BPF_REG_0));
    emit(a, MOV_IMM(BPF_REG_2, BH_RECORD_PATH_MAX));
    emit(a, LDX(BPF_DW, BPF_REG_3, BPF_REG_10, -48));
    emit(a, CALL(BPF_FUNC_probe_read_kernel_str));
    emit(a, ADD_IMM(BPF_REG_9, 1));
    emit(a, STX(BPF_W, BPF_REG_10, BPF_REG_9, -20));
    jmp_imm(a, BPF_JA, 0, 0, L_MOVE);
    mark(a, L_WIDE);
    emit(a, MOV_IMM(BPF_REG_8, BH_RECORD_EXES_FULL));
    emit_shared_or(a, r, SH_FLAGS, L_MOVE);
    /* The entry, with its new executable, under the task's tid now (a thread that execed has
     * its leader's); the old tid's entry goes. */
    mark(a, L_MOVE);
    emit_store_tid(a, -12);
    emit_update(a, r->tids, -12, -24);
    jmp_imm(a, BPF_JNE, BPF_REG_0, 0, L_FAIL);
    emit(a, LDX(BPF_W, BPF_REG_1, BPF_REG_10, -12));
    emit(a, LDX(BPF_W, BPF_REG_2, BPF_REG_10, -4));
    jmp_reg(a, BPF_JEQ, BPF_REG_1, BPF_REG_2, L_COUNT);
    emit_delete(a, r->tids, -4);
    mark(a, L_COUNT);
    jmp_imm(a, BPF_JEQ, BPF_REG_7, 0, L_EXIT);
    emit_count_or_lost(a, r, IDX_EXECS);
}

/* sched_process_exit(struct task_struct *p, ...): forget the task before its tid is freed. */
static void prog_exit(asm_ctx *a, const bh_fast_recorder *r) {
    emit_store_tid(a, -4);
    emit_delete(a, r->tids, -4);
    emit(a, MOV_IMM(BPF_REG_0, 0));
    emit(a, EXIT());
}

/* ---------------------------------------------------------------- open */

static int map_create(int type, uint32_t key, uint32_t value, uint32_t max, uint32_t flags, const char *name, int *fd) {
    union bpf_attr at;
    memset(&at, 0, sizeof at);
    at.map_type = (uint32_t)type;
    at.key_size = key;
    at.value_size = value;
    at.max_entries = max;
    at.map_flags = flags;
    strncpy(at.map_name, name, sizeof at.map_name - 1);
    long r = sys_bpf(BPF_MAP_CREATE, &at);
    if (r < 0) return errno;
    *fd = (int)r;
    return 0;
}

static int load_and_attach(bh_fast_recorder *r, int i, asm_ctx *a, const char *tp, char *log, uint32_t log_size, int *attach_step) {
    int err = a_finish(a);
    if (err) return err;
    union bpf_attr at;
    memset(&at, 0, sizeof at);
    at.prog_type = BPF_PROG_TYPE_RAW_TRACEPOINT;
    at.insns = (uint64_t)(uintptr_t)a->insn;
    at.insn_cnt = (uint32_t)a->n;
    at.license = (uint64_t)(uintptr_t)"GPL"; /* probe_read_kernel is GPL-only */
    at.log_buf = (uint64_t)(uintptr_t)log;
    at.log_size = log_size;
    at.log_level = log_size ? 1 : 0;
    strncpy(at.prog_name, "bh_rec", sizeof at.prog_name - 1);
    long fd = sys_bpf(BPF_PROG_LOAD, &at);
    if (fd < 0 && errno == ENOSPC && log_size) {
        /* The log did not fit; the load itself may have been fine. */
        at.log_level = 0; at.log_buf = 0; at.log_size = 0;
        fd = sys_bpf(BPF_PROG_LOAD, &at);
    }
    if (fd < 0) return errno;
    r->progs[i] = (int)fd;
    *attach_step = 1;
    memset(&at, 0, sizeof at);
    at.raw_tracepoint.name = (uint64_t)(uintptr_t)tp;
    at.raw_tracepoint.prog_fd = (uint32_t)fd;
    long link = sys_bpf(BPF_RAW_TRACEPOINT_OPEN, &at);
    if (link < 0) return errno;
    r->links[i] = (int)link;
    return 0;
}

static uint32_t possible_cpus(void) {
    int fd = open("/sys/devices/system/cpu/possible", O_RDONLY | O_CLOEXEC);
    if (fd < 0) return 0;
    char buf[128];
    ssize_t n = read(fd, buf, sizeof buf - 1);
    close(fd);
    if (n <= 0) return 0;
    buf[n] = 0;
    /* "0-N" or "0-A,B-C": the highest number + 1. */
    uint32_t max = 0, cur = 0;
    int have = 0;
    for (ssize_t i = 0; i <= n; i++) {
        char c = buf[i];
        if (c >= '0' && c <= '9') { cur = cur * 10 + (uint32_t)(c - '0'); have = 1; if (cur > 65536) return 0; }
        else { if (have && cur > max) max = cur; cur = 0; have = 0; }
    }
    return max + 1;
}

int bh_fast_recorder_open(bh_fast_recorder *r, const bh_record_watch *w, uint32_t task_capacity, const char **step,
                          char *log, uint32_t log_size) {
    if (log_size) log[0] = 0;
    int err = read_btf_offsets(r, step);
    if (err) return err;
    *step = "count the possible CPUs (/sys/devices/system/cpu/possible)";
    r->ncpu = possible_cpus();
    if (r->ncpu == 0) return EINVAL;
    uint32_t cap = task_capacity ? task_capacity : BH_FAST_DEFAULT_TASKS;
    *step = "bpf(BPF_MAP_CREATE) the recorder's maps";
    if ((err = map_create(BPF_MAP_TYPE_HASH, 4, 8, cap, BPF_F_NO_PREALLOC, "bh_rec_tids", &r->tids))) return err;
    if ((err = map_create(BPF_MAP_TYPE_PERCPU_ARRAY, 4, 8, IDX_COUNT, 0, "bh_rec_counts", &r->counts))) return err;
    if ((err = map_create(BPF_MAP_TYPE_ARRAY, 4, SH_SIZE, 1, 0, "bh_rec_shared", &r->shared))) return err;
    if ((err = map_create(BPF_MAP_TYPE_HASH, 8, 4, BH_RECORD_VALUE_LIMIT, 0, "bh_rec_pers", &r->pers))) return err;
    if ((err = map_create(BPF_MAP_TYPE_ARRAY, 4, BH_RECORD_PATH_MAX, EXE_SLOTS, 0, "bh_rec_exes", &r->exes))) return err;
    if ((err = map_create(BPF_MAP_TYPE_ARRAY, 4, 4, 3 * NR_LIMIT, 0, "bh_rec_first", &r->first))) return err;
    static const char *tps[BH_FAST_PROGS] = {"sched_process_fork", "sched_process_exec", "sched_process_exit", "sys_enter"};
    static const char *load_steps[BH_FAST_PROGS] = {
        "bpf(BPF_PROG_LOAD) the recorder's sched_process_fork program",
        "bpf(BPF_PROG_LOAD) the recorder's sched_process_exec program",
        "bpf(BPF_PROG_LOAD) the recorder's sched_process_exit program",
        "bpf(BPF_PROG_LOAD) the recorder's sys_enter program",
    };
    static const char *attach_steps[BH_FAST_PROGS] = {
        "bpf(BPF_RAW_TRACEPOINT_OPEN) sched_process_fork",
        "bpf(BPF_RAW_TRACEPOINT_OPEN) sched_process_exec",
        "bpf(BPF_RAW_TRACEPOINT_OPEN) sched_process_exit",
        "bpf(BPF_RAW_TRACEPOINT_OPEN) sys_enter",
    };
    asm_ctx *a = malloc(sizeof *a);
    if (!a) return ENOMEM;
    /* Followers first: no task is missed between the attachments (nothing is followed yet anyway). */
    for (int i = 0; i < BH_FAST_PROGS; i++) {
        a_init(a);
        switch (i) {
        case 0: prog_fork(a, r); break;
        case 1: prog_exec(a, r); break;
        case 2: prog_exit(a, r); break;
        default: prog_enter(a, r, w); break;
        }
        int attaching = 0;
        err = load_and_attach(r, i, a, tps[i], log, log_size, &attaching);
        *step = attaching ? attach_steps[i] : load_steps[i];
        if (err) break;
    }
    free(a);
    return err;
}

int bh_fast_recorder_follow(bh_fast_recorder *r, int32_t pid) {
    uint32_t key = (uint32_t)pid, value[2] = {0, 0};
    return map_op(BPF_MAP_UPDATE_ELEM, r->tids, &key, value);
}

/* The key after `key` (NULL: the first) of a hash map into `next`: 0, ENOENT at the end, or an errno. */
static int next_key(int fd, const void *key, void *next) { return map_op(BPF_MAP_GET_NEXT_KEY, fd, key, next); }

int bh_fast_recorder_followed(const bh_fast_recorder *r, uint32_t *count) {
    uint32_t key = 0, n = 0;
    int err;
    while ((err = next_key(r->tids, n ? &key : NULL, &key)) == 0) n++;
    if (err != ENOENT) return err;
    *count = n;
    return 0;
}

/* ---------------------------------------------------------------- read */

static int lookup(int fd, const void *key, void *value) { return map_op(BPF_MAP_LOOKUP_ELEM, fd, key, value); }
static int update(int fd, const void *key, const void *value) { return map_op(BPF_MAP_UPDATE_ELEM, fd, key, value); }

/* The sum over CPUs of counts[idx]. */
static int read_count(const bh_fast_recorder *r, uint64_t *percpu, uint32_t idx, uint64_t *sum) {
    int err = lookup(r->counts, &idx, percpu);
    if (err) return err;
    uint64_t s = 0;
    for (uint32_t c = 0; c < r->ncpu; c++) s += percpu[c];
    *sum = s;
    return 0;
}

/* The executables the exec program saved (`used` slots taken) and each call's first one. */
static int read_executables(const bh_fast_recorder *r, bh_record_table *t, uint64_t used) {
    t->exe_count = 0;
    bh_record_intern_exe(t, "(bulkhead, before the workload's execve)");
    uint32_t slots = used < EXE_SLOTS ? (uint32_t)used : EXE_SLOTS;
    uint16_t index[EXE_SLOTS];
    char path[BH_RECORD_PATH_MAX];
    int err;
    for (uint32_t j = 0; j < slots; j++) {
        if ((err = lookup(r->exes, &j, path))) return err;
        path[BH_RECORD_PATH_MAX - 1] = 0;
        index[j] = bh_record_intern_exe(t, path);
    }
    for (uint32_t idx = 0; idx < 3 * NR_LIMIT; idx++) {
        uint32_t v = 0;
        if ((err = lookup(r->first, &idx, &v))) return err;
        uint16_t fe = 0;
        if (v == 1) fe = 1; /* executable 0: before the workload's execve */
        else if (v >= 2 && v - 2 < slots) fe = index[v - 2];
        t->first_exe[idx / NR_LIMIT][idx % NR_LIMIT] = fe;
    }
    return 0;
}

int bh_fast_recorder_read(const bh_fast_recorder *r, bh_record_table *t) {
    uint64_t *percpu = calloc(r->ncpu, sizeof(uint64_t));
    if (!percpu) return ENOMEM;
    int err = 0;
    uint64_t entries = 0;
    for (uint32_t arch = 0; arch < BH_RECORD_ARCHES && !err; arch++) {
        for (uint32_t nr = 0; nr < NR_LIMIT; nr++) {
            uint64_t v = 0;
            if ((err = read_count(r, percpu, arch * NR_LIMIT + nr, &v))) break;
            t->counts[arch][nr] = v;
            entries += v;
        }
    }
    uint64_t oor = 0, tasks = 0, execs = 0;
    if (!err) err = read_count(r, percpu, IDX_OUT_OF_RANGE, &oor);
    if (!err) err = read_count(r, percpu, IDX_TASKS, &tasks);
    if (!err) err = read_count(r, percpu, IDX_EXECS, &execs);
    free(percpu);
    if (err) return err;
    t->out_of_range[0] = oor;
    t->entries = entries + oor;
    t->stops = 0;
    t->tasks = tasks;
    t->execs = execs;
    uint32_t zero = 0;
    uint64_t shared[SH_SIZE / 8];
    if ((err = lookup(r->shared, &zero, shared))) return err;
    t->overflow |= (uint32_t)shared[SH_FLAGS / 8];
    t->socket_families = shared[SH_SOCKETS / 8];
    t->clone_flags = shared[SH_CLONE / 8];
    if ((err = read_executables(r, t, shared[SH_EXES / 8]))) return err;
    /* Personality values: walk the small hash. */
    uint64_t key = 0;
    t->personality_count = 0;
    while ((err = next_key(r->pers, t->personality_count ? &key : NULL, &key)) == 0) {
        if (t->personality_count >= BH_RECORD_VALUE_LIMIT) { t->overflow |= BH_RECORD_PERSONALITY_FULL; return 0; }
        t->personalities[t->personality_count++] = key;
    }
    return err == ENOENT ? 0 : err;
}

/* ---------------------------------------------------------------- calibration */

static int clear_counters(const bh_fast_recorder *r) {
    uint64_t *zero = calloc(r->ncpu, sizeof(uint64_t));
    if (!zero) return ENOMEM;
    int err = 0;
    for (uint32_t idx = 0; idx < IDX_COUNT && !err; idx++) err = update(r->counts, &idx, zero);
    free(zero);
    if (err) return err;
    uint32_t none = 0;
    for (uint32_t idx = 0; idx < 3 * NR_LIMIT && !err; idx++) err = update(r->first, &idx, &none);
    if (err) return err;
    uint32_t k = 0;
    uint64_t shared[SH_SIZE / 8] = {0};
    if ((err = update(r->shared, &k, shared))) return err;
    /* Personality values: delete every key. */
    uint64_t key = 0;
    while ((err = next_key(r->pers, NULL, &key)) == 0) {
        if ((err = map_op(BPF_MAP_DELETE_ELEM, r->pers, &key, NULL))) return err;
    }
    return err == ENOENT ? 0 : err;
}

/* The calibration child: raw system calls only (the launcher is multi-threaded). */
static __attribute__((noreturn)) void calibration_child(int go) {
    char c;
    while (read(go, &c, 1) < 0 && errno == EINTR) {}
    /* The gate: the first execve (it fails: an empty path) makes this task count. */
    syscall(SYS_execve, "", (char *const[]){NULL}, (char *const[]){NULL});
    syscall(SYS_getpid);
    long pid = syscall(SYS_fork);
    if (pid == 0) { syscall(SYS_getppid); syscall(SYS_exit_group, 0); }
    if (pid > 0) { int st; while (syscall(SYS_wait4, pid, &st, 0, NULL) < 0 && errno == EINTR) {} }
    long ret;
    __asm__ volatile("int $0x80" : "=a"(ret) : "a"(20L) : "memory"); /* i386 getpid: SIGSEGV without IA32 emulation */
    (void)ret;
    syscall(SYS_exit_group, 0);
    __builtin_unreachable();
}

int bh_fast_recorder_calibrate(bh_fast_recorder *r, const char **step) {
    int go[2];
    *step = "calibrate the fast recorder: pipe";
    if (pipe2(go, O_CLOEXEC) < 0) return errno;
    *step = "calibrate the fast recorder: fork a calibration child";
    long pid = syscall(SYS_clone, SIGCHLD, 0, NULL, NULL, 0);
    if (pid < 0) { int e = errno; close(go[0]); close(go[1]); return e; }
    if (pid == 0) { close(go[1]); calibration_child(go[0]); }
    close(go[0]);
    int err = bh_fast_recorder_follow(r, (int32_t)pid);
    *step = "calibrate the fast recorder: follow the calibration child";
    if (!err && write(go[1], "g", 1) != 1) err = errno;
    close(go[1]);
    if (err) kill((pid_t)pid, SIGKILL);
    int status = 0;
    while (waitpid((pid_t)pid, &status, 0) < 0) {
        if (errno != EINTR) { if (!err) err = errno; break; }
    }
    if (err) return err;
    bh_record_table *t = calloc(1, sizeof *t);
    if (!t) return ENOMEM;
    err = bh_fast_recorder_read(r, t);
    *step = "calibrate the fast recorder: read the counters";
    if (!err) {
        /* x86_64 getpid 39, getppid 110 (by the forked grandchild); i386 getpid 20. */
        int ia32 = WIFEXITED(status) && WEXITSTATUS(status) == 0;
        int sigsegv = WIFSIGNALED(status) && WTERMSIG(status) == SIGSEGV;
        if (!ia32 && !sigsegv) { *step = "calibrate the fast recorder: the calibration child did not end as expected"; err = EPROTO; }
        else if (t->counts[0][59] == 0 || t->counts[0][39] == 0) {
            *step = "calibrate the fast recorder: the child's own calls were not counted (is bulkhead in the initial PID namespace?)";
            err = EPROTO;
        } else if (t->counts[0][110] == 0 || t->tasks == 0) {
            *step = "calibrate the fast recorder: the forked grandchild was not followed";
            err = EPROTO;
        } else if (ia32 && (t->counts[1][20] == 0 || t->counts[0][20] != 0)) {
            *step = "calibrate the fast recorder: an i386 call (int $0x80) was not told apart from x86_64";
            err = EPROTO;
        } else if (t->overflow & BH_FAST_TASKS_LOST) {
            *step = "calibrate the fast recorder: a task was lost";
            err = EPROTO;
        }
        r->ia32 = ia32;
    }
    free(t);
    if (err) return err;
    *step = "calibrate the fast recorder: clear the counters";
    return clear_counters(r);
}
