import BulkheadModel

/// What `run` acts on once its flags are parsed, apart from the profile overrides.
package struct RunInvocation: Equatable {
    package var profile = "container"
    package var report: String?
    package var timeout: String?
    package var command: [String] = []
    package var tty = false
    package var preserveFds: [Int32] = []
    package var injectFault: FaultPoint?
    /// `--supplementary-groups refuse` (only the full parser reads it).
    package var refuseKeptGroups = false
    /// `--seccomp-strict` (only the full parser reads it).
    package var seccompStrict = false
    /// `-q/--quiet`, `--log-level error`: no warnings on stderr (errors still; the report keeps them).
    package var quiet = false
    /// `--stop-signal`, `--stop-timeout`: at `--timeout`, this signal, then SIGKILL after the grace.
    package var stopSignal: Int32?
    package var stopTimeoutSeconds: Double = 10

    package init(profile: String = "container", report: String? = nil, timeout: String? = nil, command: [String] = [],
                 tty: Bool = false, preserveFds: [Int32] = [], injectFault: FaultPoint? = nil) {
        self.profile = profile; self.report = report; self.timeout = timeout; self.command = command
        self.tty = tty; self.preserveFds = preserveFds; self.injectFault = injectFault
    }
}

/// `bulkhead run [--profile NAME] [--report FILE|-] [--limits strict|best-effort] -- CMD…`, the
/// launch-latency path, read without ArgumentParser.
///
/// ArgumentParser reflects on every `@Option` of `RunCommand` (type metadata by mangled name,
/// protocol-conformance scans over a binary that carries Foundation): about 1.3 ms of CPU, the
/// largest user-space cost of a launch after process start (BENCHMARKS.md). This reader accepts
/// only the unambiguous subset above and returns nil for anything else (any other flag, a
/// repeated flag, a value that looks like a flag, no `--`, no command), which then goes through
/// ArgumentParser as before (from the launch executable, `bulkhead`: an exec of `bulkhead-cli`,
/// `FullCLI`), so every error, help text and other flag keeps its one definition in
/// `RunCommand`. RunFastPathTests checks that both readers agree.
///
/// `--limits` is read here because every rootless launch on a host whose cgroup hierarchies are
/// not delegated needs `--limits best-effort`: through ArgumentParser that flag alone cost 16 M
/// of the launch's 27 M instructions (BENCHMARKS.md, issue 17, launch-start). Its value becomes
/// the override layer through `CommandLineLayer` and `FieldRules.enforcement`, the one rule; a
/// value that rule refuses returns nil, so the error is ArgumentParser's path's, word for word.
/// With BULKHEAD_POOL naming a pool (a non-root caller), nothing is read here either: the full
/// parser decides which flags a pooled run refuses. For root the variable is ignored, with the
/// warning `environmentSocket` prints.
package enum RunFastPath {
    /// The invocation and the command line's profile layer (empty unless `--limits` was given).
    package static func parse(_ args: ArraySlice<String>, poolInEnvironment: Bool = PooledRun.environmentSocket() != nil)
        -> (invocation: RunInvocation, overrides: ProfileLayer)? {
        if poolInEnvironment { return nil }
        var invocation = RunInvocation()
        var flags = CommandLineLayer()
        // Three flags, three Bools: a `Set<String>` here was the launch's first use of one (a
        // conformance scan, 0.4 M instructions, on every rootless `--limits` launch).
        var seenProfile = false, seenReport = false, seenLimits = false
        var i = args.startIndex
        while i < args.endIndex {
            let arg = args[i]
            if arg == "--" {
                invocation.command = Array(args[(i + 1)...])
                guard !invocation.command.isEmpty else { return nil }
                // No --limits (the one layer flag read here), no layer to build: the plain launch
                // does not run CommandLineLayer's code.
                if flags.limits == nil { return (invocation, ProfileLayer()) }
                guard let overrides = try? flags.layer(environment: [:], currentDirectory: "/") else { return nil }
                return (invocation, overrides)
            }
            var name = arg, value: String?
            if arg.hasPrefix("--"), let eq = arg.firstIndex(of: "=") {
                name = String(arg[..<eq])
                value = String(arg[arg.index(after: eq)...])
            } else if i + 1 < args.endIndex {
                value = args[i + 1]
                i += 1
            }
            // "-" is standard output for --report; any other dash-led value is left to
            // ArgumentParser (which refuses an option where a value belongs).
            guard let value, !value.isEmpty, value == "-" || !value.hasPrefix("-") else { return nil }
            switch name {
            case "--profile", "-p":
                guard !seenProfile else { return nil }
                seenProfile = true
                invocation.profile = value
            case "--report":
                guard !seenReport else { return nil }
                seenReport = true
                invocation.report = value
            case "--limits":
                guard !seenLimits else { return nil }
                seenLimits = true
                flags.limits = value
            default:
                return nil
            }
            i += 1
        }
        return nil
    }
}
