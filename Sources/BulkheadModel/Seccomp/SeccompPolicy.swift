/// A seccomp policy in the vocabulary of the OCI runtime spec's `LinuxSeccomp`, which is also
/// what Kubernetes' `seccompProfile.type: Localhost` loads. Docker's and Podman's extensions
/// (`archMap`, `includes`/`excludes`, `comment`) are resolved away while parsing, so a value of
/// this type is always something runc would load as it is.
public struct SeccompPolicy: Sendable, Equatable, Hashable {
    /// What happens to a system call that no rule matches.
    public var defaultAction: SeccompAction
    /// The errno of `defaultAction` when it is `SCMP_ACT_ERRNO` or `SCMP_ACT_TRACE`; nil means
    /// the runtime's default (EPERM for runc).
    public var defaultErrnoRet: UInt32?
    /// The architectures the filter accepts; an empty list means only the native one.
    public var architectures: [SeccompArch]
    /// Filter flags (`SECCOMP_FILTER_FLAG_*`), passed through to the runtime.
    public var flags: [String]
    /// The rules, in document order.
    public var rules: [SeccompRule]
    /// The unix socket a `SCMP_ACT_NOTIFY` listener waits on (runtime spec `listenerPath`).
    public var listenerPath: String?
    /// Opaque data passed to that listener (runtime spec `listenerMetadata`).
    public var listenerMetadata: String?

    public init(
        defaultAction: SeccompAction, defaultErrnoRet: UInt32? = nil, architectures: [SeccompArch] = [],
        flags: [String] = [], rules: [SeccompRule] = [], listenerPath: String? = nil, listenerMetadata: String? = nil
    ) {
        self.defaultAction = defaultAction
        self.defaultErrnoRet = defaultErrnoRet
        self.architectures = architectures
        self.flags = flags
        self.rules = rules
        self.listenerPath = listenerPath
        self.listenerMetadata = listenerMetadata
    }

    /// The filter flags the runtime spec defines (`SECCOMP_FILTER_FLAG_*`, seccomp(2)).
    public static let knownFlags = [
        "SECCOMP_FILTER_FLAG_TSYNC", "SECCOMP_FILTER_FLAG_LOG", "SECCOMP_FILTER_FLAG_SPEC_ALLOW",
        "SECCOMP_FILTER_FLAG_WAIT_KILLABLE_RECV",
    ]

    /// The largest errno a filter can return: the kernel's MAX_ERRNO.
    public static let maxErrno: UInt32 = 4095
}

/// One rule: the listed system calls get `action` when every condition in `args` holds.
public struct SeccompRule: Sendable, Equatable, Hashable {
    public var names: [String]
    public var action: SeccompAction
    /// The errno for `SCMP_ACT_ERRNO` (or the tracer's message for `SCMP_ACT_TRACE`).
    public var errnoRet: UInt32?
    /// Conditions, all of which must hold (libseccomp ANDs them).
    public var args: [SeccompArgCondition]
    /// Docker's free-text `comment`; not written to the strict runtime-spec form.
    public var comment: String?

    public init(
        names: [String], action: SeccompAction, errnoRet: UInt32? = nil, args: [SeccompArgCondition] = [],
        comment: String? = nil
    ) {
        self.names = names
        self.action = action
        self.errnoRet = errnoRet
        self.args = args
        self.comment = comment
    }

    /// True when the rule has no argument conditions.
    public var isUnconditional: Bool { args.isEmpty }
}

/// A comparison of one system-call argument. For `SCMP_CMP_MASKED_EQ`, `value` is the mask and
/// `valueTwo` the value compared with the masked argument: `(arg & value) == valueTwo`
/// (the runtime-spec and libseccomp meaning).
public struct SeccompArgCondition: Sendable, Equatable, Hashable {
    /// The argument's position, 0...5.
    public var index: UInt32
    public var value: UInt64
    public var valueTwo: UInt64
    public var op: SeccompOp

    public init(index: UInt32, value: UInt64, valueTwo: UInt64 = 0, op: SeccompOp) {
        self.index = index
        self.value = value
        self.valueTwo = valueTwo
        self.op = op
    }
}

/// A filter action, spelled as in the OCI runtime spec and Docker's profiles.
public enum SeccompAction: String, Sendable, Hashable, CaseIterable {
    case kill = "SCMP_ACT_KILL"
    case killProcess = "SCMP_ACT_KILL_PROCESS"
    case killThread = "SCMP_ACT_KILL_THREAD"
    case trap = "SCMP_ACT_TRAP"
    case errno = "SCMP_ACT_ERRNO"
    case trace = "SCMP_ACT_TRACE"
    case allow = "SCMP_ACT_ALLOW"
    case log = "SCMP_ACT_LOG"
    case notify = "SCMP_ACT_NOTIFY"

    /// Whether the action takes an `errnoRet` (the errno, or the value reported to the tracer).
    public var takesErrnoRet: Bool { self == .errno || self == .trace }

    /// Whether the system call runs (possibly logged): a rule with such an action lets a call
    /// through that a refusing default would stop.
    public var letsCallRun: Bool { self == .allow || self == .log }
}

