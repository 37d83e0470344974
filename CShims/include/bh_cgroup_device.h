#ifndef BH_CGROUP_DEVICE_H
#define BH_CGROUP_DEVICE_H
/* linux.resources.devices on cgroup v2: the launcher loads the BPF_PROG_TYPE_CGROUP_DEVICE
 * program that BulkheadModel's OCIDeviceProgram generated and attaches it to the container's
 * cgroup2 leaf (BPF_F_ALLOW_MULTI: a program attached below, by the container itself, can only
 * refuse more, never allow what this one refuses). The attachment holds the program; it goes
 * with the cgroup when `delete` removes it.
 *
 * Runs in the launcher (not after clone3), before `start` releases the workload. Needs root
 * (CAP_SYS_ADMIN, or CAP_BPF and CAP_NET_ADMIN). */
#include <stdint.h>

/* One struct bpf_insn, as Swift builds it. */
typedef struct bh_bpf_insn {
    uint8_t code;
    uint8_t regs; /* dst in the low 4 bits, src in the high 4 */
    int16_t off;
    int32_t imm;
} bh_bpf_insn;

/* Loads `count` instructions as a cgroup device program and attaches it to the cgroup2
 * directory open at `cgroup_fd`. Returns 0 or the errno; *step names the call that failed
 * ("load the device program (bpf BPF_PROG_LOAD)" / "attach ... (bpf BPF_PROG_ATTACH)"), and on a
 * refused load `log` holds the verifier's words (log_size 0: none). */
int bh_cgroup_device_attach(int cgroup_fd, const bh_bpf_insn *insns, uint32_t count, const char **step,
                            char *log, uint32_t log_size);

/* The mark on an OCI container's cgroup (SandboxCgroup.containerMark, a trusted.* extended
 * attribute): lsetxattr(path, name, "1", 1, 0). 0 or a positive errno. */
int bh_cgroup_set_mark(const char *path, const char *name);
/* Whether `path` carries the mark `name`: 1 yes, 0 no (ENODATA), or a negative errno. */
int bh_cgroup_has_mark(const char *path, const char *name);
#endif
