/// What `bulkhead seccomp record` saw a workload do: every system call from its execve on, by
/// every thread and child, per architecture, with counts, the executable that made each call
/// first, and the argument values of the few calls that become argument rules.
public struct SyscallRecording: Sendable, Equatable {
    public struct Call: Sendable, Equatable, Hashable {
        public var arch: SeccompArch
        /// The kernel's name; nil for a number bulkhead's table does not name (it cannot go into a policy).
        public var name: String?
        /// The number as the kernel sees it (x32 numbers include 0x40000000).
        public var number: Int32
        public var count: UInt64
        public var firstExecutable: String?

        public init(arch: SeccompArch, name: String?, number: Int32, count: UInt64, firstExecutable: String? = nil) {
            self.arch = arch
            self.name = name
            self.number = number
            self.count = count
            self.firstExecutable = firstExecutable
        }
    }

    /// Counters of the recorder itself (its cost and what it could not attribute).
    public struct Stats: Sendable, Equatable {
        /// Which recorder counted: "ebpf" (in the kernel) or "ptrace" (the fallback).
        public var recorder: String = "ptrace"
        /// Why the ptrace recorder was used when the eBPF one was not (nil: chosen, or eBPF used).
        public var fallbackReason: String?
        public var syscallEntries: UInt64 = 0
        public var ptraceStops: UInt64 = 0
        public var tasks: UInt64 = 0
        public var execs: UInt64 = 0
        /// Entries from an architecture other than x86_64, i386 and x32.
        public var unknownArchitecture: UInt64 = 0
        /// Entries with a number >= 1024 (invalid numbers; the kernel answers ENOSYS).
        public var outOfRange: UInt64 = 0
        public init() {}
    }

    public var command: [String]
    public var profile: String
    public var calls: [Call]
    public var executables: [String]
    /// socket(2) domains seen (`AF_*`).
    public var socketFamilies: [UInt64]
    /// False when a family could not be recorded (>= 64): socket then stays unconditional.
    public var socketFamiliesComplete: Bool
    /// personality(2) values seen.
    public var personalities: [UInt64]
    public var personalitiesComplete: Bool
    /// OR of the flags of every clone(2); nil when clone was not called.
    public var cloneFlags: UInt64?
    public var stats: Stats
    /// The workload's exit status, when it exited.
    public var exitCode: Int32?

    public init(command: [String] = [], profile: String = "", calls: [Call] = [], executables: [String] = [],
                socketFamilies: [UInt64] = [], socketFamiliesComplete: Bool = true, personalities: [UInt64] = [],
                personalitiesComplete: Bool = true, cloneFlags: UInt64? = nil, stats: Stats = Stats(), exitCode: Int32? = nil) {
        self.command = command
        self.profile = profile
        self.calls = calls
        self.executables = executables
        self.socketFamilies = socketFamilies
        self.socketFamiliesComplete = socketFamiliesComplete
        self.personalities = personalities
        self.personalitiesComplete = personalitiesComplete
        self.cloneFlags = cloneFlags
        self.stats = stats
        self.exitCode = exitCode
    }

    /// The names seen, on any architecture.
    public var names: Set<String> { Set(calls.compactMap(\.name)) }

    /// The architectures seen, in the fixed order x86_64, x86, x32.
    public var architectures: [SeccompArch] {
        SyscallTable.architecturesWithNumbers.filter { a in calls.contains { $0.arch == a } }
    }
}

/// One system call the generated policy allows although the recording did not show it, and why.
public struct SafetyAddition: Sendable, Equatable {
    public var name: String
    public var action: SeccompAction
    public var errnoRet: UInt32?
    public var reason: String
    /// The runtimes whose own init needs the call ("runc and crun"), when that is why it is here.
    public var runtimes: String? = nil
}

/// A policy generated from recordings, with what was added beyond them.
public struct RecordedPolicy: Sendable, Equatable {
    public var policy: SeccompPolicy
    public var safetySet: [SafetyAddition]
    /// One line per argument rule, saying what it allows.
    public var argumentRules: [String]
    /// Calls seen that have no name (they cannot be named in a policy and get the default).
    public var unnamed: [SyscallRecording.Call]
}

extension RecordedPolicy {
    /// Namespace flags of clone(2): CLONE_NEWNS 0x20000 and CLONE_NEWCGROUP, NEWUTS, NEWIPC,
    /// NEWUSER, NEWPID, NEWNET (0x7E000000). The mask Docker's default profile uses.
    public static let cloneNamespaceMask: UInt64 = 0x7E02_0000
    /// TIOCSTI and TIOCLINUX: terminal input injection and the console selection (see
    /// docs/seccomp-default.md); an allowed ioctl still refuses them.
    public static let refusedIoctls: [UInt64] = [0x5412, 0x541C]

