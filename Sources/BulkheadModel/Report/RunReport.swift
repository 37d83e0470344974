/// Why a sandbox ended. Raw values are the report's spelling.
public enum TerminationReason: String, Codable, Sendable {
    /// The workload exited by itself; `exitCode` is its status.
    case exited
    /// The workload was killed by a signal; `signal` names it, `exitCode` is 128+N.
    case signaled
    /// The wall-clock limit (`--timeout`) was reached and the sandbox was killed (exit 124).
    case timeout
    /// A setup step failed before execve: nothing of the workload ran (exit 125).
    case launchFailed = "launch-failed"
    /// execve itself failed: not found (127) or not executable (126).
    case execFailed = "exec-failed"
    /// The memory limit killed the workload (cgroup memory events).
    case oomKilled = "oom-killed"
    /// The pids limit refused a fork while the workload ran.
    case pidsLimit = "pids-limit"
    /// The seccomp filter killed the workload (SIGSYS).
    case seccompViolation = "seccomp-violation"
}

/// Exit codes of `bulkhead run`, as documented in the README.
public enum ExitStatus {
    public static let timeout: Int32 = 124
    public static let launchFailed: Int32 = 125
    public static let notExecutable: Int32 = 126
    public static let notFound: Int32 = 127
}

/// The structured result of one sandbox run (`--report FILE|-`).
public struct RunReport: Codable, Sendable {
    public var bulkhead: String = BulkheadVersion.string
    public var command: [String]
    public var profile: String
    public var profileChain: [String]
    public var exitCode: Int32
    public var signal: String?
    public var reason: TerminationReason
    public var error: LaunchErrorReport?
    /// Launcher start to the workload's exit.
    public var wallTimeMs: Double
    /// Launcher start to the workload passing execve.
    public var launchTimeMs: Double?
    public var cpuUserMs: Double?
    public var cpuSystemMs: Double?
    /// Peak resident set of the sandbox's processes (getrusage of the init, KiB).
    public var maxRssKiB: Int?
    public var signalsForwarded: [String]
    /// At the timeout, the signals sent, in order (`["SIGTERM"]`, `["SIGTERM", "SIGKILL"]`,
    /// `["SIGKILL"]`); nil: no timeout fired.
    public var timeoutSignals: [String]?
    /// Milliseconds spent in each launcher phase, in order (where a launch's time goes).
    public var phasesMs: [PhaseTiming] = []
    public var controls: AppliedControls
    /// The cgroup limits asked for, which were enforced and how (nil: none asked, no cgroup).
    public var limits: LimitsReport?
    /// The sandbox's cgroup and what it measured.
    public var cgroup: CgroupReport?
    /// The system calls the seccomp policy refused with an errno while the workload ran, by
    /// name, architecture and count (nil: none, or not reported: `controls.seccomp.violations`
    /// says which). Calls a kill action refused end the run with `reason: seccomp-violation`.
    public var seccompViolations: [SeccompViolation]?
    /// The launch came from a warm pool (`bulkhead run --pool`): which one and how long the
    /// sandbox was prepared and waited before this request; nil for a cold launch. The times,
    /// phases and `wallTimeMs` of a pooled report start when the pool received the request.
    public var pool: PoolRunReport?

    public init(command: [String], profile: String, profileChain: [String], exitCode: Int32, signal: String?,
                reason: TerminationReason, error: LaunchErrorReport?, wallTimeMs: Double, launchTimeMs: Double?,
                cpuUserMs: Double?, cpuSystemMs: Double?, maxRssKiB: Int?, signalsForwarded: [String],
                controls: AppliedControls) {
        self.command = command
        self.profile = profile
        self.profileChain = profileChain
        self.exitCode = exitCode
        self.signal = signal
        self.reason = reason
        self.error = error
        self.wallTimeMs = wallTimeMs
        self.launchTimeMs = launchTimeMs
        self.cpuUserMs = cpuUserMs
        self.cpuSystemMs = cpuSystemMs
        self.maxRssKiB = maxRssKiB
        self.signalsForwarded = signalsForwarded
        self.controls = controls
    }
}

public struct PhaseTiming: Codable, Sendable, Equatable {
    public var phase: String
    public var ms: Double
    public init(phase: String, ms: Double) { self.phase = phase; self.ms = ms }
}

public struct LimitsReport: Codable, Sendable, Equatable {
    /// strict or best-effort.
    public var enforcement: String
    /// v2, v1, or "v1+v2" on a hybrid host.
    public var driver: String?
    /// What the cgroup driver wrote, as `SandboxCgroup` returned it.
    public var enforced: [EnforcedLimit]
    public var notEnforced: [NotEnforcedLimit]
    public init(enforcement: String, driver: String?, enforced: [EnforcedLimit], notEnforced: [NotEnforcedLimit]) {
        self.enforcement = enforcement; self.driver = driver; self.enforced = enforced; self.notEnforced = notEnforced
    }
}

