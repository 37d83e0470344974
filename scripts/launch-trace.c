// launch-trace.c - scripts/gen-launch-order.sh's tracer: runs PROG ARGS... single-stepped with
// ptrace (the process itself, not the children it clones: the launcher, whose pages are the
// launch's peak RSS) and writes every distinct instruction address it executes inside the
// static binary's mapping, in the order first executed, one hex address a line, to OUT.
// valgrind stops at clone3 and sampling misses what runs once; single-stepping sees the whole
// launch: start, preparation, clone3, supervision, the report, removal and exit.
// Build: cc -O2 -o launch-trace scripts/launch-trace.c. Usage: launch-trace OUT LO HI PROG ARGS...
// (LO, HI: the executable's text range, hex). A launch takes some million steps: minutes.
// Only the binary the range belongs to is recorded: PROG itself, or LAUNCH_TRACE_BINARY when PROG
// execs it (setpriv, env). When that binary execs another (bulkhead-cli, on a cache miss), the
// launch is not the one to trace: exit 3, so that the list is not made from the wrong path.
#include <limits.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ptrace.h>
#include <sys/user.h>
#include <sys/wait.h>
#include <unistd.h>

int main(int argc, char **argv) {
    if (argc < 5) { fprintf(stderr, "usage: launch-trace OUT LO HI PROG ARGS...\n"); return 2; }
    unsigned long lo = strtoul(argv[2], NULL, 16), hi = strtoul(argv[3], NULL, 16);
    if (hi <= lo || hi - lo > (1UL << 30)) { fprintf(stderr, "launch-trace: bad range\n"); return 2; }
    unsigned char *seen = calloc(hi - lo, 1);
    FILE *out = fopen(argv[1], "w");
    if (!seen || !out) { perror("launch-trace"); return 1; }
    pid_t pid = fork();
    if (pid < 0) { perror("fork"); return 1; }
    if (pid == 0) {
        ptrace(PTRACE_TRACEME, 0, 0, 0);
        raise(SIGSTOP);
        execv(argv[4], argv + 4);
        _exit(127);
    }
    char target[PATH_MAX];
    const char *named = getenv("LAUNCH_TRACE_BINARY");
    if (!realpath(named ? named : argv[4], target)) { perror("launch-trace: realpath"); return 2; }
    int st, sig = 0, started = 0, inside = 0;
    long steps = 0;
    if (waitpid(pid, &st, 0) < 0) return 1;
    // Stepping starts at the exec (not in this program's own exec path); EXITKILL: never leave a
    // stopped launcher behind.
    ptrace(PTRACE_SETOPTIONS, pid, 0, PTRACE_O_TRACEEXEC | PTRACE_O_EXITKILL);
    ptrace(PTRACE_CONT, pid, 0, 0);
    for (;;) {
        if (waitpid(pid, &st, 0) < 0 || WIFEXITED(st) || WIFSIGNALED(st)) break;
        sig = 0;
        if ((st >> 8) == (SIGTRAP | (PTRACE_EVENT_EXEC << 8))) {
            started = 1;
            char link[64], exe[PATH_MAX];
            snprintf(link, sizeof link, "/proc/%d/exe", (int)pid);
            ssize_t n = readlink(link, exe, sizeof exe - 1);
            exe[n > 0 ? n : 0] = 0;
            int now = strcmp(exe, target) == 0;
            if (inside && !now) {
                fprintf(stderr, "launch-trace: %s exec'd %s (a cache miss?): not the launch to trace\n", target, exe);
                kill(pid, SIGKILL);
                return 3;
            }
            inside = now;
        } else if (WSTOPSIG(st) != SIGTRAP) sig = WSTOPSIG(st);  // the launcher's own signals, passed on
        if (started && inside) {
            struct user_regs_struct r;
            ptrace(PTRACE_GETREGS, pid, 0, &r);
            if (r.rip >= lo && r.rip < hi && !seen[r.rip - lo]) { seen[r.rip - lo] = 1; fprintf(out, "%llx\n", r.rip); }
            steps++;
        }
        ptrace(started && inside ? PTRACE_SINGLESTEP : PTRACE_CONT, pid, 0, sig);
    }
    fclose(out);
    fprintf(stderr, "launch-trace: %ld steps, status %d\n", steps, WIFEXITED(st) ? WEXITSTATUS(st) : 128 + WTERMSIG(st));
    return WIFEXITED(st) && WEXITSTATUS(st) == 0 ? 0 : 1;
}
