/*
 * hog: the aggressor and probe workloads of the cgroup v2 VM lane (Tests/vm/run-lane.sh).
 * Built with `gcc -static -O2` at lane build time and run inside the VM, inside and outside
 * bulkhead sandboxes. Every mode prints one line starting with "hog:" that the scenarios parse.
 *
 *   hog mem MIB [HOLD_S]   allocate and touch MIB MiB, 1 MiB at a time; prints progress; then holds it HOLD_S s
 *   hog fork [MAX]         fork sleeping children until fork fails (or MAX); prints the errno
 *   hog cpu SECONDS        spin one thread for SECONDS of wall time; prints wall and own CPU time
 *   hog write FILE MIB     write MIB MiB with O_DIRECT in 64 KiB blocks, fsync; prints KiB/s
 *   hog fds DIR            open /dev/null until open fails, mkdir DIR/full, then hold the fds
 *                          until DIR/done exists (at most 60 s); prints count and errno
 *   hog open FILE [DIR]    wait until DIR/full exists (if DIR given), open FILE, print the
 *                          errno (or OK), then mkdir DIR/done
 *   hog forkhold DIR       fork pausing children until fork fails, mkdir DIR/full, hold them
 *                          until DIR/done exists (at most 60 s); prints count and errno
 *   hog forkprobe DIR      wait until DIR/full exists, fork once, print the errno (or OK),
 *                          then mkdir DIR/done
 *   hog sleep SECONDS      sleep, then print "hog: slept"
 *
 * Deliberately no stdio buffering surprises: every line is written with one write(2), and
 * nothing here opens a file except where the mode says so (the fd scenario depends on it).
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/types.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

static void say(const char *fmt, ...) {
    char buf[512];
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(buf, sizeof buf - 1, fmt, ap);
    va_end(ap);
    if (n < 0) return;
    if (n > (int)sizeof buf - 2) n = (int)sizeof buf - 2;
    buf[n++] = '\n';
    ssize_t w = write(1, buf, (size_t)n);
    (void)w;
}

static const char *ename(int e) {
    switch (e) {
    case 0: return "OK";
    case EAGAIN: return "EAGAIN";
    case ENOMEM: return "ENOMEM";
    case EMFILE: return "EMFILE";
    case ENFILE: return "ENFILE";
    case ENOSPC: return "ENOSPC";
    case EACCES: return "EACCES";
    case EPERM: return "EPERM";
    case ENOENT: return "ENOENT";
    case EINVAL: return "EINVAL";
    case EIO: return "EIO";
    default: return "E?";
    }
}

static double now(clockid_t c) {
    struct timespec ts;
    clock_gettime(c, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static int exists(const char *dir, const char *name) {
    char p[4096];
    struct stat st;
    snprintf(p, sizeof p, "%s/%s", dir, name);
    return stat(p, &st) == 0;
}

static void mark(const char *dir, const char *name) {
    char p[4096];
    snprintf(p, sizeof p, "%s/%s", dir, name);
    mkdir(p, 0777); /* mkdir allocates no struct file: works with the file table full */
}

static int mode_mem(long mib, long hold) {
    long done = 0;
    for (; done < mib; done++) {
        char *p = malloc(1 << 20);
        if (!p) { say("hog: mem malloc failed after %ld MiB: %s", done, ename(errno)); return 1; }
        memset(p, 0x5a, 1 << 20);
        if ((done + 1) % 8 == 0) say("hog: mem touched %ld MiB", done + 1);
    }
    say("hog: mem done %ld MiB", done);
    if (hold > 0) { sleep((unsigned)hold); say("hog: mem held %ld MiB for %ld s", done, hold); }
    return 0;
}

static int mode_fork(long max) {
    static pid_t kids[100000];
    long n = 0;
    int err = 0;
    while (n < max && n < (long)(sizeof kids / sizeof kids[0])) {
        pid_t p = fork();
        if (p < 0) { err = errno; break; }
        if (p == 0) { for (;;) pause(); }
        kids[n++] = p;
    }
    say("hog: fork stopped after %ld children: %s", n, ename(err));
    for (long i = 0; i < n; i++) kill(kids[i], SIGKILL);
    for (long i = 0; i < n; i++) waitpid(kids[i], NULL, 0);
    return err ? 1 : 0;
}

/* The kernel's task table (threads-max) full: hold it until the neighbour has tried. */
static int mode_forkhold(const char *dir) {
    static pid_t kids[100000];
    long n = 0;
    int err = 0;
    while (n < (long)(sizeof kids / sizeof kids[0])) {
        pid_t p = fork();
        if (p < 0) { err = errno; break; }
        if (p == 0) { for (;;) pause(); }
        kids[n++] = p;
    }
    mark(dir, "full");
    say("hog: forkhold children=%ld stopped=%s", n, ename(err));
    double t0 = now(CLOCK_MONOTONIC);
    while (!exists(dir, "done") && now(CLOCK_MONOTONIC) - t0 < 60) usleep(20000);
    for (long i = 0; i < n; i++) kill(kids[i], SIGKILL);
    for (long i = 0; i < n; i++) waitpid(kids[i], NULL, 0);
    return 0;
}

