#include "bh_seccomp_notify.h"
#include "bh_fd_passing.h"

#include <errno.h>
#include <fcntl.h>
#include <linux/audit.h>
#include <linux/filter.h>
#include <linux/seccomp.h>
#include <sched.h>
#include <time.h>
#include <stddef.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/prctl.h>
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

static int load(const uint8_t *program, uint32_t length, unsigned int flags) {
    struct sock_fprog prog;
    prog.len = (unsigned short)(length / sizeof(struct sock_filter));
    prog.filter = (struct sock_filter *)(uintptr_t)program;
    return (int)syscall(SYS_seccomp, SECCOMP_SET_MODE_FILTER, flags, &prog);
}

/* What the workload's thread and the hand-over thread share (on the workload's stack). */
struct handover {
    int channel;
    volatile int listener;  /* set by the workload once the filter is loaded */
    int err;                /* the send's errno, written before the thread exits */
};

/* The hand-over thread: a thread of the workload (CLONE_THREAD | CLONE_FILES | CLONE_VM) made
 * before the filter is loaded, so no filter applies to it (seccomp filters are per thread;
 * no TSYNC). It waits for the listener to appear in the shared fd table, sends it to the
 * launcher, closes it there (the workload's copy, the same table entry) and the channel, says
 * so and exits (the thread alone). The workload itself makes no call the policy could send to
 * the launcher before the launcher can have the listener. */
static int handover_thread(void *arg) {
    struct handover *h = arg;
    /* Its sleeps end when asked (the default 50 us slack would add to every launch). */
    prctl(PR_SET_TIMERSLACK, 1UL, 0, 0, 0);
    while (h->listener == -1) {
        struct timespec ts = {0, 20000};
        nanosleep(&ts, NULL);
    }
    int e = 0;
    if (h->listener >= 0) {
        e = bh_send_fd(h->channel, h->listener);
        /* On a failed send no listener is left: refused calls get ENOSYS (still refused). */
        close(h->listener);
    }
    close(h->channel);
    h->err = e;
    return 0;
}

/* The hand-over without a thread, when the program lets the workload make both of its calls
 * itself: sendmsg of the listener on the channel and close of the channel, each checked here
 * with the very arguments (all six: syscall(2) passes six whatever the call names) it is then
 * made with, so neither can meet a RET the launcher would have to answer before it has the
 * listener. The listener is closed after the send (the kernel also makes it close-on-exec:
 * seccomp's get_unused_fd_flags(O_CLOEXEC), for a close the program refuses at another number
 * than the one predicted). A thread, its start on another CPU and
 * the workload's wait for its exit cost more than the filter's load (BENCHMARKS.md, session 16).
 * 1 when done this way (*err: 0 or the errno that fails the step), 0 when the program does not
 * allow it (the caller uses the thread). */
static int load_notifying_inline(const uint8_t *notifying, uint32_t length, uint32_t flags, int channel, int *err) {
#if defined(SYS_sendmsg) && defined(SYS_close)
    uint8_t byte = 0;
    struct iovec iov = {&byte, 1};
    union { struct cmsghdr h; char buf[CMSG_SPACE(sizeof(int))]; } ctl;
    memset(&ctl, 0, sizeof ctl);
    struct msghdr msg;
    memset(&msg, 0, sizeof msg);
    msg.msg_iov = &iov;
    msg.msg_iovlen = 1;
    msg.msg_control = ctl.buf;
    msg.msg_controllen = CMSG_SPACE(sizeof(int));
    struct cmsghdr *c = CMSG_FIRSTHDR(&msg);
    c->cmsg_level = SOL_SOCKET;
    c->cmsg_type = SCM_RIGHTS;
    c->cmsg_len = CMSG_LEN(sizeof(int));
    bh_seccomp_data send_call, close_call;
    memset(&send_call, 0, sizeof send_call);
    send_call.nr = SYS_sendmsg;
    send_call.arch = BH_AUDIT_ARCH_NATIVE;
    send_call.args[0] = (uint64_t)(int64_t)channel;
    send_call.args[1] = (uint64_t)(uintptr_t)&msg;
    send_call.args[2] = MSG_NOSIGNAL;
    memset(&close_call, 0, sizeof close_call);
    close_call.nr = SYS_close;
    close_call.arch = BH_AUDIT_ARCH_NATIVE;
    close_call.args[0] = (uint64_t)(int64_t)channel;
    if (bh_bpf_run(notifying, length, &send_call) != SECCOMP_RET_ALLOW || bh_bpf_run(notifying, length, &close_call) != SECCOMP_RET_ALLOW)
        return 0;
    /* A failed send closes the listener, as the thread does: the step's failure report (a write
     * to the exec pipe) and the exit come after it, and a refused call would wait on a listener
     * still in this table for an answer no one can give. So that close must be allowed too:
     * the listener's number is the lowest free one (this process has no other thread), learned
     * before the load. */
    int predicted = fcntl(channel, F_DUPFD_CLOEXEC, 0);
    if (predicted < 0) return 0;
    close(predicted);
    close_call.args[0] = (uint64_t)(int64_t)predicted;
    if (bh_bpf_run(notifying, length, &close_call) != SECCOMP_RET_ALLOW) return 0;
    int listener = load(notifying, length, flags | SECCOMP_FILTER_FLAG_NEW_LISTENER);
    if (listener < 0) {
        *err = errno;
        return 1;
    }
    memcpy(CMSG_DATA(c), &listener, sizeof listener);
    long sent;
    while ((sent = syscall(SYS_sendmsg, (long)channel, (long)(uintptr_t)&msg, (long)MSG_NOSIGNAL, 0L, 0L, 0L)) < 0 && errno == EINTR) {}
    /* A failed send fails the step; no listener is left (refused calls get ENOSYS, still refused).
     * A sent one is closed here too: the launcher has its copy, and a loader that does not exec
     * (a pooled init loads the filter before its request, SeccompBeforePoolRequest) must not keep
     * one for the sandbox's life, where the workload could reach it through /proc/1/fd and
     * answer its own refused calls. */
    *err = sent < 0 ? errno : (sent == 1 ? 0 : EMSGSIZE);
    close_call.args[0] = (uint64_t)(int64_t)listener;
    if (listener == predicted || bh_bpf_run(notifying, length, &close_call) == SECCOMP_RET_ALLOW)
        syscall(SYS_close, (long)listener, 0L, 0L, 0L, 0L, 0L);
    syscall(SYS_close, (long)channel, 0L, 0L, 0L, 0L, 0L);
    return 1;
#else
    (void)notifying; (void)length; (void)flags; (void)channel; (void)err;
    return 0;
#endif
}

