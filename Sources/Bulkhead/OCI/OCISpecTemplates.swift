import BulkheadConfig
import BulkheadLaunch
import BulkheadModel
import Foundation

/// What `spec` writes and `features` prints.
enum OCISpecTemplates {
    /// runc's default config.json (`runc spec`), the fields bulkhead honours.
    static let defaultConfig = """
    {
    \t"ociVersion": "1.0.2",
    \t"process": {
    \t\t"terminal": true,
    \t\t"user": {"uid": 0, "gid": 0},
    \t\t"args": ["sh"],
    \t\t"env": ["PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin", "TERM=xterm"],
    \t\t"cwd": "/",
    \t\t"capabilities": {
    \t\t\t"bounding": ["CAP_AUDIT_WRITE", "CAP_KILL", "CAP_NET_BIND_SERVICE"],
    \t\t\t"effective": ["CAP_AUDIT_WRITE", "CAP_KILL", "CAP_NET_BIND_SERVICE"],
    \t\t\t"permitted": ["CAP_AUDIT_WRITE", "CAP_KILL", "CAP_NET_BIND_SERVICE"],
    \t\t\t"ambient": []
    \t\t},
    \t\t"rlimits": [{"type": "RLIMIT_NOFILE", "hard": 1024, "soft": 1024}],
    \t\t"noNewPrivileges": true
    \t},
    \t"root": {"path": "rootfs", "readonly": true},
    \t"hostname": "bulkhead",
    \t"mounts": [
    \t\t{"destination": "/proc", "type": "proc", "source": "proc"},
    \t\t{"destination": "/dev", "type": "tmpfs", "source": "tmpfs", "options": ["nosuid", "strictatime", "mode=755", "size=65536k"]},
    \t\t{"destination": "/dev/pts", "type": "devpts", "source": "devpts", "options": ["nosuid", "noexec", "newinstance", "ptmxmode=0666", "mode=0620", "gid=5"]},
    \t\t{"destination": "/dev/shm", "type": "tmpfs", "source": "shm", "options": ["nosuid", "noexec", "nodev", "mode=1777", "size=65536k"]},
    \t\t{"destination": "/dev/mqueue", "type": "mqueue", "source": "mqueue", "options": ["nosuid", "noexec", "nodev"]},
    \t\t{"destination": "/sys", "type": "sysfs", "source": "sysfs", "options": ["nosuid", "noexec", "nodev", "ro"]},
    \t\t{"destination": "/sys/fs/cgroup", "type": "cgroup", "source": "cgroup", "options": ["nosuid", "noexec", "nodev", "relatime", "ro"]}
    \t],
    \t"linux": {
    \t\t"resources": {"devices": [{"allow": false, "access": "rwm"}]},
    \t\t"namespaces": [{"type": "pid"}, {"type": "network"}, {"type": "ipc"}, {"type": "uts"}, {"type": "mount"}, {"type": "cgroup"}],
    \t\t"maskedPaths": ["/proc/acpi", "/proc/asound", "/proc/kcore", "/proc/keys", "/proc/latency_stats", "/proc/timer_list", "/proc/timer_stats", "/proc/sched_debug", "/sys/firmware", "/proc/scsi"],
    \t\t"readonlyPaths": ["/proc/bus", "/proc/fs", "/proc/irq", "/proc/sys", "/proc/sysrq-trigger"]
    \t}
    }

    """

    /// runtime-spec `features` (features.md), plus bulkhead's list of fields accepted without effect.
    static var features: String {
        let document: [String: Any] = [
            "ociVersionMin": "1.0.0", "ociVersionMax": "1.2.0",
            "hooks": OCIHook.Kind.allCases.map(\.rawValue),
            "mountOptions": ["bind", "rbind", "ro", "rw", "nosuid", "nodev", "noexec", "private", "rprivate", "slave", "rslave",
                             "relatime", "strictatime", "noatime", "size"],
            "linux": [
                "namespaces": ["cgroup", "ipc", "mount", "network", "pid", "user", "uts"],
                "capabilities": CapabilitySet.all.members.map(\.name),
                "cgroup": ["v1": true, "v2": true, "systemd": false, "systemdUser": false],
                "seccomp": ["enabled": true, "actions": ["SCMP_ACT_ALLOW", "SCMP_ACT_ERRNO", "SCMP_ACT_KILL", "SCMP_ACT_KILL_PROCESS", "SCMP_ACT_KILL_THREAD", "SCMP_ACT_LOG", "SCMP_ACT_TRAP"]] as [String: Any], "apparmor": ["enabled": false], "selinux": ["enabled": false],
                "intelRdt": ["enabled": false], "mountExtensions": ["idmap": ["enabled": false]],
            ] as [String: Any],
            "annotations": [
                "org.opencontainers.runc.checkpoint.enabled": "false",
                OCISeccompRecordAnnotation.key: "FILE: record the container's system calls (eBPF, from its first execve; root, its own PID namespace) and write a Kubernetes seccomp profile when it exits, as io.containers.trace-syscall; FILE is a name in \(OCISeccompRecordAnnotation.defaultDirectory) (or the absolute directory in \(OCISeccompRecordAnnotation.environment)), never replaced",
                OCIProfileAnnotation.key: "NAME: a bulkhead layer profile (a name from the built-in profiles or a root-owned profile directory, never a path) that only tightens the config: capabilities and seccomp intersected, limits and rlimits the minimum, no_new_privs and a read-only root if either asks, Landlock rules and masked/read-only paths added; not taken from the profile: \(OCIProfileAnnotation.notTaken)",
                "dev.bulkhead.acceptedWithoutEffect": OCIConfig.acceptedWithoutEffect.map { "\($0.field): \($0.why)" }.joined(separator: "; "),
                "dev.bulkhead.exec": "exec: --process, --tty (the pty master to --console-socket, or relayed by the runtime in the foreground; --detach needs --console-socket), --detach, --pid-file, --env, --cwd, --user, --additional-gids, --cap, --no-new-privs, --preserve-fds, --ignore-paused; accepted without effect: --apparmor (AppArmor is not enforced by bulkhead), --process-label (SELinux is not enforced by bulkhead)",
            ],
        ]
        let data = (try? JSONSerialization.data(withJSONObject: document, options: [.sortedKeys, .withoutEscapingSlashes])) ?? Data("{}".utf8)
        return String(decoding: data, as: UTF8.self)
    }
}
