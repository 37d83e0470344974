/* wake-latency CPU_A CPU_B - what one wake-up of another process costs on this machine: a
 * SOCK_SEQPACKET ping-pong between a process pinned to CPU_A and one pinned to CPU_B, 300 round
 * trips each after 2 ms asleep (so that the other side sleeps too, as a pooled launch's threads
 * and processes do between its steps). Prints the median and p90 round trip in microseconds: two
 * wake-ups and two context switches. Same CPU (`0 0`) against two CPUs (`0 1`): on a virtual
 * machine a wake-up of an idle vCPU is an interrupt through the hypervisor (BENCHMARKS.md,
 * session 16). Build: gcc -O2 -o wake-latency wake-latency.c */
#define _GNU_SOURCE
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

static double now_us(void) {
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (double)t.tv_sec * 1e6 + (double)t.tv_nsec / 1e3;
}

static int cmp(const void *x, const void *y) {
    double a = *(const double *)x, b = *(const double *)y;
    return a < b ? -1 : a > b;
}

static void pin(int cpu) {
    cpu_set_t c;
    CPU_ZERO(&c);
    CPU_SET(cpu, &c);
    if (sched_setaffinity(0, sizeof c, &c) < 0) { perror("sched_setaffinity"); exit(2); }
}

int main(int argc, char **argv) {
    if (argc != 3) { fprintf(stderr, "usage: wake-latency CPU_A CPU_B\n"); return 2; }
    enum { N = 300 };
    int s[2];
    if (socketpair(AF_UNIX, SOCK_SEQPACKET, 0, s) < 0) { perror("socketpair"); return 1; }
    pid_t p = fork();
    if (p == 0) {
        pin(atoi(argv[2]));
        char x;
        for (int i = 0; i < N; i++)
            if (read(s[1], &x, 1) != 1 || write(s[1], &x, 1) != 1) _exit(1);
        _exit(0);
    }
    pin(atoi(argv[1]));
    double rt[N];
    char x = 1;
    for (int i = 0; i < N; i++) {
        usleep(2000);
        double t = now_us();
        if (write(s[0], &x, 1) != 1 || read(s[0], &x, 1) != 1) { perror("ping"); return 1; }
        rt[i] = now_us() - t;
    }
    waitpid(p, NULL, 0);
    qsort(rt, N, sizeof rt[0], cmp);
    printf("CPU %s -> CPU %s: round trip median %.1f us, p90 %.1f (%d, each after 2 ms asleep)\n", argv[1], argv[2], rt[N / 2], rt[N * 9 / 10], N);
    return 0;
}
