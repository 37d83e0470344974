import ArgumentParser
import Bulkhead
import BulkheadModel

extension SyscallRecorder.Choice: ExpressibleByArgument {}

extension SeccompCommand {
    struct Record: ParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Run a command in the sandbox, record every system call it makes, and write the minimal allow-list policy.",
            discussion: """
            The command runs under the layer profile (default: container) with seccomp Unconfined, so \
            it can make any call; every call from its execve on, by every thread and child, is \
            counted in the kernel by eBPF (root), or traced with ptrace by the sandbox's init where \
            eBPF cannot run (without root; the summary says which and why). The policy: default SCMP_ACT_ERRNO \
            (EPERM), the calls seen, the safety set (exit, exit_group, rt_sigreturn, restart_syscall, \
            execve; clone3 gets ENOSYS unless seen), and argument rules for socket (families seen), \
            personality (values seen), clone (no namespace flags unless seen) and ioctl (never \
            TIOCSTI/TIOCLINUX); --no-argument-rules leaves those unconditional. \
            It also allows what runc's and crun's own init do after loading the filter, so the policy \
            starts under them (--runtime none leaves that out: bulkhead itself needs none of it). \
            --merge unites earlier reports (--report) and seccomp policies with this recording; with \
            no command it only merges. --within RuntimeDefault|FILE then keeps only what the bound \
            allows, and names what it dropped.
            Example: bulkhead seccomp record -o sh.json --report sh-report.json -- sh -c 'ls / && cat /etc/hostname'
            """
        )

        @Option(name: .shortAndLong, help: "Layer profile to run the command under (its seccomp policy is switched off).", completion: Completions.profiles)
        var profile: String = "container"

        @Option(help: ArgumentHelp("Format of the policy written.", valueName: "kubernetes|oci|docker|spo"))
        var format: SeccompExportFormat = .kubernetes

        @OptionGroup var architecture: ArchitectureOption

        @Option(help: "Name of the policy (SPO metadata.name; NAME.json on a node).")
        var name: String = "recorded"

        @Flag(help: "Also write the filter flags.")
        var flags = false

        @Option(name: .customLong("spo-version"), help: ArgumentHelp("SeccompProfile API version for --format spo.", valueName: "v1|v1beta1"))
        var spoVersion: SPOAPIVersion = .v1

        @Option(name: .shortAndLong, help: ArgumentHelp("Write the policy to FILE (default: standard output, after the command's own output).", valueName: "FILE"))
        var output: String?

        @Option(help: ArgumentHelp("Write the JSON report (each call with architecture, count and first executable; the safety set) to FILE.", valueName: "FILE"))
        var report: String?

        @Option(parsing: .upToNextOption, help: ArgumentHelp("Recording reports or seccomp policies to unite with this recording.", valueName: "FILE"))
        var merge: [String] = []

        @Option(help: ArgumentHelp("For merged policy files: refuse (default) or first-wins.", valueName: "refuse|first-wins"))
        var conflicts: Conflicts = .refuse

        @Flag(name: .customLong("no-argument-rules"), help: "Allow socket, personality, clone and ioctl unconditionally when seen.")
        var noArgumentRules = false

        @Option(help: ArgumentHelp("Also allow what these runtimes' own init does after loading the filter, so the policy runs under them (default: runc,crun); none for a bare policy (for bulkhead itself).", valueName: "runc,crun|none"))
        var runtime: String = "runc,crun"

        @Option(help: ArgumentHelp("Never allow more than this bound: RuntimeDefault (bulkhead's built-in allow-list) or a seccomp policy file; what it takes away is listed by name.", valueName: "RuntimeDefault|FILE"))
        var within: String?

        @Option(help: ArgumentHelp("Which recorder: ebpf where it can run, else ptrace (auto); only ebpf; only ptrace.", valueName: "auto|ebpf|ptrace"))
        var recorder: SyscallRecorder.Choice = .auto

        @Option(help: ArgumentHelp("Kill the recorded command after this long (e.g. 10s); what was counted is kept.", valueName: "DURATION"))
        var timeout: String?

        @Option(help: ArgumentHelp("Then run the command N times under the written policy with every refusal reported instead of enforced (as `seccomp verify`); exit 1 if a call is missing.", valueName: "N"))
        var verify: Int?

        @Argument(parsing: .postTerminator, help: "The command to record and its arguments, after --.")
        var command: [String] = []

        func validate() throws {
            if command.isEmpty && merge.isEmpty { throw ValidationError("give the command after --, or files to --merge") }
            if let problem = KubernetesName.problem(name) { throw ValidationError("--name \"\(name)\" \(problem)") }
            if ContainerRuntime.parseList(runtime) == nil {
                throw ValidationError("--runtime \"\(runtime)\": expected none or a comma-separated list of \(ContainerRuntime.allCases.map(\.rawValue).joined(separator: ", "))")
            }
            if let verify {
                if verify < 1 || verify > 1000 { throw ValidationError("--verify must be 1 to 1000") }
                if command.isEmpty || output == nil || output == "-" { throw ValidationError("--verify needs a command and -o FILE (the policy it runs under)") }
                if format != .kubernetes && format != .docker { throw ValidationError("--verify needs --format kubernetes or docker (a policy `run` loads)") }
            }
        }

        func run() throws {
            var recordings: [SyscallRecording] = []
            var policies: [SeccompPolicy] = []
            for f in merge {
                switch try orExit({ () throws(ConfigError) in try SeccompSource.mergeInput(file: f, conflicts: conflicts.resolution) }) {
                case .recording(let r): recordings.append(r)
                case .policy(let p): policies.append(p)
                }
            }
            var status: Int32 = 0
            if !command.isEmpty {
                let seconds = try orExit { () throws(ConfigError) in try timeout.map { (t) throws(ConfigError) in try parseDuration(t) } }
                let prepared: PreparedLaunch
                do {
                    let store = ProfileStore.standard()
                    prepared = try SyscallRecorder.prepare(RunRequest(layers: try store.layers(for: profile), command: command, timeoutSeconds: seconds),
                                                          store: store, recorder: recorder)
                } catch {
                    warn("cannot start the sandbox: \(error)")
                    throw ExitCode(ExitStatus.launchFailed)
                }
                let result = SyscallRecorder.run(prepared)
                if let error = result.report.error {
                    warn(result.report.reason == .execFailed ? error.message : "cannot start the sandbox: \(error.message)")
                    throw ExitCode(result.report.exitCode)
                }
                let stats = result.recording.stats
                note("# recorder: \(stats.recorder)" + (stats.fallbackReason.map { " (eBPF not used: \($0))" } ?? "") + "\n")
                if let problem = result.recorderError {
                    warn(problem)
                    throw ExitCode(1)
                }
                status = result.report.exitCode
                if result.report.reason == .timeout { warn("timeout: the command was killed; the recording holds what it did until then") }
                if status != 0 { warn("the command ended with status \(status); the recording covers only the paths it took") }
                recordings.insert(result.recording, at: 0)
            }
            let merged = SyscallRecording.merged(recordings)
            var policy: SeccompPolicy
            var built: RecordedPolicy?
            if !recordings.isEmpty {
                let b = RecordedPolicy.build([merged], native: SyscallRecorder.nativeArchitecture, argumentRules: !noArgumentRules,
                                           runtimes: ContainerRuntime.parseList(runtime) ?? ContainerRuntime.defaults)
                built = b
                policy = b.policy
                if !policies.isEmpty {
                    policy = try orExit { () throws(ConfigError) in try SeccompPolicy.union([b.policy] + policies) }
                }
            } else {
                policy = try orExit { () throws(ConfigError) in try SeccompPolicy.union(policies) }
            }
            policy = try architecture.apply(policy)
            // The bound comes last: nothing added after it (the other architectures' equivalents included) escapes it.
            var bounded: SeccompBoundResult?
            if let within {
                let bound = try orExit { () throws(ConfigError) in try SeccompSource.bound(within) }
                for w in SeccompLoad.warnings(bound.notes) { warn(w) }
                let r = policy.bounded(by: bound.policy, native: SyscallRecorder.nativeArchitecture)
                policy = r.policy
                bounded = r
            }
            let text: String
            do {
                text = try policy.export(format, options: SeccompExportOptions(flags: flags, name: name, spoVersion: spoVersion))
            } catch {
                warn(error.description)
                throw ExitCode(1)
            }
            try emit(Array(text.utf8), to: output)
            if let report {
                guard !recordings.isEmpty else {
                    warn("--report needs a recording (a command, or a report among --merge)")
                    throw ExitCode(1)
                }
                try emit(Array(SyscallRecordingReport.json(merged, policy: built).utf8), to: report)
            }
            note(summary(merged, built, policy, bounded: bounded))
            if let verify, let output {
                let v = try SeccompVerifyCommandSupport.verify(policy: output, profile: profile, runs: verify, timeout: timeout, command: command)
                note(SeccompVerifyCommandSupport.summary(v))
                let vs = SeccompVerifyCommandSupport.status(v)
                if vs != 0 { throw ExitCode(vs) }
            }
            if status != 0 { throw ExitCode(status) }
        }

        func summary(_ r: SyscallRecording, _ b: RecordedPolicy?, _ policy: SeccompPolicy, bounded: SeccompBoundResult? = nil) -> String {
            var s = ""
            if !r.calls.isEmpty {
                let archs = r.architectures.map { SyscallRecordingReport.archName($0) }.joined(separator: ", ")
                s += "# recorded \(r.calls.count) distinct calls (\(archs)), \(r.stats.syscallEntries) calls in all, from \(r.stats.tasks) tasks and \(r.stats.execs) execs\n"
            }
            if let b {
                let safety = b.safetySet.filter { $0.runtimes == nil }, forRuntimes = b.safetySet.filter { $0.runtimes != nil }
                if !safety.isEmpty {
                    s += "# safety set added: " + safety.map { $0.action == .allow ? $0.name : "\($0.name) (\($0.action.rawValue) \($0.errnoRet ?? 1))" }.joined(separator: ", ") + "\n"
                }
                if let runtimes = ContainerRuntime.parseList(runtime), !runtimes.isEmpty {
                    s += "# for \(runtimes.map(\.rawValue).joined(separator: " and ")) (their init runs under the filter; --runtime none leaves it out): "
                        + (forRuntimes.isEmpty ? "nothing to add" : "added " + forRuntimes.map(\.name).joined(separator: ", ")) + "\n"
                }
                for a in b.argumentRules { s += "# argument rule: \(a)\n" }
                for u in b.unnamed { s += "# not in the policy (no name for number \(u.number) on \(SyscallRecordingReport.archName(u.arch))): it gets EPERM\n" }
            }
            if let bounded, let within {
                s += "# within \(within): " + (bounded.dropped.isEmpty ? "nothing dropped"
                    : "dropped, as the bound does not allow them: \(bounded.dropped.joined(separator: ", "))") + "\n"
                if !bounded.narrowed.isEmpty {
                    s += "# within \(within): narrowed to the bound's argument conditions: \(bounded.narrowed.joined(separator: ", "))\n"
                }
                if !bounded.droppedArchitectures.isEmpty {
                    s += "# within \(within): architectures dropped: \(bounded.droppedArchitectures.map(\.rawValue).joined(separator: ", "))\n"
                }
            }
            let allowed = Set(policy.rules.filter { $0.action.letsCallRun }.flatMap(\.names))
            s += "# policy: \(allowed.count) calls allowed, default \(policy.defaultAction.rawValue)\(output.map { ", written to \($0)" } ?? "")\n"
            if format == .kubernetes, output != nil { s += KubernetesSeccompInstall.instructions(name: name) }
            return s
        }
    }
}