    /// The minimal allow-list for the union of `recordings`:
    /// - default action `SCMP_ACT_ERRNO` with EPERM; the architectures seen (the native first);
    /// - every named call seen is allowed;
    /// - the safety set: `exit`, `exit_group`, `rt_sigreturn` (and `sigreturn` with i386),
    ///   `restart_syscall` and `execve` are allowed even when not seen, and `clone3` gets
    ///   ERRNO(ENOSYS) when not seen, so that glibc falls back to `clone`;
    /// - with `argumentRules`, four well-understood calls are narrowed to what was seen:
    ///   `socket` to the address families used, `personality` to the values used, `clone`
    ///   to calls without namespace flags when none were used, and `ioctl` refuses TIOCSTI
    ///   and TIOCLINUX (whatever the upper bits) unless the recording used them.
    public static func build(_ recordings: [SyscallRecording], native: SeccompArch = .x86_64,
                             argumentRules: Bool = true, runtime: ContainerRuntime? = nil) -> RecordedPolicy {
        build(recordings, native: native, argumentRules: argumentRules, runtimes: runtime.map { [$0] } ?? [])
    }

    /// As above, for every runtime in `runtimes` (`ContainerRuntime.defaults`: runc and crun).
    public static func build(_ recordings: [SyscallRecording], native: SeccompArch = .x86_64,
                             argumentRules: Bool = true, runtimes: [ContainerRuntime]) -> RecordedPolicy {
        var names = Set<String>()
        var arches = Set<SeccompArch>([native])
        var families = Set<UInt64>(), familiesComplete = true
        var personalities = Set<UInt64>(), personalitiesComplete = true
        var cloneFlags: UInt64 = 0
        var unnamed: [SyscallRecording.Call] = []
        for r in recordings {
            names.formUnion(r.names)
            arches.formUnion(r.architectures)
            families.formUnion(r.socketFamilies)
            familiesComplete = familiesComplete && r.socketFamiliesComplete
            personalities.formUnion(r.personalities)
            personalitiesComplete = personalitiesComplete && r.personalitiesComplete
            cloneFlags |= r.cloneFlags ?? 0
            unnamed += r.calls.filter { $0.name == nil }
        }
        let architectures = [native] + SyscallTable.architecturesWithNumbers.filter { $0 != native && arches.contains($0) }

        var safety: [SafetyAddition] = []
        func ensure(_ name: String, _ reason: String, runtimes: String? = nil) {
            guard SyscallTable.isKnown(name), !names.contains(name) else { return }
            names.insert(name)
            safety.append(SafetyAddition(name: name, action: .allow, errnoRet: nil, reason: reason, runtimes: runtimes))
        }
        ensure("execve", "the workload's own execve, made by bulkhead before the filter applies to it")
        ensure("exit", "a thread's end must never be refused")
        ensure("exit_group", "the process's end must never be refused")
        ensure("rt_sigreturn", "returning from a signal handler must never be refused")
        if architectures.contains(.x86) { ensure("sigreturn", "i386's signal return must never be refused") }
        ensure("restart_syscall", "the kernel's continuation of an interrupted call that was allowed")
        for (n, who) in ContainerRuntime.callsAfterFilter(of: runtimes) {
            ensure(n, "\(who)'s own init makes this call after it loads the filter, before the workload's execve", runtimes: who)
        }

        var rules: [SeccompRule] = []
        var notes: [String] = []
        if argumentRules {
            if names.contains("socket"), familiesComplete, !families.isEmpty {
                names.remove("socket")
                for f in families.sorted() {
                    rules.append(SeccompRule(names: ["socket"], action: .allow, args: [SeccompArgCondition(index: 0, value: f, op: .equal)]))
                }
                notes.append("socket: only the address families seen (\(families.sorted().map { SocketFamily.name($0) }.joined(separator: ", ")))")
            }
            if names.contains("personality"), personalitiesComplete, !personalities.isEmpty {
                names.remove("personality")
                for v in personalities.sorted() {
                    rules.append(SeccompRule(names: ["personality"], action: .allow, args: [SeccompArgCondition(index: 0, value: v, op: .equal)]))
                }
                notes.append("personality: only the values seen (\(personalities.sorted().map { "0x" + String($0, radix: 16) }.joined(separator: ", ")))")
            }
            if names.contains("clone"), cloneFlags & cloneNamespaceMask == 0 {
                names.remove("clone")
                rules.append(SeccompRule(names: ["clone"], action: .allow,
                                         args: [SeccompArgCondition(index: 0, value: cloneNamespaceMask, valueTwo: 0, op: .maskedEqual)]))
                notes.append("clone: only without namespace flags ((flags & 0x7e020000) == 0), as none were used")
            }
            if names.contains("ioctl") {
                names.remove("ioctl")
                for (mask, value) in SeccompMaskedComplement.branches(excluding: refusedIoctls, bits: 32) {
                    rules.append(SeccompRule(names: ["ioctl"], action: .allow,
                                             args: [SeccompArgCondition(index: 1, value: mask, valueTwo: value, op: .maskedEqual)]))
                }
                notes.append("ioctl: every request except TIOCSTI (0x5412) and TIOCLINUX (0x541c), upper 32 bits included")
            }
        }
        if !names.isEmpty { rules.append(SeccompRule(names: names.sorted(), action: .allow)) }
        if !names.contains("clone3"), !rules.contains(where: { $0.names.contains("clone3") }) {
            rules.append(SeccompRule(names: ["clone3"], action: .errno, errnoRet: 38))
            safety.append(SafetyAddition(name: "clone3", action: .errno, errnoRet: 38,
                                         reason: "not seen: ENOSYS (not EPERM) makes glibc fall back to clone"))
        }
        let policy = SeccompPolicy(defaultAction: .errno, defaultErrnoRet: 1, architectures: architectures, rules: rules).normalized()
        return RecordedPolicy(policy: policy, safetySet: safety, argumentRules: notes, unnamed: unnamed)
    }
}