public struct CgroupReport: Codable, Sendable, Equatable {
    /// `bulkhead/<tenant>/<pod>/<leaf>`, relative to each hierarchy's base.
    public var path: String?
    public var directories: [String]
    public var stats: CgroupStats?
    /// Why there is no cgroup, or what went wrong removing it.
    public var note: String?
    public init(path: String?, directories: [String], stats: CgroupStats?, note: String?) {
        self.path = path; self.directories = directories; self.stats = stats; self.note = note
    }
}

/// What a cgroup measured: `SandboxCgroup.stats()` reads it, the report's `cgroup.stats`
/// shows it. `nil` (absent from the report) means the host did not provide that figure.
public struct CgroupStats: Codable, Sendable, Equatable {
    /// Highest memory usage seen: memory.peak (v2, Linux 5.19+) or
    /// memory.max_usage_in_bytes (v1).
    public var memoryPeakBytes: UInt64?
    /// CPU time used: cpu.stat usage_usec (v2) or cpuacct.usage / 1000 (v1).
    public var cpuUsageMicros: UInt64?
    /// Enforcement periods elapsed and throttled (cpu.stat, v1 and v2).
    public var cpuPeriods: UInt64?
    public var cpuThrottledPeriods: UInt64?
    /// Time throttled: throttled_usec (v2) or throttled_time / 1000 (v1, nanoseconds).
    public var cpuThrottledMicros: UInt64?
    /// Processes the OOM killer killed: memory.events oom_kill (v2),
    /// memory.oom_control oom_kill (v1).
    public var oomKills: UInt64?
    /// Forks refused at pids.max: pids.events max.
    public var pidsMaxHits: UInt64?
    /// The most tasks (processes and threads) the cgroup held at once: pids.peak (Linux 6.1+,
    /// v2 and the v1 pids controller alike). nil on older kernels, and on a cgroup v2 host
    /// when the leaf has no pids controller (bulkhead enables it there only for a pids limit).
    public var pidsPeak: UInt64?
    public init(memoryPeakBytes: UInt64? = nil, cpuUsageMicros: UInt64? = nil, cpuPeriods: UInt64? = nil,
                cpuThrottledPeriods: UInt64? = nil, cpuThrottledMicros: UInt64? = nil, oomKills: UInt64? = nil,
                pidsMaxHits: UInt64? = nil, pidsPeak: UInt64? = nil) {
        self.memoryPeakBytes = memoryPeakBytes; self.cpuUsageMicros = cpuUsageMicros; self.cpuPeriods = cpuPeriods
        self.cpuThrottledPeriods = cpuThrottledPeriods; self.cpuThrottledMicros = cpuThrottledMicros
        self.oomKills = oomKills; self.pidsMaxHits = pidsMaxHits; self.pidsPeak = pidsPeak
    }
}

public struct LaunchErrorReport: Codable, Sendable, Equatable {
    /// Index of the failed plan step, when a step failed (`bulkhead profile show --plan` lists them).
    public var step: Int?
    public var operation: String
    public var errno: String?
    public var message: String
    /// Where the input that failed was given, when the failure was the input's (a failure before
    /// launch): the profile file (or `<command line>`), its field (or the flag) and line.
    public var file: String?
    public var field: String?
    public var line: Int?
    /// When the input had several errors (a Pod manifest's): each of them, this one first, in
    /// file order, at most `ConfigError.listLimit`; nil for one error.
    public var errors: [LaunchErrorReport]?
    /// How many more errors the input had than `errors` lists.
    public var errorsNotListed: Int?
    public init(step: Int?, operation: String, errno: String?, message: String,
                file: String? = nil, field: String? = nil, line: Int? = nil) {
        self.step = step; self.operation = operation; self.errno = errno; self.message = message
        self.file = file; self.field = field; self.line = line
    }
}

/// The controls that were in force for the workload: what the report promises was applied.
public struct AppliedControls: Codable, Sendable, Equatable {
    public var namespaces: [String]
    /// The host's namespaces the sandbox kept (`--pid host`, a profile's `namespaces.ipc:
    /// false`, network mode host …): every kind it neither created nor joined from a pod.
    public var hostNamespaces: [String]?
    public var uidMap: String?
    public var gidMap: String?
    /// Rootless only: the caller's supplementary groups (host gids) that the workload still
    /// holds. An unprivileged launcher must deny setgroups(2) to write its gid map, so they
    /// cannot be dropped (they show as 65534 inside, but grant their access on host files).
    /// Nil when none are kept.
    public var supplementaryGroupsKept: [UInt32]?
    public var runAsUser: UInt32
    public var runAsGroup: UInt32
    public var capabilities: [String]
    public var noNewPrivs: Bool
    public var seccomp: SeccompControl?
    public var rootFilesystem: String
    public var readOnlyRootFilesystem: Bool
    public var maskedPaths: [String]
    public var readonlyPaths: [String]
    public var tmpfs: [TmpfsControl]
    public var binds: [String]
    /// Landlock rules in force, and the ABI version they were built for.
    public var landlock: LandlockControl?
    public var network: String
    public var hostname: String?
    public var rlimits: [String: String]

