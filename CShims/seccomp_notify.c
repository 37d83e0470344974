#include "bh_seccomp_notify.h"

#include <errno.h>
#include <fcntl.h>
#include <linux/audit.h>
#include <linux/filter.h>
#include <linux/seccomp.h>
#include <stddef.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <unistd.h>

_Static_assert(sizeof(bh_seccomp_data) == sizeof(struct seccomp_data), "bh_seccomp_data layout");
_Static_assert(offsetof(bh_seccomp_data, args) == offsetof(struct seccomp_data, args), "bh_seccomp_data layout");
_Static_assert(sizeof(struct sock_filter) == 8, "sock_filter layout");

#if defined(__x86_64__) && !defined(__ILP32__)
#define BH_AUDIT_ARCH_NATIVE AUDIT_ARCH_X86_64
#elif defined(__i386__)
#define BH_AUDIT_ARCH_NATIVE AUDIT_ARCH_I386
#elif defined(__aarch64__)
#define BH_AUDIT_ARCH_NATIVE AUDIT_ARCH_AARCH64
#else
#error "bulkhead: no AUDIT_ARCH for this architecture"
#endif

uint32_t bh_seccomp_native_audit_arch(void) { return BH_AUDIT_ARCH_NATIVE; }

/* ---------------------------------------------------------------- the interpreter */

/* The instructions the kernel accepts in a seccomp filter (seccomp_check_filter and
 * bpf_check_classic), with the kernel's semantics. Jumps go forward only, so the loop ends. */
uint32_t bh_bpf_run(const uint8_t *program, uint32_t length, const bh_seccomp_data *data) {
    const uint32_t fail = SECCOMP_RET_KILL_PROCESS;
    if (length == 0 || length % sizeof(struct sock_filter) != 0) return fail;
    uint32_t count = length / (uint32_t)sizeof(struct sock_filter);
    if (count > BPF_MAXINSNS) return fail;
    uint32_t a = 0, x = 0, mem[BPF_MEMWORDS];
    memset(mem, 0, sizeof mem);
    const unsigned char *raw = (const unsigned char *)data;
    for (uint32_t pc = 0; pc < count; pc++) {
        struct sock_filter f;
        memcpy(&f, program + (size_t)pc * sizeof f, sizeof f);
        uint32_t k = f.k;
        uint32_t src = BPF_SRC(f.code) == BPF_X ? x : k;
        switch (BPF_CLASS(f.code)) {
        case BPF_LD:
            if (BPF_SIZE(f.code) != BPF_W) return fail;
            switch (BPF_MODE(f.code)) {
            case BPF_ABS:
                if (k >= sizeof(struct seccomp_data) || k % 4 != 0) return fail;
                memcpy(&a, raw + k, 4);
                break;
            case BPF_LEN: a = (uint32_t)sizeof(struct seccomp_data); break;
            case BPF_IMM: a = k; break;
            case BPF_MEM: if (k >= BPF_MEMWORDS) return fail; a = mem[k]; break;
            default: return fail;
            }
            break;
        case BPF_LDX:
            if (BPF_SIZE(f.code) != BPF_W) return fail;
            switch (BPF_MODE(f.code)) {
            case BPF_LEN: x = (uint32_t)sizeof(struct seccomp_data); break;
            case BPF_IMM: x = k; break;
            case BPF_MEM: if (k >= BPF_MEMWORDS) return fail; x = mem[k]; break;
            default: return fail;
            }
            break;
        case BPF_ST: if (k >= BPF_MEMWORDS) return fail; mem[k] = a; break;
        case BPF_STX: if (k >= BPF_MEMWORDS) return fail; mem[k] = x; break;
        case BPF_ALU:
            switch (BPF_OP(f.code)) {
            case BPF_ADD: a += src; break;
            case BPF_SUB: a -= src; break;
            case BPF_MUL: a *= src; break;
            case BPF_DIV: if (src == 0) return 0; a /= src; break; /* the kernel's filter returns 0 */
            case BPF_MOD: if (src == 0) return 0; a %= src; break;
            case BPF_OR: a |= src; break;
            case BPF_AND: a &= src; break;
            case BPF_XOR: a ^= src; break;
            case BPF_LSH: if (src >= 32) return fail; a <<= src; break;
            case BPF_RSH: if (src >= 32) return fail; a >>= src; break;
            case BPF_NEG: a = (uint32_t)(-(int64_t)a); break;
            default: return fail;
            }
            break;
        case BPF_JMP: {
            uint32_t skip;
            if (BPF_OP(f.code) == BPF_JA) {
                skip = k;
            } else {
                int taken;
                switch (BPF_OP(f.code)) {
                case BPF_JEQ: taken = a == src; break;
                case BPF_JGT: taken = a > src; break;
                case BPF_JGE: taken = a >= src; break;
                case BPF_JSET: taken = (a & src) != 0; break;
                default: return fail;
                }
                skip = taken ? f.jt : f.jf;
            }
            if (skip >= count - pc - 1) return fail; /* lands past the last instruction */
            pc += skip;
            break;
        }
        case BPF_RET:
            if (BPF_RVAL(f.code) == BPF_K) return k;
            if (BPF_RVAL(f.code) == BPF_A) return a;
            return fail;
        case BPF_MISC:
            if (BPF_MISCOP(f.code) == BPF_TAX) x = a;
            else if (BPF_MISCOP(f.code) == BPF_TXA) a = x;
            else return fail;
            break;
        default:
            return fail;
        }
    }
    return fail; /* fell off the end: the kernel refuses such a program */
}

