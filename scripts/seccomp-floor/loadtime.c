/* loadtime FILE.bpf [listener] - how long the kernel takes to install one seccomp filter: the
 * seccomp(2) call alone (cBPF checks, the conversion to eBPF, the JIT, the per-syscall cache of
 * constant ALLOWs), timed in 100 fresh children (no_new_privs; `listener`: with
 * SECCOMP_FILTER_FLAG_NEW_LISTENER, as bulkhead loads its reporting program). Prints the median,
 * p10 and p90 in microseconds. FILE.bpf: 8 bytes per instruction, e.g. from `bulkhead seccomp
 * compile container --bpf FILE` (all three x86 architectures) or a program from the seccomp cache
 * (BENCHMARKS.md, session 16). Build: gcc -O2 -o loadtime loadtime.c */
#define _GNU_SOURCE
#include <linux/filter.h>
#include <linux/seccomp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

static double now_us(void) {
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (double)t.tv_sec * 1e6 + (double)t.tv_nsec / 1e3;
}

static int cmp(const void *a, const void *b) {
    double x = *(const double *)a, y = *(const double *)b;
    return x < y ? -1 : x > y;
}

int main(int argc, char **argv) {
    if (argc < 2) { fprintf(stderr, "usage: loadtime FILE.bpf [listener]\n"); return 2; }
    static struct sock_filter prog[BPF_MAXINSNS];
    FILE *f = fopen(argv[1], "rb");
    if (!f) { perror("open"); return 2; }
    size_t n = fread(prog, sizeof prog[0], BPF_MAXINSNS, f);
    fclose(f);
    struct sock_fprog fp = {(unsigned short)n, prog};
    unsigned flags = argc > 2 && !strcmp(argv[2], "listener") ? SECCOMP_FILTER_FLAG_NEW_LISTENER : 0;
    enum { RUNS = 100 };
    double us[RUNS];
    for (int i = 0; i < RUNS; i++) {
        int p[2];
        if (pipe(p) < 0) { perror("pipe"); return 1; }
        pid_t c = fork();
        if (c == 0) {
            prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0);
            double a = now_us();
            long r = syscall(SYS_seccomp, SECCOMP_SET_MODE_FILTER, flags, &fp);
            double d = r < 0 ? -1 : now_us() - a;
            if (write(p[1], &d, sizeof d) != sizeof d) _exit(1);
            _exit(0);
        }
        if (c < 0 || read(p[0], &us[i], sizeof us[i]) != sizeof us[i]) { perror("child"); return 1; }
        waitpid(c, NULL, 0);
        close(p[0]);
        close(p[1]);
        if (us[i] < 0) { fprintf(stderr, "seccomp(2) refused the program\n"); return 1; }
    }
    qsort(us, RUNS, sizeof us[0], cmp);
    printf("%zu instructions: median %.1f us, p10 %.1f, p90 %.1f (%d loads)\n", n, us[RUNS / 2], us[RUNS / 10], us[RUNS * 9 / 10], RUNS);
    return 0;
}
