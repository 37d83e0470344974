/// What a recording made on one architecture needs on another: x86_64 has system calls that the
/// generic table (aarch64) and 32-bit arm do not, and glibc reaches the same kernel service there
/// through other calls (`open` is `openat`, `stat` is `newfstatat`, `fork` is `clone`, ...). A
/// profile for a mixed-architecture cluster names both.
///
/// The tables are derived from the architectures' tables (SyscallTable): `replacements` and
/// `withoutEquivalent` together cover every x86_64 call that aarch64 lacks, and with `arm32`
/// every one that arm lacks (SyscallEquivalenceTests checks both, and that every name given
/// exists where it is meant to be used). The first name of each replacement is the one glibc
/// 2.36 calls; every replacement does no more than the call it stands for.
public enum SyscallEquivalence {
    /// An x86_64 call that aarch64 lacks → the calls that do its work there (glibc's first).
    public static let replacements: [String: [String]] = [
        "access": ["faccessat", "faccessat2"],
        "alarm": ["setitimer"],
        "chmod": ["fchmodat"],
        "chown": ["fchownat"],
        "creat": ["openat"],
        "dup2": ["dup3", "fcntl"],  // glibc's dup2(fd, fd) checks fd with fcntl(F_GETFL)
        "epoll_create": ["epoll_create1"],
        "epoll_wait": ["epoll_pwait"],
        "eventfd": ["eventfd2"],
        "fork": ["clone"],
        "futimesat": ["utimensat"],
        "getdents": ["getdents64"],
        "getpgrp": ["getpgid"],
        "inotify_init": ["inotify_init1"],
        "lchown": ["fchownat"],
        "link": ["linkat"],
        "lstat": ["newfstatat", "statx"],
        "mkdir": ["mkdirat"],
        "mknod": ["mknodat"],
        "open": ["openat"],
        "pause": ["ppoll"],
        "pipe": ["pipe2"],
        "poll": ["ppoll"],
        "readlink": ["readlinkat"],
        "rename": ["renameat", "renameat2"],
        "rmdir": ["unlinkat"],
        "select": ["pselect6"],
        "signalfd": ["signalfd4"],
        "stat": ["newfstatat", "statx"],
        "symlink": ["symlinkat"],
        "time": ["clock_gettime"],  // the vDSO's fallback
        "unlink": ["unlinkat"],
        "utime": ["utimensat"],
        "utimes": ["utimensat"],
        "vfork": ["clone"],
    ]

    /// x86_64 calls that aarch64 (or arm) lacks and that have no counterpart there, with why.
    public static let withoutEquivalent: [String: String] = [
        "_sysctl": "removed in Linux 5.5; /proc/sys is the interface",
        "afs_syscall": "never implemented",
        "arch_prctl": "x86's FS/GS base and CPUID control; aarch64 sets its thread pointer without a system call (arm: set_tls, see arm32)",
        "create_module": "removed in Linux 2.6",
        "epoll_ctl_old": "never used by a libc",
        "epoll_wait_old": "never used by a libc",
        "get_kernel_syms": "removed in Linux 2.6",
        "get_thread_area": "x86 TLS descriptors",
        "getpmsg": "never implemented",
        "ioperm": "x86 I/O ports",
        "iopl": "x86 I/O privilege level",
        "memfd_secret": "not wired up on 32-bit arm",
        "modify_ldt": "x86 local descriptor table",
        "putpmsg": "never implemented",
        "query_module": "removed in Linux 2.6",
        "security": "never implemented",
        "set_thread_area": "x86 TLS descriptors",
        "sysfs": "obsolete; /proc/filesystems is the interface",
        "tuxcall": "never implemented",
        "uretprobe": "x86's uretprobe trampoline, made by the kernel's own code",
        "uselib": "a.out shared libraries",
        "ustat": "removed from glibc 2.28 (statfs is the interface)",
        "vserver": "never implemented",
    ]

