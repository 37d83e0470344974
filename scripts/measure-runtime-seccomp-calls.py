#!/usr/bin/env python3
"""Measures what an OCI runtime's own init does after it loads the seccomp filter and before the
workload's execve: the calls a recorded profile must allow for that runtime to start a container
(ContainerRuntime.callsAfterFilter in Sources/BulkheadModel/Seccomp/SyscallRecording.swift).

Usage (root): scripts/measure-runtime-seccomp-calls.py runc|crun [RUNS]

Runs RUNS (default 5) containers of busybox `true` under `strace -f`, with a filter that allows
everything but kexec_load (so the runtime loads one, as under any profile), and prints the union
of the calls made by the thread group that loaded the filter, from the load to its execve of
/bin/true. crun refuses this host's hybrid cgroups, so it runs in a private mount namespace with
a tmpfs over /sys/fs/cgroup and --cgroup-manager=disabled (nothing of the host's is touched).
"""
import json, os, re, shutil, subprocess, sys, tempfile

runtime = sys.argv[1]
runs = int(sys.argv[2]) if len(sys.argv) > 2 else 5
work = tempfile.mkdtemp(prefix="bh-measure-", dir="/var/tmp")
root = os.path.join(work, "rootfs")
os.makedirs(os.path.join(root, "bin"))
for d in ["proc", "dev", "sys", "tmp"]:
    os.makedirs(os.path.join(root, d))
shutil.copy("/usr/bin/busybox", os.path.join(root, "bin/busybox"))
os.symlink("busybox", os.path.join(root, "bin/true"))
subprocess.run(["runc", "spec"], cwd=work, check=True)
cfg = json.load(open(os.path.join(work, "config.json")))
cfg["process"]["terminal"] = False
cfg["process"]["args"] = ["/bin/true"]
cfg["root"]["readonly"] = True
cfg["linux"]["seccomp"] = {"defaultAction": "SCMP_ACT_ALLOW", "syscalls": [{"names": ["kexec_load"], "action": "SCMP_ACT_ERRNO"}]}
if runtime == "crun":
    cfg["linux"].pop("resources", None)
json.dump(cfg, open(os.path.join(work, "config.json"), "w"))

line_re = re.compile(r"^(\d+)\s+(?:<\.\.\. (\w+) resumed>|(\w+)\()(.*)$")
union = set()
for i in range(runs):
    log = os.path.join(work, f"strace-{i}.log")
    cid = f"bh-measure-{os.getpid()}-{i}"
    cmd = f"strace -f -o {log} {runtime} --root {work}/state run --bundle {work} {cid} </dev/null"
    if runtime == "crun":
        cmd = (f"unshare -m --propagation private sh -c 'mount -t tmpfs none /sys/fs/cgroup && "
               f"strace -f -o {log} crun --cgroup-manager=disabled --root {work}/state run --bundle {work} {cid} </dev/null'")
    subprocess.run(cmd, shell=True, check=True)
    subprocess.run(f"{runtime} --root {work}/state delete -f {cid}", shell=True, stderr=subprocess.DEVNULL)
    lines = [m.groups() for m in map(line_re.match, open(log)) if m]
    # Thread groups: a clone with CLONE_THREAD puts the child in the parent's group.
    group = {}
    for pid, resumed, name, rest in lines:
        group.setdefault(pid, pid)
        if (name or resumed) in ("clone", "clone3") and "CLONE_THREAD" in rest:
            m = re.search(r"= (\d+)$", rest.strip())
            if m:
                group[m.group(1)] = group[pid]
    loader = start = None
    for n, (pid, resumed, name, rest) in enumerate(lines):
        if name in ("seccomp", "prctl") and ("SECCOMP_SET_MODE_FILTER" in rest or "PR_SET_SECCOMP" in rest):
            loader, start = group.get(pid, pid), n
    assert loader, f"no filter load in {log}"
    calls = set()
    for pid, resumed, name, rest in lines[start + 1:]:
        if group.get(pid, pid) != loader:
            continue
        calls.add(name or resumed)
        # The workload's execve (strace may show it unfinished, its result on a later line).
        if name == "execve" and '"/bin/true"' in rest and "= -1" not in rest:
            break
    union |= calls
print(" ".join(sorted(union)))
shutil.rmtree(work) if not os.environ.get("KEEP") else print(work)
