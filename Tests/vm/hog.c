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
 *                          (open and forkprobe: with DIR/linger present, then stay until
 *                          DIR/bye exists, at most 30 s)
 *   hog sleep SECONDS      sleep, then print "hog: slept"
 *   hog fsyncwin FILE T0 W GAP KEYS   (T0: seconds, or @FILE holding them, waited for)
 *                          the disk cell's victim on a schedule: window i (KEYS is a comma list,
 *                          e.g. r0_baseline,r0_contained,...; a key idleN is a window left idle)
 *                          starts at T0 + i*(W+GAP) on the
 *                          wall clock (CLOCK_REALTIME, which no sandbox namespace changes) and
 *                          lasts W s of 4 KiB pwrite + fsync to FILE; per window one line
 *                          "hog: KEY_ops=OPS/S KEY_p50=MS KEY_p90=MS KEY_p99=MS KEY_n=N KEY_t0=S
 *                          KEY_t1=S" (exact nearest-rank percentiles; t0, t1: the window on
 *                          CLOCK_MONOTONIC, for the bench's PSI), or "hog: KEY_late=S" for a missed start
 *                          KIND (optional, default fsync): dsync = O_DIRECT overwrite + fdatasync
 *                          of a preallocated file (no metadata), dread = O_DIRECT 4 KiB reads
 *   hog writewin DIR T0 W GAP KEYS PHASE MIB PROCS [direct]
 *                          the disk cell's aggressor on the same schedule: PROCS processes each
 *                          write MIB MiB files (buffered, then fsync; O_DIRECT with `direct`) in
 *                          DIR from 0.15 s before each window whose key ends in _PHASE to its
 *                          end; "hog: writer_mib=N"
 *   hog psiwin CGDIR T0 W GAP KEYS
 *                          the pressure over each window, read outside the sandbox at its start
 *                          and end: CGDIR's cpu/memory/io.pressure (the victim's cgroup) and
 *                          /proc/pressure files (the whole kernel's) as shares of the window (%):
 *                          "hog: KEY_vpsi_io_some=P ... KEY_hpsi_cpu_full=P"
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
    char buf[1024];
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

/* With DIR/linger present (the scenario's choice), stay until DIR/bye exists (at most 30 s):
 * the victim's cgroup then still exists when the scenario reads its pressure after the run. */
static void linger(const char *dir) {
    if (!dir || !exists(dir, "linger")) return;
    double t0 = now(CLOCK_MONOTONIC);
    while (!exists(dir, "bye") && now(CLOCK_MONOTONIC) - t0 < 30) usleep(20000);
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
    linger(dir);
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
    linger(dir);
    return err ? 1 : 0;
}

/* The schedule's start: a number (wall-clock seconds), or @FILE: wait (at most 120 s) until
 * FILE exists and read the number from it, so that a slow start of the sandboxes (a VM on a
 * loaded host) cannot make the first windows late. */
static double start_time(const char *arg) {
    if (arg[0] != '@') return atof(arg);
    double t0 = now(CLOCK_MONOTONIC);
    for (;;) {
        int fd = open(arg + 1, O_RDONLY);
        if (fd >= 0) {
            char b[64];
            ssize_t n = read(fd, b, sizeof b - 1);
            close(fd);
            if (n > 0) { b[n] = 0; return atof(b); }
        }
        if (now(CLOCK_MONOTONIC) - t0 > 120) return 0;
        usleep(20000);
    }
}

/* The windows of a schedule: KEYS split at commas (at most 64 windows). */
#define MAXWIN 64
static int split_keys(char *keys, char **out) {
    int n = 0;
    for (char *k = strtok(keys, ","); k && n < MAXWIN; k = strtok(NULL, ",")) out[n++] = k;
    return n;
}

static void sleep_until(double t) {
    for (;;) {
        double d = t - now(CLOCK_REALTIME);
        if (d <= 0) return;
        usleep(d > 0.5 ? 500000 : (useconds_t)(d * 1e6));
    }
}

static int cmp_double(const void *a, const void *b) {
    double x = *(const double *)a, y = *(const double *)b;
    return x < y ? -1 : x > y;
}

/* Nearest rank: the smallest sample with at least q% of them at or below it. */
static double pct(const double *s, long n, int q) {
    if (n <= 0) return -1;
    long i = (q * n + 99) / 100 - 1;
    if (i < 0) i = 0;
    if (i > n - 1) i = n - 1;
    return s[i];
}

/* KIND: "fsync" (buffered 4 KiB pwrite + fsync: data, inode and a cache flush), "dsync" (O_DIRECT
 * 4 KiB overwrite of a preallocated file + fdatasync: the data and a cache flush, no metadata),
 * "dread" (O_DIRECT 4 KiB reads at spread offsets of a preallocated 8 MiB file: the device
 * queue only, no page cache, no metadata, no flush). */
static int mode_fsyncwin(const char *file, const char *start, double w, double gap, char *keys, const char *kind) {
    char *key[MAXWIN];
    int nk = split_keys(keys, key);
    int direct = strcmp(kind, "fsync") != 0, rd = !strcmp(kind, "dread");
    static char buf[4096] __attribute__((aligned(4096)));
    memset(buf, 'x', sizeof buf);
    int fd = open(file, O_RDWR | O_CREAT | O_TRUNC, 0600);
    if (fd < 0) { say("hog: fsyncwin open %s failed: %s", file, ename(errno)); return 1; }
    long span = rd ? 2048 : 256;
    if (direct) {
        /* Preallocate (written and synced before the schedule): the measured I/O then
         * allocates nothing and dirties no metadata. */
        for (long b = 0; b < span; b++)
            if (pwrite(fd, buf, sizeof buf, (off_t)b * 4096) != (ssize_t)sizeof buf) { say("hog: fsyncwin prefill failed: %s", ename(errno)); close(fd); unlink(file); return 1; }
        fsync(fd);
        close(fd);
        fd = open(file, O_RDWR | O_DIRECT);
        if (fd < 0) { say("hog: fsyncwin O_DIRECT open failed: %s", ename(errno)); unlink(file); return 1; }
    }
    /* The schedule's start is read once the file is prefilled: "hog: ready" says so, and a
     * start in a gate file (@FILE) is waited for only now. Under TCG on a capped disk the
     * prefill took up to 8 s, and a start read before it began every window of round 0 late. */
    say("hog: ready");
    double t0 = start_time(start);
    static double lat[200000];
    for (int i = 0; i < nk; i++) {
        if (!strncmp(key[i], "idle", 4)) continue;
        double at = t0 + i * (w + gap);
        double late = now(CLOCK_REALTIME) - at;
        if (late > 0.05) { say("hog: %s_late=%.3f", key[i], late); continue; }
        sleep_until(at);
        long n = 0;
        double m0 = now(CLOCK_MONOTONIC), end = m0 + w;
        while (n < 200000) {
            double s = now(CLOCK_MONOTONIC);
            if (s >= end) break;
            /* A stride that is odd in blocks visits every block of the span. */
            off_t off = (off_t)((n * 389) % span) * 4096;
            int ok;
            if (rd) ok = pread(fd, buf, sizeof buf, off) == (ssize_t)sizeof buf;
            else ok = pwrite(fd, buf, sizeof buf, direct ? off : (off_t)(n % 256) * 4096) == (ssize_t)sizeof buf
                      && (direct ? fdatasync(fd) : fsync(fd)) == 0;
            if (!ok) { say("hog: fsyncwin %s failed: %s", kind, ename(errno)); close(fd); unlink(file); return 1; }
            lat[n++] = (now(CLOCK_MONOTONIC) - s) * 1000;
        }
        qsort(lat, (size_t)n, sizeof lat[0], cmp_double);
        double m1 = now(CLOCK_MONOTONIC);
        say("hog: %s_ops=%.1f %s_p50=%.3f %s_p90=%.3f %s_p99=%.3f %s_n=%ld %s_t0=%.3f %s_t1=%.3f", key[i], n / w, key[i], pct(lat, n, 50),
            key[i], pct(lat, n, 90), key[i], pct(lat, n, 99), key[i], n, key[i], m0, key[i], m1);
    }
    close(fd);
    unlink(file);
    return 0;
}

/* direct: O_DIRECT 1 MiB writes (each one bio, submitted and throttled in the writer's own
 * context) instead of buffered writes that the writeback of the page cache sends later. */
static int mode_writewin(const char *dir, double t0, double w, double gap, char *keys, const char *phase, long mib, int procs, int direct) {
    char *key[MAXWIN];
    int nk = split_keys(keys, key);
    int me = 0;
    for (int i = 1; i < procs; i++) {
        pid_t p = fork();
        if (p == 0) { me = i; break; }
    }
    static char blk[1 << 20] __attribute__((aligned(4096)));
    memset(blk, 0xa5, sizeof blk);
    char f[4096];
    snprintf(f, sizeof f, "%s/writer-%s-%d", dir, phase, me);
    long total = 0;
    size_t pl = strlen(phase);
    for (int i = 0; i < nk; i++) {
        size_t kl = strlen(key[i]);
        if (kl <= pl || strcmp(key[i] + kl - pl, phase) || key[i][kl - pl - 1] != '_') continue;
        double from = t0 + i * (w + gap) - 0.15, to = t0 + i * (w + gap) + w;
        if (now(CLOCK_REALTIME) >= to) continue;
        sleep_until(from);
        while (now(CLOCK_REALTIME) < to) {
            int fd = open(f, O_WRONLY | O_CREAT | O_TRUNC | (direct ? O_DIRECT : 0), 0600);
            if (fd < 0) { say("hog: writewin open failed: %s", ename(errno)); return 1; }
            for (long m = 0; m < mib && now(CLOCK_REALTIME) < to; m++) {
                if (write(fd, blk, sizeof blk) != (ssize_t)sizeof blk) break;
                total++;
            }
            fsync(fd);
            close(fd);
        }
    }
    unlink(f);
    say("hog: %s_writer%d_mib=%ld", phase, me, total);
    if (me) _exit(0);
    while (wait(NULL) > 0) {}
    return 0;
}

/* "some" and "full" totals (µs) of a PSI file; -1 where absent. */
static void psi_read(const char *path, double *some, double *full) {
    *some = *full = -1;
    int fd = open(path, O_RDONLY);
    if (fd < 0) return;
    char b[512];
    ssize_t n = read(fd, b, sizeof b - 1);
    close(fd);
    if (n <= 0) return;
    b[n] = 0;
    for (char *line = strtok(b, "\n"); line; line = strtok(NULL, "\n")) {
        char *t = strstr(line, "total=");
        if (!t) continue;
        double v = strtod(t + 6, NULL);
        if (!strncmp(line, "some", 4)) *some = v;
        else if (!strncmp(line, "full", 4)) *full = v;
    }
}

static int mode_psiwin(const char *cg, double t0, double w, double gap, char *keys) {
    char *key[MAXWIN];
    int nk = split_keys(keys, key);
    static const char *res[3] = {"cpu", "memory", "io"};
    for (int i = 0; i < nk; i++) {
        if (!strncmp(key[i], "idle", 4)) continue;
        double at = t0 + i * (w + gap);
        if (now(CLOCK_REALTIME) > at + 0.05) { say("hog: %s_psi_late=1", key[i]); continue; }
        double a[2][3][2], z[2][3][2];
        char p[4096];
        sleep_until(at);
        double m0 = now(CLOCK_MONOTONIC);
        for (int s = 0; s < 2; s++)
            for (int r = 0; r < 3; r++) {
                if (s == 0) snprintf(p, sizeof p, "%s/%s.pressure", cg, res[r]);
                else snprintf(p, sizeof p, "/proc/pressure/%s", res[r]);
                psi_read(p, &a[s][r][0], &a[s][r][1]);
            }
        sleep_until(at + w);
        double span = now(CLOCK_MONOTONIC) - m0;
        char line[1024];
        int off = snprintf(line, sizeof line, "hog:");
        for (int s = 0; s < 2; s++)
            for (int r = 0; r < 3; r++) {
                if (s == 0) snprintf(p, sizeof p, "%s/%s.pressure", cg, res[r]);
                else snprintf(p, sizeof p, "/proc/pressure/%s", res[r]);
                psi_read(p, &z[s][r][0], &z[s][r][1]);
                for (int k = 0; k < 2; k++) {
                    if (a[s][r][k] < 0 || z[s][r][k] < a[s][r][k] || span <= 0) continue;
                    double share = (z[s][r][k] - a[s][r][k]) / (span * 1e6) * 100;
                    if (share > 100) share = 100;
                    off += snprintf(line + off, sizeof line - (size_t)off, " %s_%cpsi_%s_%s=%.2f", key[i], s ? 'h' : 'v', res[r], k ? "full" : "some", share);
                    if (off >= (int)sizeof line - 64) break;
                }
            }
        say("%s", line);
    }
    return 0;
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
    if (argc >= 7 && !strcmp(argv[1], "fsyncwin")) {
        const char *kind = argc >= 8 ? argv[7] : "fsync";
        if (strcmp(kind, "fsync") && strcmp(kind, "dsync") && strcmp(kind, "dread")) { say("hog: fsyncwin KIND is fsync, dsync or dread"); return 2; }
        return mode_fsyncwin(argv[2], argv[3], atof(argv[4]), atof(argv[5]), argv[6], kind);
    }
    if (argc >= 10 && !strcmp(argv[1], "writewin")) return mode_writewin(argv[2], start_time(argv[3]), atof(argv[4]), atof(argv[5]), argv[6], argv[7], atol(argv[8]), atoi(argv[9]), argc >= 11 && !strcmp(argv[10], "direct"));
    if (argc >= 7 && !strcmp(argv[1], "psiwin")) return mode_psiwin(argv[2], start_time(argv[3]), atof(argv[4]), atof(argv[5]), argv[6]);
    say("usage: hog mem MIB [HOLD_S] | fork [MAX] | cpu SECONDS | write FILE MIB | fds DIR | forkhold DIR | forkprobe DIR | open FILE [DIR] | sleep SECONDS | fsyncwin FILE T0 W GAP KEYS [fsync|dsync|dread] | writewin DIR T0 W GAP KEYS PHASE MIB PROCS [direct] | psiwin CGDIR T0 W GAP KEYS");
    return 2;
}