int bh_seccomp_load_notifying(const uint8_t *plain, uint32_t plain_length, uint32_t flags, const bh_seccomp_notify_config *n) {
    int inline_err = 0;
    if (load_notifying_inline(n->notifying, n->notifying_length, flags, n->channel, &inline_err)) return inline_err;
    struct handover h;
    h.channel = n->channel;
    h.listener = -1;
    h.err = 0;
    /* The thread's stack is this frame's (no allocation). CLONE_CHILD_CLEARTID: the kernel
     * zeroes `alive` once the thread has exited and no longer touches this memory. */
    _Alignas(16) char stack[32768];
    volatile pid_t alive = 1;
    /* While it waits, the workload gives its CPU to the hand-over thread with sched_yield when
     * the program it loads allows that call (RET ALLOW, so never a notification the launcher
     * could not answer yet); else it spins without a call. On a loaded machine the thread may
     * wait on the very CPU the spinning workload holds: a spin-only wait then lasts until the
     * scheduler preempts the spinner. The call below carries the same zero arguments; the
     * instruction pointer differs (0 here), which no policy bulkhead compiles looks at. */
    bh_seccomp_data yield_call;
    memset(&yield_call, 0, sizeof yield_call);
    yield_call.nr = SYS_sched_yield;
    yield_call.arch = BH_AUDIT_ARCH_NATIVE;
    int may_yield = bh_bpf_run(n->notifying, n->notifying_length, &yield_call) == SECCOMP_RET_ALLOW;
    int tid = clone(handover_thread, stack + sizeof stack,
                    CLONE_VM | CLONE_FS | CLONE_FILES | CLONE_SIGHAND | CLONE_THREAD | CLONE_SYSVSEM | CLONE_CHILD_CLEARTID,
                    &h, NULL, NULL, &alive);
    if (tid < 0) {
        /* No thread (RLIMIT_NPROC, pids.max): the plain program, nothing reported. */
        close(n->channel);
        return load(plain, plain_length, flags) < 0 ? errno : 0;
    }
    int listener = load(n->notifying, n->notifying_length, flags | SECCOMP_FILTER_FLAG_NEW_LISTENER);
    int e = listener < 0 ? errno : 0;
    __atomic_store_n(&h.listener, listener < 0 ? -2 : listener, __ATOMIC_RELEASE);
    /* Wait without a system call: one the policy refuses would only wait for the launcher, but
     * the launcher would then count bulkhead's own call as the workload's. */
    while (__atomic_load_n(&alive, __ATOMIC_ACQUIRE) != 0) {
        if (may_yield) {
            /* The six arguments the check above ran the program with (zeros): syscall(2)
             * passes six whatever the call names, and a rule on an argument of sched_yield
             * would otherwise see this frame's leftover registers. */
            syscall(SYS_sched_yield, 0L, 0L, 0L, 0L, 0L, 0L);
            continue;
        }
#if defined(__x86_64__) || defined(__i386__)
        __builtin_ia32_pause();
#endif
    }
    if (e != 0) return e;
    return h.err;
}

/* ---------------------------------------------------------------- the launcher's side */

int bh_seccomp_receive_listener(int channel, int *listener) {
    *listener = -1;
    int got = -1;
    int rc = bh_receive_fd(channel, &got);
    if (rc != 0 || got < 0) return rc;
    /* A seccomp listener answers NOTIF_ID_VALID with ENOENT (no such notification); anything
     * else with ENOTTY or EINVAL. */
    uint64_t none = 0;
    if (ioctl(got, SECCOMP_IOCTL_NOTIF_ID_VALID, &none) == 0 || errno != ENOENT) {
        close(got);
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
