/* TEST ONLY: see bh_fuse_testing.h. */
#include "bh_fuse_testing.h"

#include <errno.h>
#include <fcntl.h>
#include <linux/fuse.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/mount.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#define BUF_SIZE (1024 * 1024 + 4096)
#define MAX_HELD 4096

static void reply(int dev, uint64_t unique, int error, const void *arg, size_t len) {
    char buf[sizeof(struct fuse_out_header) + 256];
    struct fuse_out_header h = {(uint32_t)(sizeof h + len), error, unique};
    memcpy(buf, &h, sizeof h);
    if (len) memcpy(buf + sizeof h, arg, len);
    (void)!write(dev, buf, sizeof h + len);
}

static void fill_attr(struct fuse_attr *a, uint64_t node) {
    memset(a, 0, sizeof *a);
    a->ino = node;
    a->mode = node == FUSE_ROOT_ID ? (S_IFDIR | 0755) : (S_IFREG | 0644);
    a->nlink = node == FUSE_ROOT_ID ? 2 : 1;
    a->blksize = 4096;
}

/* A field ("Tgid", "PPid") of /proc/PID/status: FUSE names the closing thread. */
static pid_t status_field(pid_t pid, const char *field) {
    char path[64], buf[2048], key[16];
    snprintf(path, sizeof path, "/proc/%d/status", (int)pid);
    snprintf(key, sizeof key, "\n%s:", field);
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0) return -1;
    ssize_t n = read(fd, buf, sizeof buf - 1);
    close(fd);
    if (n <= 0) return -1;
    buf[n] = 0;
    char *t = strstr(buf, key);
    return t ? (pid_t)atoi(t + strlen(key)) : -1;
}

/* The closing thread is of process `held` or of one of its children. */
static int of_process(pid_t tid, pid_t held) {
    pid_t tgid = status_field(tid, "Tgid");
    return tgid == held || (tgid > 0 && status_field(tgid, "PPid") == held);
}

static void serve(int dev, int release, pid_t hold_for, int hold_attributes, volatile int *held) {
    char *buf = malloc(BUF_SIZE);
    static uint64_t waiting[MAX_HELD];
    int nwaiting = 0, released = 0;
    if (buf == NULL) _exit(1);
    for (;;) {
        struct pollfd p[2] = {{dev, POLLIN, 0}, {release, POLLIN, 0}};
        if (poll(p, released ? 1 : 2, -1) < 0) { if (errno == EINTR) continue; _exit(1); }
        if (!released && p[1].revents) {
            released = 1;
            /* A held FLUSH is answered with success; a held GETATTR or STATFS with EIO (no reply
             * body: the requester only needs to stop waiting). */
            for (int i = 0; i < nwaiting; i++) reply(dev, waiting[i], hold_attributes ? -EIO : 0, NULL, 0);
            nwaiting = 0;
        }
        if (!p[0].revents) continue;
        ssize_t n = read(dev, buf, BUF_SIZE);
        if (n < 0) { if (errno == EINTR || errno == EAGAIN || errno == ENOENT) continue; _exit(0); }
        if ((size_t)n < sizeof(struct fuse_in_header)) continue;
        struct fuse_in_header *in = (struct fuse_in_header *)buf;
        void *arg = buf + sizeof *in;
        switch (in->opcode) {
        case FUSE_INIT: {
            struct fuse_init_in *ii = arg;
            struct fuse_init_out o;
            memset(&o, 0, sizeof o);
            o.major = FUSE_KERNEL_VERSION;
            o.minor = ii->minor < FUSE_KERNEL_MINOR_VERSION ? ii->minor : FUSE_KERNEL_MINOR_VERSION;
            o.max_readahead = ii->max_readahead;
            o.max_background = 16;
            o.congestion_threshold = 12;
            o.max_write = 4096;
            o.time_gran = 1;
            reply(dev, in->unique, 0, &o, sizeof o);
            break;
        }
        case FUSE_LOOKUP: {
            if (in->nodeid != FUSE_ROOT_ID || strcmp((char *)arg, "f") != 0) { reply(dev, in->unique, -ENOENT, NULL, 0); break; }
            struct fuse_entry_out e;
            memset(&e, 0, sizeof e);
            e.nodeid = 2;
            e.generation = 1;
            fill_attr(&e.attr, 2);
            reply(dev, in->unique, 0, &e, sizeof e);
            break;
        }
        case FUSE_GETATTR: {
            if (hold_attributes && !released && of_process((pid_t)in->pid, hold_for) && nwaiting < MAX_HELD) {
                waiting[nwaiting++] = in->unique; /* answered with an error at release */
                __atomic_add_fetch(held, 1, __ATOMIC_SEQ_CST);
                break;
            }
            struct fuse_attr_out a;
            memset(&a, 0, sizeof a);
            fill_attr(&a.attr, in->nodeid);
            reply(dev, in->unique, 0, &a, sizeof a);
            break;
        }
        case FUSE_OPEN: case FUSE_OPENDIR: {
            struct fuse_open_out o;
            memset(&o, 0, sizeof o);
            o.fh = 1;
            reply(dev, in->unique, 0, &o, sizeof o);
            break;
        }
        case FUSE_STATFS: {
            if (hold_attributes && !released && of_process((pid_t)in->pid, hold_for) && nwaiting < MAX_HELD) {
                waiting[nwaiting++] = in->unique;
                __atomic_add_fetch(held, 1, __ATOMIC_SEQ_CST);
                break;
            }
            struct fuse_statfs_out s;
            memset(&s, 0, sizeof s);
            s.st.bsize = 4096;
            s.st.namelen = 255;
            s.st.frsize = 4096;
            reply(dev, in->unique, 0, &s, sizeof s);
            break;
        }
        case FUSE_READ:
            reply(dev, in->unique, 0, NULL, 0);
            break;
        case FUSE_FLUSH:
            if (released || !of_process((pid_t)in->pid, hold_for) || nwaiting >= MAX_HELD) reply(dev, in->unique, 0, NULL, 0);
            else { waiting[nwaiting++] = in->unique; __atomic_add_fetch(held, 1, __ATOMIC_SEQ_CST); }
            break;
        case FUSE_RELEASE: case FUSE_RELEASEDIR:
            reply(dev, in->unique, 0, NULL, 0);
            break;
        case FUSE_FORGET: case FUSE_BATCH_FORGET: case FUSE_INTERRUPT:
            break; /* no answer */
        case FUSE_DESTROY:
            reply(dev, in->unique, 0, NULL, 0);
            _exit(0);
        default:
            reply(dev, in->unique, -ENOSYS, NULL, 0);
        }
    }
}