    /// On 32-bit arm, what glibc calls instead of, or beside, an x86_64 call: the 32-bit-id
    /// (`getuid32`), large-file (`stat64`, `_llseek`) and 64-bit-time (`clock_gettime64`)
    /// variants, tried first, and ARM's own calls.
    public static let arm32: [String: [String]] = [
        "arch_prctl": ["set_tls"],
        "chown": ["chown32"],
        "clock_adjtime": ["clock_adjtime64"],
        "clock_getres": ["clock_getres_time64"],
        "clock_gettime": ["clock_gettime64"],
        "clock_nanosleep": ["clock_nanosleep_time64"],
        "clock_settime": ["clock_settime64"],
        "fadvise64": ["arm_fadvise64_64"],
        "fchown": ["fchown32"],
        "fcntl": ["fcntl64"],
        "fstat": ["fstat64"],
        "fstatfs": ["fstatfs64"],
        "ftruncate": ["ftruncate64"],
        "futex": ["futex_time64"],
        "getegid": ["getegid32"],
        "geteuid": ["geteuid32"],
        "getgid": ["getgid32"],
        "getgroups": ["getgroups32"],
        "getresgid": ["getresgid32"],
        "getresuid": ["getresuid32"],
        "getrlimit": ["ugetrlimit", "prlimit64"],
        "getuid": ["getuid32"],
        "io_pgetevents": ["io_pgetevents_time64"],
        "lchown": ["lchown32"],
        "lseek": ["_llseek"],
        "lstat": ["lstat64"],
        "mmap": ["mmap2"],
        "mq_timedreceive": ["mq_timedreceive_time64"],
        "mq_timedsend": ["mq_timedsend_time64"],
        "newfstatat": ["fstatat64", "statx"],
        "ppoll": ["ppoll_time64"],
        "pselect6": ["pselect6_time64"],
        "recvfrom": ["recv"],
        "recvmmsg": ["recvmmsg_time64"],
        "rt_sigreturn": ["sigreturn"],
        "rt_sigtimedwait": ["rt_sigtimedwait_time64"],
        "sched_rr_get_interval": ["sched_rr_get_interval_time64"],
        "select": ["_newselect", "pselect6_time64"],
        "semtimedop": ["semtimedop_time64"],
        "sendfile": ["sendfile64"],
        "sendto": ["send"],
        "setfsgid": ["setfsgid32"],
        "setfsuid": ["setfsuid32"],
        "setgid": ["setgid32"],
        "setgroups": ["setgroups32"],
        "setregid": ["setregid32"],
        "setresgid": ["setresgid32"],
        "setresuid": ["setresuid32"],
        "setreuid": ["setreuid32"],
        "setuid": ["setuid32"],
        "stat": ["stat64"],
        "statfs": ["statfs64"],
        "sync_file_range": ["arm_sync_file_range"],
        "time": ["clock_gettime64"],
        "timer_gettime": ["timer_gettime64"],
        "timer_settime": ["timer_settime64"],
        "timerfd_gettime": ["timerfd_gettime64"],
        "timerfd_settime": ["timerfd_settime64"],
        "truncate": ["truncate64"],
        "utime": ["utimensat_time64"],
        "utimensat": ["utimensat_time64"],
    ]

    /// Pairs not used backwards (a recording of the second does not add the first): `send`
    /// cannot name a destination, `sendto` can; `fcntl` alone does not do what `dup2` does.
    static let oneWay: Set<String> = ["sendto", "recvfrom"]

    /// The argument conditions a call gets when an equivalence adds it: `fork` and `vfork`
    /// become `clone` without namespace flags, which is all they can do.
    static let conditions: [String: [SeccompArgCondition]] = [
        "clone": [SeccompArgCondition(index: 0, value: RecordedPolicy.cloneNamespaceMask, valueTwo: 0, op: .maskedEqual)],
    ]

    /// One call an equivalence added, and for which call.
    public struct Addition: Sendable, Equatable, CustomStringConvertible {
        public var name: String
        public var forCall: String
        public var action: SeccompAction

        public var description: String { "\(name) (for \(forCall))" }
    }

