import BulkheadModel
import BulkheadSystem
import Glibc

/// `bulkhead run`'s launch, once its flags are read: prepare, launch, supervise, report. The one
/// way through for both executables: the full command line (`RunCommand`, after ArgumentParser
/// or its own fast reader) and the launch executable (`bulkhead`, after `RunFastPath`) call
/// these, so every message, report and exit status has one definition.
package enum RunLaunch {
    /// What `--name` adds around a launch (`SandboxRegistry`, module Bulkhead): registered after
    /// every check, told the init's pid once it is released, removed once the sandbox ended.
    package struct Naming {
        package var onStarted: (Int32) -> Void
        package var unregister: () -> Void
        package init(onStarted: @escaping (Int32) -> Void, unregister: @escaping () -> Void) {
            self.onStarted = onStarted; self.unregister = unregister
        }
    }

    /// Prepares, launches, supervises and reports; returns the exit status (the workload's, or
    /// 125 when bulkhead failed before it ran).
    /// - Parameters:
    ///   - store: where the profile is read (and its readers: `ConfigReaders`).
    ///   - register: `--name`'s registration (nil: an unnamed sandbox); its error fails the launch.
    ///   - beforeFailing: called with a launch error before anything is printed or written for
    ///     it: the launch executable execs the full command line here when a cache missed
    ///     (`CacheMiss`), so that the full command line's launch is the only one that happens.
    package static func launch(_ invocation: RunInvocation, overrides: ProfileLayer, timeoutSeconds: Double?, store: ProfileStore,
                               register: (() throws -> Naming)? = nil,
                               beforeFailing: (LaunchError) -> Void = { _ in }) -> Int32 {
        let (profile, report, timeout, command) = (invocation.profile, invocation.report, invocation.timeout, invocation.command)
        let prepared: PreparedLaunch
        do {
            // The profile is read here, once, through the store's checks; the sandbox gets its layers.
            var request = RunRequest(layers: try store.layers(for: profile), overrides: overrides, command: command,
                                     timeoutSeconds: timeoutSeconds, preserveFds: invocation.preserveFds, injectFault: invocation.injectFault)
            request.tty = invocation.tty
            request.refuseKeptGroups = invocation.refuseKeptGroups
            request.seccompStrict = invocation.seccompStrict
            request.stopSignal = invocation.stopSignal
            request.stopTimeoutSeconds = invocation.stopTimeoutSeconds
            prepared = try Sandbox.prepare(request, store: store)
        } catch let e as LaunchError {
            beforeFailing(e)
            return failBeforeLaunch(invocation, e)
        } catch let e as ConfigError {
            beforeFailing(LaunchError(e))
            return failBeforeLaunch(invocation, LaunchError(e))
        } catch {
            beforeFailing(LaunchError(wrapping: error))
            return failBeforeLaunch(invocation, LaunchError(wrapping: error))
        }
        if !invocation.quiet { for w in prepared.warnings { warn(w) } }
        // The report file is opened before the launch: a bad path must fail before anything runs.
        guard case .success(let reportHandle) = openReport(report) else { return ExitStatus.launchFailed }
        // `--name`: registered after every check, removed as soon as the sandbox has ended.
        var naming: Naming?
        if let register {
            do { naming = try register() } catch {
                reportHandle?.close()
                return failBeforeLaunch(invocation, LaunchError(wrapping: error))
            }
        }
        let result = naming.map { Sandbox.run(prepared, onStarted: $0.onStarted) } ?? Sandbox.run(prepared)
        naming?.unregister()
        if let error = result.error {
            warn(result.reason == .execFailed ? error.message : "cannot start the sandbox: \(error.message)")
        } else if result.reason == .timeout {
            warn("timeout: the sandbox was killed after \(timeout ?? "")")
        } else if result.reason == .oomKilled {
            let limit = prepared.profile.limits.memoryBytes.map { Quantity.formatBytes($0) } ?? "?"
            warn("out of memory: the OOM killer ended a process of the sandbox (memory limit \(limit))")
        } else if result.reason == .pidsLimit {
            warn("the pids limit (\(prepared.profile.limits.pids.map(String.init) ?? "?")) refused a fork in the sandbox")
        } else if result.reason == .seccompViolation {
            warn("the seccomp policy killed the workload (SIGSYS): it made a call the policy refuses with a kill or trap action; "
                + "`bulkhead seccomp verify` with the same policy names it")
        }
        if !invocation.quiet, let refused = result.seccompViolations {
            for v in refused { warn("seccomp: \(v.line)") }
        }
        if let report { writeReport(ReportJSON.encode(result) + "\n", to: report, reportHandle) }
        return result.exitCode
    }

    /// `--report FILE`, opened before the launch (a bad path fails before anything runs): nil
    /// for none or "-"; a failure (printed) when it cannot be opened.
    package static func openReport(_ report: String?) -> Result<OutputFile.Handle?, ReportNotOpened> {
        guard let report, report != "-" else { return .success(nil) }
        guard let h = OutputFile.open(report) else {
            warn("cannot write the report to \(report)")
            return .failure(ReportNotOpened())
        }
        return .success(h)
    }

    /// `openReport`'s failure: already printed; the launch ends with status 125.
    package struct ReportNotOpened: Error {}

    /// Writes a launch's report to `--report` (`handle`, opened by `openReport`; standard output
    /// for "-") and closes it. A failed write (ENOSPC, EIO, a reader gone) is said on stderr, as
    /// a refused launch's is: the workload's status stays, but the report was lost.
    package static func writeReport(_ json: String, to report: String, _ handle: OutputFile.Handle?) {
        let written = report == "-" ? out(json) : handle?.write(json) ?? false
        handle?.close()
        if !written { warn("cannot write the report to \(report == "-" ? "standard output" : report)") }
    }

    /// A launch refused before anything was set up (a bad flag value, profile, bind or seccomp
    /// policy): the error on stderr (`message`, else `cannot start the sandbox: ERROR`) and, with
    /// `--report`, a report saying why (`RunReport.failedBeforeLaunch`), written through
    /// `OutputFile` as every report is; returns exit status 125.
    package static func failBeforeLaunch(_ invocation: RunInvocation, _ error: LaunchError, message: String? = nil) -> Int32 {
        warn(message ?? "cannot start the sandbox: \(error)")
        if let report = invocation.report {
            let json = ReportJSON.encode(RunReport.failedBeforeLaunch(command: invocation.command, profile: invocation.profile, error: error)) + "\n"
            if report == "-" { if !out(json) { warn("cannot write the report to standard output") } }
            else if !OutputFile.write(json, to: report) { warn("cannot write the report to \(report)") }
        }
        return ExitStatus.launchFailed
    }
}