/// The branches of a binary trie that cover every `bits`-bit value except `excluded`, each as
/// (mask, value) for `SCMP_CMP_MASKED_EQ` (`(arg & mask) == value`). Exactly one branch matches
/// any value that is not excluded; the masks never cover bits above `bits`, so an excluded value
/// with upper bits set (which the kernel truncates to the excluded one) matches nothing.
public enum SeccompMaskedComplement {
    public static func branches(excluding excluded: [UInt64], bits: Int) -> [(mask: UInt64, value: UInt64)] {
        var out: [(UInt64, UInt64)] = []
        func walk(_ mask: UInt64, _ value: UInt64, _ bit: Int, _ remaining: [UInt64]) {
            if remaining.isEmpty { out.append((mask, value)); return }
            if bit < 0 { return } // exactly an excluded value
            let b = UInt64(1) << UInt64(bit)
            for v in [value, value | b] {
                let m = mask | b
                walk(m, v, bit - 1, remaining.filter { $0 & m == v })
            }
        }
        walk(0, 0, bits - 1, excluded)
        return out
    }
}

/// Address-family names for reports (`AF_*`, include/linux/socket.h).
public enum SocketFamily {
    static let names: [UInt64: String] = [
        0: "AF_UNSPEC", 1: "AF_UNIX", 2: "AF_INET", 10: "AF_INET6", 16: "AF_NETLINK", 17: "AF_PACKET",
        38: "AF_ALG", 39: "AF_NFC", 40: "AF_VSOCK", 44: "AF_XDP",
    ]

    public static func name(_ family: UInt64) -> String { names[family].map { "\($0) (\(family))" } ?? "\(family)" }
}

extension SyscallRecording {
    /// Several recordings as one: counts added per (architecture, number), the first executable
    /// of the first recording that made the call, argument values united. The command and
    /// profile are the first recording's; the exit code is kept only when all agree.
    public static func merged(_ recordings: [SyscallRecording]) -> SyscallRecording {
        guard var m = recordings.first else { return SyscallRecording() }
        if recordings.count == 1 { return m }
        struct Key: Hashable { var arch: SeccompArch; var number: Int32 }
        var index: [Key: Int] = [:]
        var calls: [Call] = []
        var exes: [String] = []
        var families = Set<UInt64>(), personalities = Set<UInt64>()
        var clone: UInt64? = nil
        var stats = Stats()
        for r in recordings {
            for c in r.calls {
                let k = Key(arch: c.arch, number: c.number)
                if let i = index[k] {
                    calls[i].count &+= c.count
                    if calls[i].firstExecutable == nil { calls[i].firstExecutable = c.firstExecutable }
                } else {
                    index[k] = calls.count
                    calls.append(c)
                }
            }
            for e in r.executables where !exes.contains(e) { exes.append(e) }
            families.formUnion(r.socketFamilies)
            personalities.formUnion(r.personalities)
            if let f = r.cloneFlags { clone = (clone ?? 0) | f }
            stats.syscallEntries &+= r.stats.syscallEntries
            stats.ptraceStops &+= r.stats.ptraceStops
            stats.tasks &+= r.stats.tasks
            stats.execs &+= r.stats.execs
            stats.unknownArchitecture &+= r.stats.unknownArchitecture
            stats.outOfRange &+= r.stats.outOfRange
        }
        m.calls = SyscallRecordingReport.sorted(calls)
        m.executables = exes
        m.socketFamilies = families.sorted()
        m.socketFamiliesComplete = recordings.allSatisfy(\.socketFamiliesComplete)
        m.personalities = personalities.sorted()
        m.personalitiesComplete = recordings.allSatisfy(\.personalitiesComplete)
        m.cloneFlags = clone
        // Which recorders counted ("ebpf+ptrace" for a mixed merge), and the first fallback's reason.
        if !recordings.isEmpty { stats.recorder = Set(recordings.map(\.stats.recorder)).sorted().joined(separator: "+") }
        stats.fallbackReason = recordings.lazy.compactMap(\.stats.fallbackReason).first
        m.stats = stats
        m.exitCode = Set(recordings.map(\.exitCode)).count == 1 ? m.exitCode : nil
        return m
    }
}
