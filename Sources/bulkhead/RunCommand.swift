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

    @Option(name: .shortAndLong, help: "Layer profile: a name on the search path or built in, or a YAML file.")
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

    @Option(help: ArgumentHelp("Use this directory as the root filesystem instead of the host's root.", valueName: "DIR"))
    var rootfs: String?

    @Option(help: "Hostname inside the sandbox.")
    var hostname: String?

    @Option(name: [.customShort("w"), .customLong("workdir")], help: "Working directory inside the sandbox.")
    var workdir: String?

    @Option(help: ArgumentHelp("Network: none (own namespace, loopback only) or host.", valueName: "none|host"))
    var network: String?

    @Option(name: .shortAndLong, help: ArgumentHelp("Run as this uid (and gid) inside the sandbox.", valueName: "UID[:GID]"))
    var user: String?

    @Option(name: .customLong("cap-add"), help: ArgumentHelp("Keep a capability (Kubernetes spelling, e.g. NET_BIND_SERVICE).", valueName: "CAP"))
    var capAdd: [String] = []

    @Option(name: .customLong("cap-drop"), help: ArgumentHelp("Drop a capability, or ALL.", valueName: "CAP"))
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

    @Option(help: ArgumentHelp("strict: refuse to start when a limit cannot be enforced (default); best-effort: start and report it.", valueName: "strict|best-effort"))
    var limits: String?

    @Option(help: ArgumentHelp("Seccomp policy: a Docker/OCI JSON file, RuntimeDefault, or Unconfined.", valueName: "FILE|RuntimeDefault|Unconfined"))
    var seccomp: String?

    @Flag(name: .shortAndLong, help: "Give the workload a pty of bulkhead's own as its controlling terminal and stdio (never the caller's terminal).")
    var tty = false

    @Option(name: .customLong("preserve-fd"), help: ArgumentHelp("Pass this open file descriptor to the workload.", valueName: "FD"))
    var preserveFd: [Int32] = []

    @Option(name: .customLong("supplementary-groups"), help: ArgumentHelp("Rootless: keep (default: start, with a warning and the report's supplementaryGroupsKept) or refuse to start when your supplementary groups cannot be dropped.", valueName: "keep|refuse"))
    var supplementaryGroups: String?

    @Option(name: .customLong("inject-fault"), help: .hidden)
    var injectFault: Int?

    @Argument(parsing: .postTerminator, help: "The command and its arguments, after --.")
    var command: [String] = []

    func validate() throws {
        if command.isEmpty { throw ValidationError("give the command after --, e.g. bulkhead run -- id") }
    }

    func run() throws {
        let parsed: Result<(ProfileLayer, Double?), ConfigError> = Result { () throws(ConfigError) in
            (try commandLineLayer(), try timeout.map { (t) throws(ConfigError) in try parseDuration(t) })
        }
        guard case .success(let (overrides, timeoutSeconds)) = parsed else {
            if case .failure(let e) = parsed { warn(e.description) }
            throw ExitCode(ExitStatus.launchFailed)
        }
        var invocation = RunInvocation(profile: profile, report: report, timeout: timeout, command: command,
                                       tty: tty, preserveFds: preserveFd, failAtStep: injectFault)
        switch supplementaryGroups {
        case nil, "keep": break
        case "refuse": invocation.refuseKeptGroups = true
        case let other?:
            warn(ConfigError(file: "<command line>", field: "--supplementary-groups", message: "expected keep or refuse, got \"\(other)\"").description)
            throw ExitCode(ExitStatus.launchFailed)
        }
        try Self.launch(invocation, overrides: overrides, timeoutSeconds: timeoutSeconds)
    }

    /// Prepares, launches, supervises and reports; always ends by throwing the exit status.
    /// Shared by `run()` and `RunFastPath`.
    static func launch(_ invocation: RunInvocation, overrides: ProfileLayer, timeoutSeconds: Double?) throws -> Never {
        let (profile, report, timeout, command) = (invocation.profile, invocation.report, invocation.timeout, invocation.command)
        let store = ProfileStore.standard()
        let prepared: PreparedLaunch
        do {
            // The profile is read here, once, through the store's checks; the sandbox gets its layers.
            var request = RunRequest(layers: try store.layers(for: profile), overrides: overrides, command: command,
                                     timeoutSeconds: timeoutSeconds, preserveFds: invocation.preserveFds, failAtStep: invocation.failAtStep)
            request.tty = invocation.tty
            request.refuseKeptGroups = invocation.refuseKeptGroups
            prepared = try Sandbox.prepare(request, store: store)
        } catch {
            warn("cannot start the sandbox: \(error)")
            throw ExitCode(ExitStatus.launchFailed)
        }
        for w in prepared.warnings { warn(w) }
        // The report file is opened before the launch: a bad path must fail before anything runs.
        var reportHandle: FileHandle?
        if let report, report != "-" {
            guard let h = OutputFile.open(report) else {
                warn("cannot write the report to \(report)")
                throw ExitCode(ExitStatus.launchFailed)
            }
            reportHandle = h
        }
        let result = Sandbox.run(prepared)
        if let error = result.error {
            warn(result.reason == .execFailed ? error.message : "cannot start the sandbox: \(error.message)")
        } else if result.reason == .timeout {
            warn("timeout: the sandbox was killed after \(timeout ?? "")")
        } else if result.reason == .oomKilled {
            let limit = prepared.profile.limits.memoryBytes.map { Quantity.formatBytes($0) } ?? "?"
            warn("out of memory: the OOM killer ended a process of the sandbox (memory limit \(limit))")
        } else if result.reason == .pidsLimit {
            warn("the pids limit (\(prepared.profile.limits.pids.map(String.init) ?? "?")) refused a fork in the sandbox")
        }
        if let report {
            let json = ReportJSON.encode(result)
            if report == "-" { out(json + "\n") } else { reportHandle?.write(Data((json + "\n").utf8)); try? reportHandle?.close() }
        }
        throw ExitCode(result.exitCode)
    }

    /// The flags as the top profile layer.
    func commandLineLayer() throws(ConfigError) -> ProfileLayer {
        var l = ProfileLayer()
        func bad(_ flag: String, _ msg: String) -> ConfigError { ConfigError(file: "<command line>", field: flag, message: msg) }
        for e in env {
            if let eq = e.firstIndex(of: "=") {
                let name = String(e[..<eq])
                guard ProfileParser.isValidEnvName(name) else { throw bad("--env", "invalid variable name \"\(name)\"") }
                l.env.append(EnvVar(name: name, value: String(e[e.index(after: eq)...])))
            } else if let v = ProcessInfo.processInfo.environment[e] {
                l.env.append(EnvVar(name: e, value: v))
            }
        }
        var binds: [BindMount] = []
        for b in bind {
            var parts = b.split(separator: ":", omittingEmptySubsequences: false).map(String.init)
            var ro = false
            if parts.count == 3 {
                guard parts[2] == "ro" || parts[2] == "rw" else { throw bad("--bind", "the third field is ro or rw, got \"\(parts[2])\"") }
                ro = parts[2] == "ro"
                parts.removeLast()
            }
            guard (1...2).contains(parts.count), parts.allSatisfy({ $0.hasPrefix("/") }), !parts.contains(where: { $0.split(separator: "/").contains("..") }) else {
                throw bad("--bind", "expected SRC:DST[:ro|rw] with absolute paths, got \"\(b)\"")
            }
            binds.append(BindMount(source: ProfileParser.normalize(parts[0]), destination: ProfileParser.normalize(parts.last!), readOnly: ro))
        }
        if !binds.isEmpty { l.binds = binds }
        if !tmpfs.isEmpty {
            l.tmpfs = try tmpfs.map { t throws(ConfigError) in
                let parts = t.split(separator: ":", maxSplits: 1, omittingEmptySubsequences: false).map(String.init)
                guard parts[0].hasPrefix("/") else { throw bad("--tmpfs", "expected PATH[:SIZE] with an absolute path, got \"\(t)\"") }
                var size: UInt64?
                if parts.count == 2 {
                    size = try NumberField.storage.parse(parts[1], file: "<command line>", field: "--tmpfs")
                }
                return TmpfsMount(path: ProfileParser.normalize(parts[0]), sizeBytes: size)
            }
        }
        if let rootfs {
            guard rootfs.hasPrefix("/"), !rootfs.split(separator: "/").contains("..") else { throw bad("--rootfs", "expected an absolute path without \"..\"") }
            l.root = rootfs == "/" ? .host : .directory(ProfileParser.normalize(rootfs))
        }
        if let hostname { l.hostname = hostname }
        if let workdir {
            if let problem = WorkingDirectory.problem(workdir) { throw bad("--workdir", problem) }
            l.workingDir = ProfileParser.normalize(workdir)
        }
        if let network {
            guard let m = NetworkMode(rawValue: network) else { throw bad("--network", "expected none or host, got \"\(network)\"") }
            l.network = m
        }
        if let user {
            let parts = user.split(separator: ":").map(String.init)
            guard (1...2).contains(parts.count) else { throw bad("--user", "expected UID[:GID] as numbers; accepted: \(NumberField.id.rangeText) each, got \"\(user)\"") }
            let u = UInt32(try NumberField.id.parse(parts[0], file: "<command line>", field: "--user"))
            l.runAsUser = u
            l.runAsGroup = parts.count == 2 ? UInt32(try NumberField.id.parse(parts[1], file: "<command line>", field: "--user")) : u
        }
        for c in capAdd + capDrop where c.uppercased() != "ALL" && Capability(name: c) == nil {
            var msg = "unknown capability \"\(c)\""
            if let s = closestMatch(to: c, in: Capability.allCases.map(\.kubernetesName)) { msg += "; did you mean \"\(s)\"?" }
            throw bad(capAdd.contains(c) ? "--cap-add" : "--cap-drop", msg)
        }
        if !capAdd.isEmpty || !capDrop.isEmpty {
            // Flags refine the profile's set: drop ALL unless told otherwise, then add.
            l.capabilities = CapabilitySpec(add: capAdd, drop: capDrop.isEmpty ? ["ALL"] : capDrop)
        }
        for r in rlimit {
            let kv = r.split(separator: "=", maxSplits: 1, omittingEmptySubsequences: false).map(String.init)
            guard kv.count == 2, let res = RlimitResource(rawValue: kv[0]) else {
                throw bad("--rlimit", "expected NAME=SOFT[:HARD] with NAME one of \(RlimitResource.allCases.map(\.rawValue).joined(separator: ", ")), got \"\(r)\"")
            }
            let v = kv[1].split(separator: ":").map(String.init)
            guard (1...2).contains(v.count), let soft = ProfileParser.parseRlimitValue(v[0]),
                  let hard = ProfileParser.parseRlimitValue(v.count == 2 ? v[1] : v[0]), soft <= hard else {
                throw bad("--rlimit", "expected SOFT[:HARD] numbers or unlimited with soft <= hard; accepted: 0 to 18446744073709551615 or unlimited, got \"\(kv[1])\"")
            }
            l.rlimits[res] = Rlimit(soft: soft, hard: hard)
        }
        if let cpus {
            l.limits.cpuMilli = try NumberField.cpu.parse(cpus, file: "<command line>", field: "--cpus")
        }
        if let memory {
            l.limits.memoryBytes = try NumberField.memory.parse(memory, file: "<command line>", field: "--memory")
        }
        if let pids {
            l.limits.pids = try NumberField.pids.parse(pids, file: "<command line>", field: "--pids")
        }
        if let ioWeight {
            guard (1...10000).contains(ioWeight) else { throw bad("--io-weight", "expected 1 to 10000") }
            l.ioWeight = ioWeight
        }
        if !ioMax.isEmpty {
            l.ioMax = try ioMax.map { (t) throws(ConfigError) in
                switch IOThrottle.parse(t) {
                case .success(let v): return v
                case .failure(let e): throw bad("--io-max", e.message)
                }
            }
        }
        if let limits {
            guard let mode = LimitEnforcement(rawValue: limits) else { throw bad("--limits", "expected strict or best-effort, got \"\(limits)\"") }
            l.enforcement = mode
        }
        if let ephemeralStorage {
            l.limits.ephemeralStorageBytes = try NumberField.storage.parse(ephemeralStorage, file: "<command line>", field: "--ephemeral-storage")
        }
        if let seccomp {
            switch seccomp {
            case "RuntimeDefault": l.seccomp = .runtimeDefault
            case "Unconfined": l.seccomp = .unconfined
            default: l.seccomp = .localhost(path: seccomp, relativeTo: FileManager.default.currentDirectoryPath)
            }
        }
        return l
    }
}

/// `500ms`, `10s`, `2m`, `1h`, or plain seconds.
/// The rule is DurationField's (BulkheadModel): 1ms to 4294967295s.
func parseDuration(_ s: String) throws(ConfigError) -> Double {
    switch DurationField.seconds(s) {
    case .success(let v): return v
    case .failure(let r): throw ConfigError(file: "<command line>", field: "--timeout", message: r.message)
    }
}