static int mode_forkprobe(const char *dir) {
    double t0 = now(CLOCK_MONOTONIC);
    while (!exists(dir, "full")) {
        if (now(CLOCK_MONOTONIC) - t0 > 60) { say("hog: forkprobe timed out waiting for %s/full", dir); return 2; }
        usleep(20000);
    }
    pid_t p = fork();
    int err = p < 0 ? errno : 0;
    if (p == 0) _exit(0);
    if (p > 0) waitpid(p, NULL, 0);
    mark(dir, "done");
    say("hog: forkprobe: %s", ename(err));
    return err ? 1 : 0;
}

static int mode_cpu(double seconds) {
    double w0 = now(CLOCK_MONOTONIC), c0 = now(CLOCK_PROCESS_CPUTIME_ID);
    volatile unsigned long x = 0;
    while (now(CLOCK_MONOTONIC) - w0 < seconds) {
        for (int i = 0; i < 100000; i++) x += (unsigned long)i * 2654435761u;
    }
    double w = now(CLOCK_MONOTONIC) - w0, c = now(CLOCK_PROCESS_CPUTIME_ID) - c0;
    say("hog: cpu wall_us=%.0f cpu_us=%.0f ratio=%.3f", w * 1e6, c * 1e6, c / w);
    return 0;
}

static int mode_write(const char *file, long mib) {
    int fd = open(file, O_WRONLY | O_CREAT | O_DIRECT, 0644);
    if (fd < 0) { say("hog: write open %s failed: %s", file, ename(errno)); return 1; }
    const size_t bs = 64 << 10;
    void *buf;
    if (posix_memalign(&buf, 4096, bs)) { say("hog: write memalign failed"); return 1; }
    memset(buf, 0xa5, bs);
    long blocks = mib * (long)((1 << 20) / bs);
    double t0 = now(CLOCK_MONOTONIC);
    for (long i = 0; i < blocks; i++) {
        ssize_t w = write(fd, buf, bs);
        if (w != (ssize_t)bs) { say("hog: write failed at block %ld: %s", i, ename(errno)); return 1; }
    }
    fsync(fd);
    double t = now(CLOCK_MONOTONIC) - t0;
    close(fd);
    say("hog: write bytes=%ld us=%.0f kibps=%.0f", mib << 20, t * 1e6, (double)(mib << 10) / t);
    return 0;
}

static int mode_fds(const char *dir) {
    long n = 0;
    int err = 0;
    for (;;) {
        int fd = open("/dev/null", O_RDONLY);
        if (fd < 0) { err = errno; break; }
        n++;
    }
    mark(dir, "full");
    say("hog: fds opened=%ld stopped=%s", n, ename(err));
    double t0 = now(CLOCK_MONOTONIC);
    while (!exists(dir, "done") && now(CLOCK_MONOTONIC) - t0 < 60) usleep(20000);
    return 0; /* exit closes every fd: the table drains */
}

static int mode_open(const char *file, const char *dir) {
    if (dir) {
        double t0 = now(CLOCK_MONOTONIC);
        while (!exists(dir, "full")) {
            if (now(CLOCK_MONOTONIC) - t0 > 60) { say("hog: open timed out waiting for %s/full", dir); return 2; }
            usleep(20000);
        }
    }
    int fd = open(file, O_RDONLY);
    int err = fd < 0 ? errno : 0;
    if (dir) mark(dir, "done");
    say("hog: open %s: %s", file, ename(err));
    return err ? 1 : 0;
}

int main(int argc, char **argv) {
    setvbuf(stdout, NULL, _IONBF, 0);
    if (argc >= 3 && !strcmp(argv[1], "mem")) return mode_mem(atol(argv[2]), argc >= 4 ? atol(argv[3]) : 0);
    if (argc >= 2 && !strcmp(argv[1], "fork")) return mode_fork(argc >= 3 ? atol(argv[2]) : 100000);
    if (argc >= 3 && !strcmp(argv[1], "cpu")) return mode_cpu(atof(argv[2]));
    if (argc >= 4 && !strcmp(argv[1], "write")) return mode_write(argv[2], atol(argv[3]));
    if (argc >= 3 && !strcmp(argv[1], "fds")) return mode_fds(argv[2]);
    if (argc >= 3 && !strcmp(argv[1], "forkhold")) return mode_forkhold(argv[2]);
    if (argc >= 3 && !strcmp(argv[1], "forkprobe")) return mode_forkprobe(argv[2]);
    if (argc >= 3 && !strcmp(argv[1], "open")) return mode_open(argv[2], argc >= 4 ? argv[3] : NULL);
    if (argc >= 3 && !strcmp(argv[1], "sleep")) { sleep((unsigned)atoi(argv[2])); say("hog: slept"); return 0; }
    say("usage: hog mem MIB [HOLD_S] | fork [MAX] | cpu SECONDS | write FILE MIB | fds DIR | forkhold DIR | forkprobe DIR | open FILE [DIR] | sleep SECONDS");
    return 2;
}
