/* The cgroup v2 device program: load and attach (see bh_cgroup_device.h). The instructions come
 * from OCIDeviceProgram (BulkheadModel); nothing here decides what is allowed. */
#include "bh_cgroup_device.h"

#include <errno.h>
#include <linux/bpf.h>
#include <string.h>
#include <sys/syscall.h>
#include <sys/xattr.h>
#include <unistd.h>

_Static_assert(sizeof(bh_bpf_insn) == sizeof(struct bpf_insn), "bh_bpf_insn is struct bpf_insn");

static long dev_bpf(int cmd, union bpf_attr *attr) { return syscall(SYS_bpf, cmd, attr, sizeof *attr); }

int bh_cgroup_device_attach(int cgroup_fd, const bh_bpf_insn *insns, uint32_t count, const char **step,
                            char *log, uint32_t log_size) {
    union bpf_attr at;
    memset(&at, 0, sizeof at);
    *step = "load the device program (bpf BPF_PROG_LOAD, BPF_PROG_TYPE_CGROUP_DEVICE)";
    at.prog_type = BPF_PROG_TYPE_CGROUP_DEVICE;
    at.insns = (uint64_t)(uintptr_t)insns;
    at.insn_cnt = count;
    at.license = (uint64_t)(uintptr_t)"GPL"; /* no helper is called; the license is not checked */
    strncpy(at.prog_name, "bh_devices", sizeof at.prog_name - 1);
    long fd = dev_bpf(BPF_PROG_LOAD, &at);
    if (fd < 0) {
        /* Refused: load it once more with the verifier's log, only to say why. */
        int err = errno;
        if (log_size) {
            at.log_buf = (uint64_t)(uintptr_t)log;
            at.log_size = log_size;
            at.log_level = 1;
            long again = dev_bpf(BPF_PROG_LOAD, &at);
            if (again >= 0) close((int)again);
        }
        return err;
    }
    *step = "attach the device program to the container's cgroup (bpf BPF_PROG_ATTACH, BPF_CGROUP_DEVICE, BPF_F_ALLOW_MULTI)";
    memset(&at, 0, sizeof at);
    at.target_fd = (uint32_t)cgroup_fd;
    at.attach_bpf_fd = (uint32_t)fd;
    at.attach_type = BPF_CGROUP_DEVICE;
    at.attach_flags = BPF_F_ALLOW_MULTI;
    long r = dev_bpf(BPF_PROG_ATTACH, &at);
    int err = r < 0 ? errno : 0;
    close((int)fd); /* the attachment holds the program */
    return err;
}

int bh_cgroup_set_mark(const char *path, const char *name) {
    return lsetxattr(path, name, "1", 1, 0) == 0 ? 0 : errno;
}

int bh_cgroup_has_mark(const char *path, const char *name) {
    char value[8];
    if (lgetxattr(path, name, value, sizeof value) >= 0) return 1;
    return errno == ENODATA ? 0 : -errno;
}
