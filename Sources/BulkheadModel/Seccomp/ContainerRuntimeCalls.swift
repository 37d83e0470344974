/// A container runtime whose own code runs under the filter between loading it and the
/// workload's execve: a recorded policy must allow those calls too, or the container never
/// starts (runc 1.1 fails with "ensure /proc/self/fd is on procfs: operation not permitted").
/// bulkhead itself loads the filter as the last step before execve, so it needs none of these.
///
/// Each set is measured, not guessed: `scripts/measure-runtime-seccomp-calls.py RUNTIME 5` runs
/// busybox `true` under `strace -f` with a filter loaded, and prints the calls of the thread
/// group that loaded it, from the load to its execve of the workload.
public enum ContainerRuntime: String, CaseIterable, Sendable {
    case runc
    case crun

    /// What `seccomp record` adds unless told `--runtime none`: the runtimes a pod really uses.
    public static let defaults: [ContainerRuntime] = [.runc, .crun]

    /// The calls this runtime's init makes after loading the filter, before the workload's execve.
    public var callsAfterFilter: [String] {
        switch self {
        case .runc:
            // runc 1.1.5 (Debian 12, 1.1.5+ds1-1+deb12u1; go1.19.8, libseccomp 2.5.4), with
            // `noNewPrivileges: true` (runc spec's default): it loads the filter in its Go init with
            // prctl(PR_SET_SECCOMP), then closes fds, opens and writes the exec fifo, checks
            // /proc/self/fd with fstatfs and getdents64, and its Go runtime keeps running.
            // Measured 2026-12-06, 3 × 5 runs: close epoll_ctl execve fstatfs futex getdents64 getpid
            // openat prctl rt_sigreturn write. Kept from the first measurement (5 runs, plus the Go
            // runtime calls that appear only under load): epoll_pwait exit exit_group fcntl fstat
            // gettid madvise mmap munmap nanosleep newfstatat openat2 read rt_sigprocmask
            // sched_yield shutdown sigaltstack tgkill.
            return [
                "close", "epoll_ctl", "epoll_pwait", "execve", "exit", "exit_group", "fcntl", "fstat", "fstatfs", "futex",
                "getdents64", "getpid", "gettid", "madvise", "mmap", "munmap", "nanosleep", "newfstatat", "openat", "openat2",
                "prctl", "read", "rt_sigprocmask", "rt_sigreturn", "sched_yield", "shutdown", "sigaltstack", "tgkill", "write",
            ]
        case .crun:
            // crun 1.8.1 (Debian 12, commit f8a096be; libseccomp 2.5.4): it loads the filter last,
            // with seccomp(SECCOMP_SET_MODE_FILTER), then closes the fd it read it from and execs.
            // Measured 2026-12-06, 5 runs (in a private mount namespace with a tmpfs over
            // /sys/fs/cgroup and --cgroup-manager=disabled: crun refuses this host's hybrid
            // cgroups): close execve.
            return ["close", "execve"]
        }
    }

    /// The union for `runtimes`, each call with the runtimes that need it ("runc and crun"), in
    /// name order.
    public static func callsAfterFilter(of runtimes: [ContainerRuntime]) -> [(name: String, runtimes: String)] {
        var who: [String: [String]] = [:]
        for r in runtimes {
            for n in r.callsAfterFilter where !(who[n] ?? []).contains(r.rawValue) { who[n, default: []].append(r.rawValue) }
        }
        return who.keys.sorted().map { ($0, who[$0]!.joined(separator: " and ")) }
    }

    /// `--runtime runc,crun` or `none`; nil for anything else.
    public static func parseList(_ text: String) -> [ContainerRuntime]? {
        if text == "none" { return [] }
        var out: [ContainerRuntime] = []
        for part in text.split(separator: ",", omittingEmptySubsequences: false) {
            guard let r = ContainerRuntime(exactly: String(part)) else { return nil }
            if !out.contains(r) { out.append(r) }
        }
        return out.isEmpty ? nil : out
    }
}