    public init(namespaces: [String], uidMap: String?, gidMap: String?, runAsUser: UInt32, runAsGroup: UInt32,
                capabilities: [String], noNewPrivs: Bool, seccomp: SeccompControl?, rootFilesystem: String,
                readOnlyRootFilesystem: Bool, maskedPaths: [String], readonlyPaths: [String], tmpfs: [TmpfsControl],
                binds: [String], network: String, hostname: String?, rlimits: [String: String]) {
        self.namespaces = namespaces; self.uidMap = uidMap; self.gidMap = gidMap; self.runAsUser = runAsUser
        self.runAsGroup = runAsGroup; self.capabilities = capabilities; self.noNewPrivs = noNewPrivs
        self.seccomp = seccomp; self.rootFilesystem = rootFilesystem; self.readOnlyRootFilesystem = readOnlyRootFilesystem
        self.maskedPaths = maskedPaths; self.readonlyPaths = readonlyPaths; self.tmpfs = tmpfs; self.binds = binds
        self.network = network; self.hostname = hostname; self.rlimits = rlimits
    }
}

extension AppliedControls {
    /// The controls of a sandbox that was never built: no namespace, no capability, no mount,
    /// empty root filesystem and network. runAsUser and runAsGroup are 65534 (the overflow id,
    /// "nobody"): no workload ran under any id.
    public static let nothingApplied = AppliedControls(
        namespaces: [], uidMap: nil, gidMap: nil, runAsUser: 65534, runAsGroup: 65534, capabilities: [],
        noNewPrivs: false, seccomp: nil, rootFilesystem: "", readOnlyRootFilesystem: false, maskedPaths: [],
        readonlyPaths: [], tmpfs: [], binds: [], network: "", hostname: nil, rlimits: [:])
}

public struct LandlockControl: Codable, Sendable, Equatable {
    public var abi: Int
    public var readOnly: [String]
    public var readWrite: [String]
    public var bindTCP: [UInt16]?
    public var connectTCP: [UInt16]?
    public init(abi: Int, readOnly: [String], readWrite: [String], bindTCP: [UInt16]?, connectTCP: [UInt16]?) {
        self.abi = abi; self.readOnly = readOnly; self.readWrite = readWrite; self.bindTCP = bindTCP; self.connectTCP = connectTCP
    }
}

public struct SeccompControl: Codable, Sendable, Equatable {
    /// RuntimeDefault, Localhost:PATH or inline.
    public var source: String
    public var defaultAction: String
    public var rules: Int
    public var bpfInstructions: Int
    /// The compiled program came from the content-addressed cache.
    public var cached: Bool
    /// What was changed to read the policy as runc does (unknown names skipped, contradicting
    /// rules resolved), the warnings' lines; absent when nothing was (a cached program has those of the run that compiled it).
    public var changes: [String]?
    /// Whether refused calls are reported (`RunReport.seccompViolations`): "reported", or why
    /// not (the policy refuses the hand-over's own sendmsg/close; record mode). Nil in reports
    /// of bulkhead versions before it.
    public var violations: String?
    /// The launcher's own CPU time spent answering refused calls, and how long it paused its
    /// answers so that this stays within the sandbox's CPU limit (cpu.max below one CPU); nil
    /// when nothing was reported.
    public var answerCPUMs: Double?
    public var answerPausedMs: Double?
    /// Why the compiled program could not be cached (no usable cache directory for this user:
    /// `CacheLocation`): every launch compiles it again. Nil when the cache was used or turned off.
    public var cacheUnavailable: String?
    public init(source: String, defaultAction: String, rules: Int, bpfInstructions: Int, cached: Bool = false) {
        self.source = source; self.defaultAction = defaultAction; self.rules = rules; self.bpfInstructions = bpfInstructions
        self.cached = cached
    }
}

public struct TmpfsControl: Codable, Sendable, Equatable {
    public var path: String
    public var sizeBytes: UInt64
    public init(path: String, sizeBytes: UInt64) { self.path = path; self.sizeBytes = sizeBytes }
}

public enum BulkheadVersion {
    public static let string = "0.1.0"
}

/// `RunReport.pool`: a launch served by a warm pool's prepared sandbox.
public struct PoolRunReport: Codable, Sendable, Equatable {
    /// The pool's socket.
    public var socket: String
    /// The sandbox's serial number in its pool (1, 2, ...): each is served once.
    public var sandbox: Int
    /// The pool's process id.
    public var poolPID: Int32
    /// From the start of the sandbox's preparation until its init waited for a request.
    public var preparedMs: Double = 0
    /// How long it waited, ready, until this request.
    public var waitedMs: Double = 0

    public init(socket: String, sandbox: Int, poolPID: Int32) {
        self.socket = socket; self.sandbox = sandbox; self.poolPID = poolPID
    }
}