int bh_testing_fuse_start(const char *mountpoint, pid_t hold_for, bh_testing_fuse *out) {
    return bh_testing_fuse_start_holding(mountpoint, hold_for, 0, out);
}

int bh_testing_fuse_start_holding(const char *mountpoint, pid_t hold_for, int hold_attributes, bh_testing_fuse *out) {
    memset(out, 0, sizeof *out);
    out->server = -1;
    out->release_fd = -1;
    out->held_count_fd = -1;
    volatile int *held = mmap(NULL, 4096, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
    if (held == MAP_FAILED) return errno;
    int dev = open("/dev/fuse", O_RDWR | O_CLOEXEC);
    if (dev < 0) { int e = errno; munmap((void *)held, 4096); return e; }
    char opts[128];
    snprintf(opts, sizeof opts, "fd=%d,rootmode=40000,user_id=0,group_id=0,allow_other", dev);
    if (mount("bh-test-fuse", mountpoint, "fuse", MS_NOSUID | MS_NODEV, opts) < 0) {
        int e = errno;
        close(dev);
        munmap((void *)held, 4096);
        return e;
    }
    int rel[2];
    if (pipe2(rel, O_CLOEXEC) < 0) { int e = errno; umount2(mountpoint, MNT_DETACH); close(dev); return e; }
    pid_t pid = fork();
    if (pid < 0) { int e = errno; umount2(mountpoint, MNT_DETACH); close(dev); close(rel[0]); close(rel[1]); return e; }
    if (pid == 0) {
        prctl(PR_SET_PDEATHSIG, SIGKILL, 0, 0, 0);
        close(rel[1]);
        serve(dev, rel[0], hold_for, hold_attributes, held);
        _exit(0);
    }
    close(dev);
    close(rel[0]);
    out->server = pid;
    out->release_fd = rel[1];
    out->held = held;
    return 0;
}

void bh_testing_fuse_release(bh_testing_fuse *f) {
    if (f->release_fd >= 0) { char c = 1; (void)!write(f->release_fd, &c, 1); }
}

void bh_testing_fuse_stop(const char *mountpoint, bh_testing_fuse *f) {
    bh_testing_fuse_release(f);
    umount2(mountpoint, MNT_DETACH);
    if (f->server > 0) {
        /* The server ends at DESTROY; a detached mount may send it late: end it now. */
        usleep(100 * 1000);
        kill(f->server, SIGKILL);
        int st;
        while (waitpid(f->server, &st, 0) < 0 && errno == EINTR) {}
        f->server = -1;
    }
    if (f->release_fd >= 0) { close(f->release_fd); f->release_fd = -1; }
}
