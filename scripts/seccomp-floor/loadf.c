/* loadf FILTER CMD [ARGS...] - installs one seccomp filter (with no_new_privs), then execs CMD.
 *   none          no filter
 *   trivial       the one-instruction program "return ALLOW"
 *   trivial-spec  the same with SECCOMP_FILTER_FLAG_SPEC_ALLOW
 *   FILE.bpf      a classic BPF program (8 bytes per instruction), e.g. from
 *                 `bulkhead seccomp compile container --bpf FILE`; a name containing "spec"
 *                 adds SECCOMP_FILTER_FLAG_SPEC_ALLOW
 * Used by scripts/seccomp-floor/run.sh to separate what any filter costs per system call from
 * what a given program adds. Build: gcc -O2 -o loadf loadf.c */
#define _GNU_SOURCE
#include <linux/filter.h>
#include <linux/seccomp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/syscall.h>
#include <unistd.h>
int main(int argc, char **argv) {
    if (argc < 3) return 2;
    prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0);
    unsigned flags = 0;
    struct sock_filter trivial[] = { BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_ALLOW) };
    struct sock_fprog prog = { 1, trivial };
    static struct sock_filter buf[4096];
    if (!strcmp(argv[1], "none")) goto run;
    if (!strcmp(argv[1], "trivial-spec")) flags = SECCOMP_FILTER_FLAG_SPEC_ALLOW;
    else if (strcmp(argv[1], "trivial")) {
        FILE *f = fopen(argv[1], "rb"); if (!f) { perror("open"); return 2; }
        size_t n = fread(buf, sizeof buf[0], 4096, f); fclose(f);
        prog.len = n; prog.filter = buf;
        if (strstr(argv[1], "spec")) flags = SECCOMP_FILTER_FLAG_SPEC_ALLOW;
    }
    if (syscall(SYS_seccomp, SECCOMP_SET_MODE_FILTER, flags, &prog)) { perror("seccomp"); return 2; }
run:
    execv(argv[2], argv + 2);
    perror("exec"); return 127;
}