    /// The names to add so that a policy allowing `allowed` works on every architecture of
    /// `arches`, each with the call it stands for (sorted by name).
    ///
    /// - Forward: a call some target lacks brings its replacements; with arm among the targets,
    ///   a call brings its arm variants.
    /// - Backward, when the targets are more than one architecture (the recording may come from
    ///   any of them): a target that has a call the recording could not show (`open` on x86_64
    ///   for a recording made on aarch64, `getuid` for one made on arm) gets it when the call
    ///   glibc uses instead was seen.
    /// Only names that exist on some target are added.
    public static func additions(for allowed: Set<String>, on arches: [SeccompArch]) -> [(name: String, forCall: String)] {
        func exists(_ n: String) -> Bool { arches.contains { SyscallTable.number(of: n, on: $0) != nil } }
        func lackedSomewhere(_ n: String) -> Bool { arches.contains { SyscallTable.number(of: n, on: $0) == nil } }
        var out: [String: String] = [:]
        func add(_ n: String, _ why: String) {
            if !allowed.contains(n), out[n] == nil, exists(n) { out[n] = why }
        }
        let withArm = arches.contains(.arm)
        for call in allowed.sorted() {
            if lackedSomewhere(call) { for r in replacements[call] ?? [] { add(r, call) } }
            if withArm { for r in arm32[call] ?? [] { add(r, call) } }
        }
        if arches.count > 1 {
            for (call, rs) in replacements.sorted(by: { $0.key < $1.key }) where allowed.contains(rs[0]) && lackedSomewhere(call) {
                add(call, rs[0])
            }
            if withArm {
                for (call, rs) in arm32.sorted(by: { $0.key < $1.key }) where !oneWay.contains(call) && allowed.contains(rs[0]) {
                    add(call, rs[0])
                }
            }
        }
        return out.sorted { $0.key < $1.key }.map { (name: $0.key, forCall: $0.value) }
    }
}

extension SeccompPolicy {
    /// The policy for a cluster of `arches` (in that order): `architectures` set to them, and
    /// for every unconditional rule that lets calls run, the calls the other architectures
    /// need for the same work (`SyscallEquivalence.additions`), with the rule's action. A call
    /// the policy already names keeps its own rules. Rules with argument conditions are not
    /// carried over (the arguments differ between a call and its replacement: `open`'s path is
    /// `openat`'s second argument); their names are returned as `notCarried` when a call they
    /// stand for is not named by the policy already.
    public func forArchitectures(_ arches: [SeccompArch]) -> (policy: SeccompPolicy, added: [SyscallEquivalence.Addition], notCarried: [String]) {
        var p = self
        p.architectures = arches
        let named = Set(rules.flatMap(\.names))
        var added: [SyscallEquivalence.Addition] = []
        var notCarried = Set<String>()
        var newRules: [SeccompRule] = []
        for rule in rules where rule.action.letsCallRun && rule.action != defaultAction {
            if !rule.args.isEmpty {
                let missing = SyscallEquivalence.additions(for: Set(rule.names), on: arches).filter { !named.contains($0.name) }
                if !missing.isEmpty { notCarried.formUnion(missing.map(\.forCall)) }
                continue
            }
            let adds = SyscallEquivalence.additions(for: Set(rule.names), on: arches)
                .filter { a in !named.contains(a.name) && !added.contains { $0.name == a.name } }
            var plain: [String] = []
            for a in adds {
                added.append(SyscallEquivalence.Addition(name: a.name, forCall: a.forCall, action: rule.action))
                if let c = SyscallEquivalence.conditions[a.name] {
                    newRules.append(SeccompRule(names: [a.name], action: rule.action, errnoRet: rule.errnoRet, args: c))
                } else {
                    plain.append(a.name)
                }
            }
            if !plain.isEmpty { newRules.append(SeccompRule(names: plain, action: rule.action, errnoRet: rule.errnoRet)) }
        }
        p.rules += newRules
        return (p.normalized(), added.sorted { $0.name < $1.name }, notCarried.sorted())
    }
}

extension SeccompArch {
    /// The architecture named `text` on a command line: libseccomp's (`SCMP_ARCH_AARCH64`),
    /// the kernel's (`aarch64`, `x86_64`) or Go's (`arm64`, `amd64`) spelling, any case.
    public static func named(_ text: String) -> SeccompArch? {
        guard let t = ExactName.asciiLowercased(text) else { return nil }
        return allCases.first { c in
            ExactName.same(ExactName.asciiLowercased(c.rawValue) ?? "", t) || c.dockerNames.contains { ExactName.same($0, t) }
        }
    }
}