/* ---------------------------------------------------------------- the workload's side */

static int lets_run(uint32_t ret) {
    uint32_t action = ret & SECCOMP_RET_ACTION_FULL;
    return action == SECCOMP_RET_ALLOW || action == SECCOMP_RET_LOG;
}

static int load(const uint8_t *program, uint32_t length, unsigned int flags) {
    struct sock_fprog prog;
    prog.len = (unsigned short)(length / sizeof(struct sock_filter));
    prog.filter = (struct sock_filter *)(uintptr_t)program;
    return (int)syscall(SYS_seccomp, SECCOMP_SET_MODE_FILTER, flags, &prog);
}

/* ---------------------------------------------------------------- the hand-over's own calls */

/* The hand-over's system calls are made by this one instruction, whose address the launcher
 * knows (the launcher, the init and the workload before execve share one image): a policy that
 * refuses sendmsg, close or seccomp would otherwise make the hand-over itself wait for a
 * listener nobody holds yet. bh_seccomp_handover_syscall(nr, a0, a1, a2) returns the raw result
 * (-errno on failure). x86_64 only; elsewhere bh_seccomp_handover_ip() is 0 and there is no
 * exemption (the plain check of bh_seccomp_load_notifying decides). */
#if defined(__x86_64__) && !defined(__ILP32__)
__asm__(".text\n"
        ".globl bh_seccomp_handover_syscall\n"
        ".hidden bh_seccomp_handover_syscall\n"
        ".type bh_seccomp_handover_syscall,@function\n"
        "bh_seccomp_handover_syscall:\n"
        "  mov %rdi, %rax\n"
        "  mov %rsi, %rdi\n"
        "  mov %rdx, %rsi\n"
        "  mov %rcx, %rdx\n"
        "  syscall\n"
        ".globl bh_seccomp_handover_return\n"
        ".hidden bh_seccomp_handover_return\n"
        "bh_seccomp_handover_return:\n"
        "  ret\n"
        ".size bh_seccomp_handover_syscall, .-bh_seccomp_handover_syscall\n");
long bh_seccomp_handover_syscall(long nr, long a0, long a1, long a2);
extern const char bh_seccomp_handover_return[];
uint64_t bh_seccomp_handover_ip(void) { return (uint64_t)(uintptr_t)bh_seccomp_handover_return; }
#else
static long bh_seccomp_handover_syscall(long nr, long a0, long a1, long a2) {
    long r = syscall(nr, a0, a1, a2);
    return r < 0 ? -errno : r;
}
uint64_t bh_seccomp_handover_ip(void) { return 0; }
#endif

int bh_seccomp_load_notifying(const uint8_t *plain, uint32_t plain_length, uint32_t flags, const bh_seccomp_notify_config *n) {
    int channel = n->channel;
    char byte = 0;
    struct iovec iov = {&byte, 1};
    union { struct cmsghdr h; char buf[CMSG_SPACE(sizeof(int))]; } ctl;
    struct msghdr msg;
    memset(&msg, 0, sizeof msg);
    memset(&ctl, 0, sizeof ctl);
    msg.msg_iov = &iov;
    msg.msg_iovlen = 1;
    msg.msg_control = ctl.buf;
    msg.msg_controllen = sizeof ctl.buf;
    struct cmsghdr *c = CMSG_FIRSTHDR(&msg);
    c->cmsg_level = SOL_SOCKET;
    c->cmsg_type = SCM_RIGHTS;
    c->cmsg_len = CMSG_LEN(sizeof(int));

    /* The hand-over's own calls, exactly as they will be made, through the plain program: if the
     * policy refuses one of them, the notifying filter would make it wait for a launcher that
     * cannot have the listener yet, unless the prefix lets them through. */
    bh_seccomp_data send_call, close_call;
    memset(&send_call, 0, sizeof send_call);
    send_call.nr = SYS_sendmsg;
    send_call.arch = BH_AUDIT_ARCH_NATIVE;
    send_call.instruction_pointer = bh_seccomp_handover_ip();
    send_call.args[0] = (uint64_t)channel;
    send_call.args[1] = (uint64_t)(uintptr_t)&msg;
    send_call.args[2] = MSG_NOSIGNAL;
    close_call = send_call;
    close_call.nr = SYS_close;
    close_call.args[1] = 0;
    close_call.args[2] = 0;
    int allowed = lets_run(bh_bpf_run(plain, plain_length, &send_call)) && lets_run(bh_bpf_run(plain, plain_length, &close_call));
    const uint8_t *prog = n->notifying;
    uint32_t length = n->notifying_length;
    int exempt = 0;
    if (allowed && n->prefix_length <= length) {
        prog += n->prefix_length;
        length -= n->prefix_length;
    } else if (n->prefix_length > 0 && bh_seccomp_handover_ip() != 0) {
        exempt = 1;
    } else {
        close(channel);
        return load(plain, plain_length, flags) < 0 ? errno : 0;
    }

    int listener = load(prog, length, flags | SECCOMP_FILTER_FLAG_NEW_LISTENER);
    if (listener < 0) {
        int e = errno;
        close(channel);
        return e;
    }
    memcpy(CMSG_DATA(c), &listener, sizeof listener);
    long r;
    while ((r = bh_seccomp_handover_syscall(SYS_sendmsg, channel, (long)(uintptr_t)&msg, MSG_NOSIGNAL)) == -EINTR) {}
    int e = r < 0 ? (int)-r : 0;
    /* From here every refused call waits for the launcher, which has (or is receiving) the
     * listener. On a failed send the listener closes here: with no listener left, refused calls
     * get ENOSYS from the kernel (still refused) and the step fails. */
    (void)bh_seccomp_handover_syscall(SYS_close, listener, 0, 0);
    (void)bh_seccomp_handover_syscall(SYS_close, channel, 0, 0);
    if (e == 0 && exempt && n->guard != NULL) {
        struct sock_fprog g;
        g.len = (unsigned short)(n->guard_length / sizeof(struct sock_filter));
        g.filter = (struct sock_filter *)(uintptr_t)n->guard;
        r = bh_seccomp_handover_syscall(SYS_seccomp, SECCOMP_SET_MODE_FILTER, (long)flags, (long)(uintptr_t)&g);
        if (r < 0) e = (int)-r; /* the step fails: the workload never runs with the exemption alone */
    }
    return e;
}