/// An argument comparison operator, spelled as in the OCI runtime spec.
public enum SeccompOp: String, Sendable, Hashable, CaseIterable {
    case notEqual = "SCMP_CMP_NE"
    case lessThan = "SCMP_CMP_LT"
    case lessOrEqual = "SCMP_CMP_LE"
    case equal = "SCMP_CMP_EQ"
    case greaterOrEqual = "SCMP_CMP_GE"
    case greaterThan = "SCMP_CMP_GT"
    case maskedEqual = "SCMP_CMP_MASKED_EQ"
}

/// An architecture a filter may accept, spelled as in the OCI runtime spec.
public enum SeccompArch: String, Sendable, Hashable, CaseIterable {
    case x86 = "SCMP_ARCH_X86"
    case x86_64 = "SCMP_ARCH_X86_64"
    case x32 = "SCMP_ARCH_X32"
    case arm = "SCMP_ARCH_ARM"
    case aarch64 = "SCMP_ARCH_AARCH64"
    case mips = "SCMP_ARCH_MIPS"
    case mips64 = "SCMP_ARCH_MIPS64"
    case mips64n32 = "SCMP_ARCH_MIPS64N32"
    case mipsel = "SCMP_ARCH_MIPSEL"
    case mipsel64 = "SCMP_ARCH_MIPSEL64"
    case mipsel64n32 = "SCMP_ARCH_MIPSEL64N32"
    case ppc = "SCMP_ARCH_PPC"
    case ppc64 = "SCMP_ARCH_PPC64"
    case ppc64le = "SCMP_ARCH_PPC64LE"
    case s390 = "SCMP_ARCH_S390"
    case s390x = "SCMP_ARCH_S390X"
    case parisc = "SCMP_ARCH_PARISC"
    case parisc64 = "SCMP_ARCH_PARISC64"
    case riscv64 = "SCMP_ARCH_RISCV64"
    case loongarch64 = "SCMP_ARCH_LOONGARCH64"
    case m68k = "SCMP_ARCH_M68K"
    case sh = "SCMP_ARCH_SH"
    case sheb = "SCMP_ARCH_SHEB"

    /// The names Docker's `includes.arches`/`excludes.arches` use (Go's GOARCH, plus the
    /// libseccomp short names Docker's profile also writes, e.g. "x32", "x86").
    public var dockerNames: Set<String> {
        switch self {
        case .x86: return ["386", "x86"]
        case .x86_64: return ["amd64", "x86_64"]
        case .x32: return ["x32"]
        case .arm: return ["arm"]
        case .aarch64: return ["arm64", "aarch64"]
        case .mips: return ["mips"]
        case .mips64: return ["mips64"]
        case .mips64n32: return ["mips64n32"]
        case .mipsel: return ["mipsle", "mipsel"]
        case .mipsel64: return ["mips64le", "mipsel64"]
        case .mipsel64n32: return ["mips64len32", "mipsel64n32"]
        case .ppc: return ["ppc"]
        case .ppc64: return ["ppc64"]
        case .ppc64le: return ["ppc64le"]
        case .s390: return ["s390"]
        case .s390x: return ["s390x"]
        case .parisc: return ["parisc"]
        case .parisc64: return ["parisc64"]
        case .riscv64: return ["riscv64"]
        case .loongarch64: return ["loong64", "loongarch64"]
        case .m68k: return ["m68k"]
        case .sh: return ["sh"]
        case .sheb: return ["sheb"]
        }
    }
}

/// What a Docker-style profile's `includes`/`excludes` conditions are resolved against.
public struct SeccompContext: Sendable {
    /// Capabilities the container holds, spelled `CAP_SYS_ADMIN`.
    public var capabilities: Set<String>
    /// The native architecture of the container.
    public var architecture: SeccompArch
    /// (major, minor) of the kernel; nil keeps rules that carry `minKernel`.
    public var kernelVersion: (Int, Int)?
    /// What to do when two unconditional rules give one system call different actions.
    public var conflictingRules: SeccompConflictResolution
    /// What to do with a system-call name bulkhead does not know.
    public var unknownNames: SeccompUnknownNames

    public init(
        capabilities: Set<String> = [], architecture: SeccompArch = .x86_64, kernelVersion: (Int, Int)? = nil,
        conflictingRules: SeccompConflictResolution = .refuse, unknownNames: SeccompUnknownNames = .refuse
    ) {
        self.unknownNames = unknownNames
        self.capabilities = capabilities
        self.architecture = architecture
        self.kernelVersion = kernelVersion
        self.conflictingRules = conflictingRules
    }
}

/// Two unconditional rules that give one system call different actions.
public enum SeccompConflictResolution: Sendable, Hashable {
    /// A `ConfigError` naming both rules (the default: the profile does not say what it means).
    case refuse
    /// Read the rules as runc and libseccomp do (`SeccompRuntimeLoading`): the first
    /// unconditional rule of a call wins, rules with the default action are skipped, and every
    /// change is a `SeccompLoadNote`. Podman's default profile needs this: it allows `setns`
    /// unconditionally and also refuses it to containers without CAP_SYS_ADMIN, and Podman
    /// (through runc or crun) allows it.
    case firstRuleWins
}
