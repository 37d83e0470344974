import ArgumentParser
import Bulkhead
import BulkheadModel
import Foundation

struct RunCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "run",
        abstract: "Run a command inside a sandbox built from a layer profile.",
        discussion: """
        Precedence: these flags > the profile > its parents (extends) > built-in defaults.
        Example: bulkhead run --profile container --timeout 10s -- sh -c 'id; cat /proc/self/status'
        """
    )

    @Option(name: .shortAndLong, help: "Layer profile: a name on the search path or built in, or a YAML file.", completion: Completions.profiles)
    var profile: String = "container"

    @Option(help: ArgumentHelp("Write the JSON run report to FILE, or to standard output with '-'.", valueName: "FILE|-"))
    var report: String?

    @Option(help: ArgumentHelp("Kill the whole sandbox after this long (e.g. 500ms, 10s, 2m); exit status 124.", valueName: "DURATION"))
    var timeout: String?

    @Option(name: .shortAndLong, help: ArgumentHelp("Set an environment variable; NAME alone copies it from the caller.", valueName: "NAME[=VALUE]"))
    var env: [String] = []

    @Option(help: ArgumentHelp("Bind a host path into the sandbox (read-write unless :ro).", valueName: "SRC:DST[:ro|rw]"))
    var bind: [String] = []

    @Option(help: ArgumentHelp("Mount a size-limited tmpfs (default size: ephemeral-storage, else 64Mi).", valueName: "PATH[:SIZE]"))
    var tmpfs: [String] = []

    @Option(help: ArgumentHelp("Use this directory as the root filesystem instead of the host's root.", valueName: "DIR"), completion: .directory)
    var rootfs: String?

    @Option(help: "Hostname inside the sandbox.")
    var hostname: String?

    @Option(name: [.customShort("w"), .customLong("workdir")], help: "Working directory inside the sandbox.")
    var workdir: String?

    @Option(help: ArgumentHelp("Network: none (own namespace, loopback only) or host.", valueName: "none|host"), completion: Completions.networkModes)
    var network: String?

    @Option(name: .shortAndLong, help: ArgumentHelp("Run as this uid (and gid) inside the sandbox; names are looked up in the sandbox's root (/etc/passwd, /etc/group).", valueName: "UID[:GID]|NAME[:GROUP]"))
    var user: String?

    @Option(name: .customLong("group-add"), help: ArgumentHelp("Add a supplementary group (repeatable; names are looked up in the sandbox's /etc/group); adds to the profile's securityContext.supplementalGroups.", valueName: "GID|NAME"))
    var groupAdd: [String] = []

    @Option(name: .customLong("cap-add"), help: ArgumentHelp("Keep a capability (Kubernetes spelling, e.g. NET_BIND_SERVICE).", valueName: "CAP"), completion: Completions.capabilities)
    var capAdd: [String] = []

    @Option(name: .customLong("cap-drop"), help: ArgumentHelp("Drop a capability, or ALL.", valueName: "CAP"), completion: Completions.capabilitiesOrAll)
    var capDrop: [String] = []

    @Option(help: ArgumentHelp("Set an rlimit, e.g. nofile=1024 or nofile=1024:4096.", valueName: "NAME=SOFT[:HARD]"))
    var rlimit: [String] = []

    @Option(name: .customLong("ephemeral-storage"), help: ArgumentHelp("Size of /tmp (the disk quota), e.g. 16Mi.", valueName: "SIZE"))
    var ephemeralStorage: String?

    @Option(help: ArgumentHelp("CPU limit in CPUs or Kubernetes units (0.5, 500m): cpu.max.", valueName: "CPUS"))
    var cpus: String?

    @Option(help: ArgumentHelp("Memory limit (256Mi, 1Gi): memory.max; past it the OOM killer ends the workload.", valueName: "SIZE"))
    var memory: String?

    @Option(help: ArgumentHelp("Limit on processes and threads: pids.max.", valueName: "N"))
    var pids: String?

    @Option(name: .customLong("io-weight"), help: ArgumentHelp("Relative disk I/O weight, 1-10000: io.weight.", valueName: "N"))
    var ioWeight: UInt64?

    @Option(name: .customLong("io-max"), help: ArgumentHelp("Disk I/O throttle, as in io.max.", valueName: "'MAJ:MIN wbps=N rbps=N …'"))
    var ioMax: [String] = []

    @Option(help: ArgumentHelp("strict: refuse to start when a limit cannot be enforced (default); best-effort: start and report it.", valueName: "strict|best-effort"), completion: .list(["strict", "best-effort"]))
    var limits: String?

    @Option(help: ArgumentHelp("Seccomp policy: a Docker/OCI JSON file, RuntimeDefault, or Unconfined.", valueName: "FILE|RuntimeDefault|Unconfined"))
    var seccomp: String?

    @Flag(name: .customLong("seccomp-strict"), help: "Refuse a seccomp policy that runc loads only by changing it (unknown system-call names, contradicting rules); by default it is loaded as runc loads it, with a warning for each change.")
    var seccompStrict = false

    @Flag(name: .shortAndLong, help: "Give the workload a pty of bulkhead's own as its controlling terminal and stdio (never the caller's terminal).")
    var tty = false

    @Option(name: .customLong("preserve-fd"), help: ArgumentHelp("Pass this open file descriptor to the workload.", valueName: "FD"))
    var preserveFd: [Int32] = []

    @Option(name: .customLong("supplementary-groups"), help: ArgumentHelp("Rootless: keep (default: start, with a warning and the report's supplementaryGroupsKept) or refuse to start when your supplementary groups cannot be dropped.", valueName: "keep|refuse"), completion: .list(["keep", "refuse"]))
    var supplementaryGroups: String?

    // The spellings container users know (docker, podman, bwrap), each onto the field above it maps to.
    @Option(name: [.customShort("v"), .customLong("volume")], help: ArgumentHelp("As docker: --bind.", valueName: "SRC:DST[:ro|rw]"))
    var volume: [String] = []

    @Option(help: ArgumentHelp("As docker: a bind (read-write unless readonly) or a tmpfs.", valueName: "type=bind,source=SRC,target=DST[,readonly]|type=tmpfs,target=DST[,tmpfs-size=SIZE]"))
    var mount: [String] = []

    @Option(name: .customLong("ro-bind"), parsing: .upToNextOption, help: ArgumentHelp("As bwrap: a read-only --bind.", valueName: "SRC DST|SRC:DST"))
    var roBind: [String] = []

    @Flag(name: .customLong("read-only"), help: "Mount the root filesystem read-only (the default).")
    var readOnly = false

    @Flag(name: .customLong("read-write"), help: "Mount the root filesystem read-write: only a --rootfs DIR of your own; the host's root stays read-only.")
    var readWrite = false

    @Option(name: .customLong("env-file"), help: ArgumentHelp("Read NAME=VALUE lines (as docker; # comments) into the environment, before --env.", valueName: "FILE"))
    var envFile: [String] = []

    @Option(help: ArgumentHelp("Remove a variable from the environment the profile and --env set.", valueName: "NAME"))
    var unsetenv: [String] = []

    @Option(name: .customLong("pids-limit"), help: ArgumentHelp("As docker: --pids.", valueName: "N"))
    var pidsLimit: String?

    @Option(help: ArgumentHelp("As docker: --rlimit.", valueName: "NAME=SOFT[:HARD]"))
    var ulimit: [String] = []

    @Option(help: ArgumentHelp("As bwrap: --workdir.", valueName: "DIR"))
    var chdir: String?

    @Option(name: .customLong("shm-size"), help: ArgumentHelp("As docker: the size of the /dev/shm tmpfs (default 64Mi).", valueName: "SIZE"))
    var shmSize: String?

    @Option(help: ArgumentHelp("As docker: host shares the host's PID namespace (needs --userns host), private (the default) gives the sandbox its own.", valueName: "host|private"))
    var pid: String?

    @Option(help: ArgumentHelp("As docker: the IPC namespace: host or private (the default).", valueName: "host|private"))
    var ipc: String?

    @Option(help: ArgumentHelp("As docker: the UTS namespace (hostname): host or private (the default).", valueName: "host|private"))
    var uts: String?

    @Option(help: ArgumentHelp("As docker: the user namespace: host (root only: the workload's ids are the host's) or private (the default).", valueName: "host|private"))
    var userns: String?

    @Option(name: .customLong("cpuset-cpus"), help: ArgumentHelp("As docker: the CPUs the sandbox may run on (cpuset.cpus), e.g. 0-1,3; only online CPUs.", valueName: "LIST"))
    var cpusetCpus: String?

    @Option(help: ArgumentHelp("As docker: bind the host's device node at the same path (never created; the node's host mode still applies).", valueName: "/dev/NAME[:rw|rwm]"))
    var device: [String] = []

    @Option(name: .customLong("memory-swap"), parsing: .unconditional, help: ArgumentHelp("As docker: memory plus swap (needs --memory), or -1 for unlimited swap; without it swap is 0 under --memory.", valueName: "SIZE|-1"))
    var memorySwap: String?

    @Flag(name: .shortAndLong, help: "Print no warnings (as --log-level error); errors are still printed and the report keeps everything.")
    var quiet = false

    @Option(name: .customLong("log-level"), help: ArgumentHelp("What bulkhead prints on stderr: error, or warning (the default).", valueName: "error|warning"))
    var logLevel: String?

    @Option(name: .customLong("stop-signal"), help: ArgumentHelp("At --timeout, send this signal to the workload first (SIGTERM, SIGINT, SIGHUP, SIGQUIT, SIGUSR1, SIGUSR2; default SIGKILL at once).", valueName: "SIG"), completion: .list(FieldRules.stopSignals.map(\.name)))
    var stopSignal: String?

    @Option(name: .customLong("stop-timeout"), help: ArgumentHelp("With --stop-signal: how long to wait for the workload before SIGKILL (default 10s).", valueName: "DURATION"))
    var stopTimeout: String?

    @Flag(name: .customLong("dry-run"), help: "Print the effective profile and the launch plan, and run nothing.")
    var dryRun = false

    @Option(help: ArgumentHelp("Name the sandbox for `bulkhead ps` and `bulkhead stop NAME`: a DNS label, unique among running sandboxes.", valueName: "NAME"))
    var name: String?

    @Option(help: ArgumentHelp("Take a prepared sandbox from the warm pool at this socket (`bulkhead pool start`); BULKHEAD_POOL sets it too (not for root). The pool's profile applies; only --env, --workdir, --preserve-fd (3, 4, ...), --report and -q go with it.", valueName: "SOCKET"))
    var pool: String?

    /// Test-only: `step:N` (or `N`), `id-maps` (-2), `cgroup-create` (-3), `cgroup-leaves`, `cgroup-limits`, `cgroup-attach` (-4).
    @Option(name: .customLong("inject-fault"), help: .hidden)
    var injectFault: FaultPoint?

    @Argument(parsing: .postTerminator, help: "The command and its arguments, after --.")
    var command: [String] = []

    func validate() throws {
        if command.isEmpty { throw ValidationError("give the command after --, e.g. bulkhead run -- id") }
    }

    func run() throws {
        if let socket = pool ?? PooledRun.environmentSocket() { try runPooled(socket) }
        let parsed: Result<(ProfileLayer, Double?), ConfigError> = Result { () throws(ConfigError) in
            (try commandLineLayer(), try timeout.map { (t) throws(ConfigError) in try parseDuration(t) })
        }
        var invocation = RunInvocation(profile: profile, report: report, timeout: timeout, command: command,
                                       tty: tty, preserveFds: preserveFd, injectFault: injectFault)
        if case .failure(let e) = parsed { try Self.failBeforeLaunch(invocation, LaunchError(e), message: e.description) }
        guard case .success(let (overrides, timeoutSeconds)) = parsed else { throw ExitCode(ExitStatus.launchFailed) }
        invocation.seccompStrict = seccompStrict
        switch supplementaryGroups {
        case nil, "keep": break
        case "refuse": invocation.refuseKeptGroups = true
        case let other?:
            let e = ConfigError(file: "<command line>", field: "--supplementary-groups", message: "expected keep or refuse, got \"\(other)\"")
            try Self.failBeforeLaunch(invocation, LaunchError(e), message: e.description)
        }
        do throws(ConfigError) {
            if stopTimeout != nil && stopSignal == nil { invocation.stopSignal = SIGTERM }
            if let stopSignal { invocation.stopSignal = try FieldRules.stopSignal(stopSignal).at(flag: "--stop-signal") }
            if let stopTimeout { invocation.stopTimeoutSeconds = try DurationField.seconds(stopTimeout).at(flag: "--stop-timeout") }
            if invocation.stopSignal != nil && timeoutSeconds == nil {
                throw ConfigError(file: FieldRules.commandLine, field: stopSignal != nil ? "--stop-signal" : "--stop-timeout",
                                  message: "applies at --timeout; give --timeout DURATION too")
            }
        } catch {
            warn(error.description)
            throw ExitCode(ExitStatus.launchFailed)
        }
        switch logLevel {
        case nil, "warning", "warn": invocation.quiet = quiet
        case "error": invocation.quiet = true
        case let other?:
            warn(ConfigError(file: FieldRules.commandLine, field: "--log-level", message: "expected error or warning, got \"\(other)\"").description)
            throw ExitCode(ExitStatus.launchFailed)
        }
        if let name, case .failure(let r) = FieldRules.sandboxName(name) {
            let e = ConfigError(file: FieldRules.commandLine, field: "--name", message: r.message)
            try Self.failBeforeLaunch(invocation, LaunchError(e), message: e.description)
        }
        if dryRun { try Self.dryRun(invocation, overrides: overrides, timeoutSeconds: timeoutSeconds) }
        try Self.launch(invocation, overrides: overrides, timeoutSeconds: timeoutSeconds, name: name)
    }

    /// `--pool`: the flags that change the sandbox belong to the pool's profile and are refused
    /// here; `--env` (NAME=VALUE, or NAME from this environment), `--workdir`, `--preserve-fd`,
    /// `--report` and `-q` go with the request.
    func runPooled(_ socket: String) throws -> Never {
        // A flag the pool cannot honour is refused, never dropped: a flag that tightens the
        // sandbox (--seccomp-strict, --supplementary-groups refuse, --stop-signal) silently
        // ignored would run the command looser than asked; so would a flag value that does
        // not parse (it would leave the layer empty and pass the check below).
        var layer: ProfileLayer
        do { layer = try commandLineLayer() } catch {
            warn(error.description)
            throw ExitCode(ExitStatus.launchFailed)
        }
        let env = layer.env.map { "\($0.name)=\($0.value)" }
        layer.env = []
        layer.workingDir = nil
        let refused = [profile != "container" ? "--profile" : nil, timeout != nil ? "--timeout" : nil, tty ? "--tty" : nil,
                       name != nil ? "--name" : nil, dryRun ? "--dry-run" : nil, injectFault != nil ? "--inject-fault" : nil,
                       seccompStrict ? "--seccomp-strict" : nil, supplementaryGroups != nil ? "--supplementary-groups" : nil,
                       stopSignal != nil ? "--stop-signal" : nil, stopTimeout != nil ? "--stop-timeout" : nil,
                       layer != ProfileLayer() ? "flags that change the sandbox" : nil].compactMap { $0 }
        if let first = refused.first {
            warn(ConfigError(file: FieldRules.commandLine, field: first, message: "the pool's profile decides the sandbox: with --pool give only --env, --workdir, --preserve-fd, --report and -q").description)
            throw ExitCode(ExitStatus.launchFailed)
        }
        throw ExitCode(PooledRun.run(socket: socket, report: report, command: command, environment: env, workdir: workdir,
                                     preserveFds: preserveFd, quiet: quiet))
    }

    /// `--dry-run`: prepares the launch as `launch` does (every check, nothing started) and
    /// prints the effective profile and the plan `profile show --plan` prints; exit 0. It
    /// writes nothing: no cache is made, read or filled (the profile is parsed and the filter
    /// compiled afresh).
    static func dryRun(_ invocation: RunInvocation, overrides: ProfileLayer, timeoutSeconds: Double?) throws -> Never {
        let store = ProfileStore.standard(caching: false)
        do {
            var request = RunRequest(layers: try store.layers(for: invocation.profile), overrides: overrides, command: invocation.command,
                                     timeoutSeconds: timeoutSeconds, preserveFds: invocation.preserveFds)
            request.seccompStrict = invocation.seccompStrict
            let prepared = try Sandbox.prepare(request, store: store, seccompCache: nil)
            out(prepared.profile.yaml)
            ProfileCommand.Show.printPlan(prepared)
        } catch {
            warn("cannot start the sandbox: \(error)")
            throw ExitCode(ExitStatus.launchFailed)
        }
        throw ExitCode.success
    }

    /// Prepares, launches, supervises and reports (`RunLaunch.launch`, the one way through,
    /// shared with the launch executable); always ends by throwing the exit status.
    /// Shared by `run()` and `RunFastPath`.
    static func launch(_ invocation: RunInvocation, overrides: ProfileLayer, timeoutSeconds: Double?, name: String? = nil) throws -> Never {
        // `--name`: registered after every check, removed as soon as the sandbox has ended.
        var register: (() throws -> RunLaunch.Naming)?
        if let name {
            register = {
                let entry = try SandboxRegistry.register(name: name, profile: invocation.profile, command: invocation.command,
                                                         stopSignal: invocation.stopSignal)
                return RunLaunch.Naming(onStarted: { SandboxRegistry.recordInit(entry, pid: $0) }, unregister: { SandboxRegistry.unregister(entry) })
            }
        }
        throw ExitCode(RunLaunch.launch(invocation, overrides: overrides, timeoutSeconds: timeoutSeconds, store: .standard(), register: register))
    }

    /// A launch refused before anything was set up: `RunLaunch.failBeforeLaunch`'s message and
    /// report, exit status 125.
    static func failBeforeLaunch(_ invocation: RunInvocation, _ error: LaunchError, message: String? = nil) throws -> Never {
        throw ExitCode(RunLaunch.failBeforeLaunch(invocation, error, message: message))
    }

    /// The flags as the top profile layer: collected here, checked and built by the model's
    /// `CommandLineLayer` with the field rules profiles and manifests use.
    func commandLineLayer() throws(ConfigError) -> ProfileLayer {
        var flags = CommandLineLayer()
        flags.env = env
        flags.binds = bind
        flags.tmpfs = tmpfs
        flags.rootfs = rootfs
        flags.hostname = hostname
        flags.workdir = workdir
        flags.network = network
        flags.user = user
        flags.groupAdd = groupAdd
        flags.capAdd = capAdd
        flags.capDrop = capDrop
        flags.rlimits = rlimit
        flags.ephemeralStorage = ephemeralStorage
        flags.cpus = cpus
        flags.memory = memory
        flags.pids = pids
        flags.ioWeight = ioWeight.map { String($0) }
        flags.ioMax = ioMax
        flags.limits = limits
        flags.seccomp = seccomp
        flags.volumes = volume
        flags.mounts = mount
        flags.readOnlyBinds = roBind
        if readOnly && readWrite {
            throw ConfigError(file: FieldRules.commandLine, field: "--read-write", message: "give --read-only or --read-write, not both")
        }
        flags.readOnlyRoot = readOnly ? true : readWrite ? false : nil
        // Read as the caller, through the checked open (owner, mode, type, size); no content in errors.
        flags.envFiles = try envFile.map { (path) throws(ConfigError) in
            let absolute = path.hasPrefix("/") ? path : FileManager.default.currentDirectoryPath + "/" + path
            let f = try ProfileStore.readChecked(absolute, what: "env file", limit: FieldRules.envFileLimit)
            return CommandLineLayer.EnvFile(path: f.path, text: f.text)
        }
        flags.unsetEnv = unsetenv
        flags.pidsLimit = pidsLimit
        flags.ulimits = ulimit
        flags.chdir = chdir
        flags.shmSize = shmSize
        flags.memorySwap = memorySwap
        flags.devices = device
        flags.cpusetCPUs = cpusetCpus
        flags.pidNamespace = pid
        flags.ipcNamespace = ipc
        flags.utsNamespace = uts
        flags.userNamespace = userns
        return try flags.layer(environment: ProcessInfo.processInfo.environment,
                               currentDirectory: FileManager.default.currentDirectoryPath)
    }
}

/// `500ms`, `10s`, `2m`, `1h`, or plain seconds.
/// The rule is DurationField's (BulkheadModel): 1ms to 4294967295s.
func parseDuration(_ s: String) throws(ConfigError) -> Double {
    try DurationField.seconds(s).at(flag: "--timeout")
}

/// `--inject-fault`: FaultPoint(argument:) is the one reader of its spellings.
extension FaultPoint: ExpressibleByArgument {}