/* ---------------------------------------------------------------- the launcher's side */

int bh_seccomp_receive_listener(int channel, int *listener) {
    *listener = -1;
    char byte;
    struct iovec iov = {&byte, 1};
    union { struct cmsghdr h; char buf[CMSG_SPACE(sizeof(int) * 4)]; } ctl;
    struct msghdr msg;
    memset(&msg, 0, sizeof msg);
    memset(&ctl, 0, sizeof ctl);
    msg.msg_iov = &iov;
    msg.msg_iovlen = 1;
    msg.msg_control = ctl.buf;
    msg.msg_controllen = sizeof ctl.buf;
    ssize_t n = recvmsg(channel, &msg, MSG_DONTWAIT | MSG_CMSG_CLOEXEC);
    if (n < 0) return (errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR) ? 0 : errno;
    if (n == 0) return EPIPE;
    int got = -1, count = 0;
    for (struct cmsghdr *c = CMSG_FIRSTHDR(&msg); c != NULL; c = CMSG_NXTHDR(&msg, c)) {
        if (c->cmsg_level != SOL_SOCKET || c->cmsg_type != SCM_RIGHTS) continue;
        size_t fds = (c->cmsg_len - CMSG_LEN(0)) / sizeof(int);
        for (size_t i = 0; i < fds; i++) {
            int fd;
            memcpy(&fd, CMSG_DATA(c) + i * sizeof(int), sizeof fd);
            if (count++ == 0) got = fd;
            else close(fd);
        }
    }
    /* A seccomp listener is the anon inode "[seccomp notify]"; NOTIF_ID_VALID answers ENOENT on
     * one (no such notification) and ENOTTY/EINVAL on anything else. */
    uint64_t none = 0;
    int ok = count == 1 && !(msg.msg_flags & MSG_CTRUNC);
    if (ok && ioctl(got, SECCOMP_IOCTL_NOTIF_ID_VALID, &none) == 0) ok = 0;
    if (ok && errno != ENOENT) ok = 0;
    if (!ok) {
        if (got >= 0) close(got);
        return EBADMSG;
    }
    int fl = fcntl(got, F_GETFL);
    if (fl >= 0) (void)fcntl(got, F_SETFL, fl | O_NONBLOCK);
    *listener = got;
    return 0;
}

int bh_seccomp_notify_receive(int listener, bh_seccomp_notification *out) {
    struct seccomp_notif req;
    memset(&req, 0, sizeof req); /* the kernel refuses a request that is not zeroed */
    if (ioctl(listener, SECCOMP_IOCTL_NOTIF_RECV, &req) < 0) return errno;
    out->id = req.id;
    out->pid = req.pid;
    memcpy(&out->data, &req.data, sizeof out->data);
    return 0;
}

int bh_seccomp_notify_respond(int listener, uint64_t id, int32_t error, int proceed) {
    struct seccomp_notif_resp resp;
    memset(&resp, 0, sizeof resp);
    resp.id = id;
    if (proceed) resp.flags = SECCOMP_USER_NOTIF_FLAG_CONTINUE;
    else resp.error = -error;
    return ioctl(listener, SECCOMP_IOCTL_NOTIF_SEND, &resp) < 0 ? errno : 0;
}

int bh_seccomp_notify_id_valid(int listener, uint64_t id) {
    return ioctl(listener, SECCOMP_IOCTL_NOTIF_ID_VALID, &id) == 0;
}