/// `bulkhead run --pool SOCKET` (or BULKHEAD_POOL=SOCKET): the request goes to the pool, whose
/// profile decides everything but the command, `--env`, `--workdir` and `--preserve-fd`.
package enum PooledRun {
    /// BULKHEAD_POOL, for a caller that is not root. Root names its pool with --pool: under
    /// `sudo -E` the environment is the calling user's, and a socket it names (a root-owned
    /// pool of a looser profile than the default) would choose the sandbox instead of root's
    /// own command line. For root the variable is ignored (the launch is cold, under the flags
    /// given), with a warning; nil when unset or empty. Read once per process, so the warning
    /// is printed once whichever reader of the command line (pooled, fast, ArgumentParser) asks
    /// first: the fast reader asks too, or root's `run --limits …` went unwarned.
    package static func environmentSocket() -> String? { environmentPool }

    private static let environmentPool: String? = {
        guard let value = environmentValue() else { return nil }
        guard !callerIsRoot else {
            warn("BULKHEAD_POOL is ignored for root (sudo -E passes the caller's environment): name the pool with --pool SOCKET")
            return nil
        }
        return value
    }()

    /// BULKHEAD_POOL's value, nil when unset or empty (no warning: `environmentSocket` decides).
    package static func environmentValue() -> String? {
        guard let value = getenv("BULKHEAD_POOL").map({ String(cString: $0) }), !value.isEmpty else { return nil }
        return value
    }

    /// Root (real or effective): BULKHEAD_POOL is ignored, with a warning.
    package static var callerIsRoot: Bool { getuid() == 0 || geteuid() == 0 }

    /// `run --pool SOCKET [--report FILE|-] -- CMD…`, or `run [--report FILE|-] -- CMD…` with
    /// BULKHEAD_POOL set, read without ArgumentParser (as RunFastPath); nil for anything else.
    package static func parseFast(_ args: ArraySlice<String>) -> (socket: String, report: String?, command: [String])? {
        var socket: String?
        var report: String?
        var i = args.startIndex
        while i < args.endIndex {
            switch args[i] {
            case "--":
                let command = Array(args[(i + 1)...])
                guard !command.isEmpty, let socket = socket ?? environmentSocket() else { return nil }
                return (socket, report, command)
            case "--pool" where i + 1 < args.endIndex && !args[i + 1].hasPrefix("-"):
                socket = args[i + 1]; i += 2
            case "--report" where i + 1 < args.endIndex && report == nil && (args[i + 1] == "-" || !args[i + 1].hasPrefix("-")):
                report = args[i + 1]; i += 2
            default:
                return nil
            }
        }
        return nil
    }

    /// Sends the request and ends as `run` does: the message on stderr, the report to
    /// `--report`; returns the workload's exit status.
    package static func run(socket: String, report: String?, command: [String], environment: [String] = [], workdir: String? = nil,
                            preserveFds: [Int32] = [], quiet: Bool = false) -> Int32 {
        guard case .success(let reportHandle) = RunLaunch.openReport(report) else { return ExitStatus.launchFailed }
        let o = PoolClient.run(socket: socket, command: command, environment: environment, workingDirectory: workdir, preserveFds: preserveFds,
                               report: report != nil)
        if !o.message.isEmpty {
            for line in o.message.split(separator: "\n") where !quiet || !line.hasPrefix("seccomp: ") { warn(String(line)) }
        }
        if let report {
            let json = o.reportJSON ?? (ReportJSON.encode(RunReport.failedBeforeLaunch(command: command, profile: "pool:" + socket,
                                                                                       error: LaunchError(operation: o.message))) + "\n")
            RunLaunch.writeReport(json, to: report, reportHandle)
        }
        return o.exitCode
    }
}

/// Prints to standard error with the program's prefix.
package func warn(_ message: String) {
    var line = "bulkhead: " + message + "\n"
    line.withUTF8 { _ = Glibc.write(2, $0.baseAddress, $0.count) }
}

/// Writes text to standard output unbuffered (the workload shares the descriptor); false when
/// a write failed (the caller says so where the text mattered: a report).
@discardableResult
package func out(_ text: String) -> Bool {
    var t = text
    return t.withUTF8 { buf in
        var off = 0
        while off < buf.count {
            let n = Glibc.write(1, buf.baseAddress! + off, buf.count - off)
            if n <= 0 { if n < 0 && errno == EINTR { continue }; return false }
            off += n
        }
        return true
    }
}
