import ArgumentParser
import Bulkhead
import BulkheadModel
import Foundation
import Glibc

/// `bulkhead pool start|stop|status`: the warm pool (Bulkhead/Pool/WarmPool.swift).
struct PoolCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "pool",
        abstract: "Keep sandboxes prepared for `bulkhead run --pool SOCKET`: each served once, refilled in the background.",
        subcommands: [Start.self, Stop.self, Status.self]
    )

    /// /run/bulkhead/pool.sock for root; a non-root caller names its own.
    static let defaultSocket = "/run/bulkhead/pool.sock"

    /// `pool status` / `pool stop`: the pool's answer; `failure: ERROR` on stderr and exit 1.
    static func control(_ socket: String, _ word: String, failure: String) throws -> String {
        do { return try PoolClient.control(socket: socket, word) } catch {
            warn("\(failure): \(error)")
            throw ExitCode.failure
        }
    }

    struct Start: ParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Start a pool of N prepared sandboxes of a profile behind a unix socket; returns once they are ready (--foreground: serves until SIGTERM or `pool stop`).")

        @Option(help: ArgumentHelp("How many sandboxes to keep prepared (1-64).", valueName: "N"))
        var size: Int

        @Option(name: .shortAndLong, help: ArgumentHelp("The profile every sandbox of the pool runs under.", valueName: "NAME|FILE"))
        var profile: String = "container"

        @Option(help: ArgumentHelp("The pool's unix socket (mode 0600; its directory must be owned by root or you and writable by no one else).", valueName: "PATH"))
        var socket: String = PoolCommand.defaultSocket

        @Option(help: ArgumentHelp("Let processes of this gid use the pool too (socket mode 0660, checked again with SO_PEERCRED).", valueName: "GID"))
        var group: UInt32?

        @Flag(help: "Serve in this process instead of returning once the pool is ready.")
        var foreground = false

        func run() throws {
            if !foreground { try Self.startInBackground(socket: socket) }
            let store = ProfileStore.standard()
            let pool: WarmPool
            do {
                var options = WarmPool.Options(size: size, socketPath: socket, group: group, layers: try store.layers(for: profile), profileName: profile)
                options.takeTimeoutSeconds = 30
                pool = try WarmPool(options) { ReportJSON.encode($0) }
            } catch {
                warn("cannot start the pool: \(error)")
                throw ExitCode(ExitStatus.launchFailed)
            }
            do {
                try pool.serve { out("pool listening: \(socket) (\(size) sandboxes of \(profile), pid \(getpid()))\n") }
            } catch {
                warn("cannot start the pool: \(error)")
                throw ExitCode(ExitStatus.launchFailed)
            }
        }

        /// Runs `pool start --foreground` with the same arguments in a new session (stdio on
        /// /dev/null), waits until it reports every sandbox ready (or ends), prints its status.
        static func startInBackground(socket: String) throws -> Never {
            let args = Array(CommandLine.arguments.dropFirst()) + ["--foreground"]
            // The pool outlives this command: it must hold none of its caller's descriptors (a
            // pipe the caller reads to its end would never end).
            for name in (try? FileManager.default.contentsOfDirectory(atPath: "/proc/self/fd")) ?? [] {
                if let fd = Int32(name), fd > 2 { _ = fcntl(fd, F_SETFD, FD_CLOEXEC) }
            }
            var attr = posix_spawnattr_t()
            posix_spawnattr_init(&attr)
            defer { posix_spawnattr_destroy(&attr) }
            posix_spawnattr_setflags(&attr, 0x80) // POSIX_SPAWN_SETSID (glibc 2.26), not exported to Swift
            var actions = posix_spawn_file_actions_t()
            posix_spawn_file_actions_init(&actions)
            defer { posix_spawn_file_actions_destroy(&actions) }
            for fd in Int32(0)...2 { posix_spawn_file_actions_addopen(&actions, fd, "/dev/null", fd == 0 ? O_RDONLY : O_WRONLY, 0) }
            let argv = ["/proc/self/exe"] + args
            var cargs = argv.map { strdup($0) } + [nil]
            defer { for a in cargs { free(a) } }
            var pid: pid_t = 0
            let rc = posix_spawn(&pid, "/proc/self/exe", &actions, &attr, &cargs, environ)
            guard rc == 0 else { warn("cannot start the pool: posix_spawn: \(String(cString: strerror(rc)))"); throw ExitCode(ExitStatus.launchFailed) }
            let deadline = Date().addingTimeInterval(60)
            var last = ""
            while Date() < deadline {
                var status: Int32 = 0
                if waitpid(pid, &status, WNOHANG) == pid {
                    warn("the pool ended before it was ready (status \(status)); run `bulkhead pool start --foreground` to see why" + (last.isEmpty ? "" : ": \(last)"))
                    throw ExitCode(ExitStatus.launchFailed)
                }
                if let text = try? PoolClient.control(socket: socket, "status"), let s = try? JSONDecoder().decode(PoolStatus.self, from: Data(text.utf8)) {
                    last = s.lastError ?? ""
                    if s.ready == s.size {
                        out("pool ready: \(s.socket) (\(s.size) sandboxes of \(s.profile), pid \(s.pid))\n")
                        throw ExitCode.success
                    }
                }
                usleep(20_000)
            }
            kill(pid, SIGTERM)
            warn("the pool was not ready within 60 s" + (last.isEmpty ? "" : ": \(last)") + "; it was stopped")
            throw ExitCode(ExitStatus.launchFailed)
        }
    }

    struct Stop: ParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Stop a pool: every sandbox ended, its cgroups, mounts and socket removed.")
        @OptionGroup var pool: PoolSocketOption
        var socket: String { pool.socket }

        func run() throws {
            let answer = try PoolCommand.control(socket, "stop", failure: "cannot stop the pool")
            guard answer == "stopped" else { warn(answer.isEmpty ? "the pool did not confirm the stop" : answer); throw ExitCode.failure }
            out("pool stopped: \(socket)\n")
        }
    }

    struct Status: ParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Show a pool's sandboxes: ready, preparing, running, served, failed (JSON).")
        @OptionGroup var pool: PoolSocketOption
        var socket: String { pool.socket }

        func run() throws {
            let text = try PoolCommand.control(socket, "status", failure: "cannot reach the pool")
            guard let s = try? JSONDecoder().decode(PoolStatus.self, from: Data(text.utf8)) else {
                warn("the pool at \(socket) answered no status"); throw ExitCode.failure
            }
            out(ReportJSON.encode(s) + "\n")
        }
    }
}

/// `--socket PATH` of `pool stop` and `pool status`.
struct PoolSocketOption: ParsableArguments {
    @Option(help: ArgumentHelp("The pool's unix socket.", valueName: "PATH"))
    var socket: String = PoolCommand.defaultSocket
}

/// `bulkhead run --pool SOCKET` (or BULKHEAD_POOL=SOCKET): the request goes to the pool, whose
/// profile decides everything but the command, `--env`, `--workdir` and `--preserve-fd`.
enum PooledRun {
    /// BULKHEAD_POOL, for a caller that is not root. Root names its pool with --pool: under
    /// `sudo -E` the environment is the calling user's, and a socket it names (a root-owned
    /// pool of a looser profile than the default) would choose the sandbox instead of root's
    /// own command line. For root the variable is ignored (the launch is cold, under the flags
    /// given), with a warning; nil when unset or empty. Read once per process, so the warning
    /// is printed once whichever reader of the command line (pooled, fast, ArgumentParser) asks
    /// first: the fast reader asks too, or root's `run --limits …` went unwarned.
    static func environmentSocket() -> String? { environmentPool }

    private static let environmentPool: String? = {
        guard let value = getenv("BULKHEAD_POOL").map({ String(cString: $0) }), !value.isEmpty else { return nil }
        guard getuid() != 0 && geteuid() != 0 else {
            warn("BULKHEAD_POOL is ignored for root (sudo -E passes the caller's environment): name the pool with --pool SOCKET")
            return nil
        }
        return value
    }()

    /// `run --pool SOCKET [--report FILE|-] -- CMD…`, or `run [--report FILE|-] -- CMD…` with
    /// BULKHEAD_POOL set, read without ArgumentParser (as RunFastPath); nil for anything else.
    static func parseFast(_ args: ArraySlice<String>) -> (socket: String, report: String?, command: [String])? {
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
    /// `--report`, the workload's exit status.
    static func run(socket: String, report: String?, command: [String], environment: [String] = [], workdir: String? = nil,
                    preserveFds: [Int32] = [], quiet: Bool = false) throws -> Never {
        let reportHandle = try RunCommand.openReport(report)
        let o = PoolClient.run(socket: socket, command: command, environment: environment, workingDirectory: workdir, preserveFds: preserveFds,
                             report: report != nil)
        if !o.message.isEmpty {
            for line in o.message.split(separator: "\n") where !quiet || !line.hasPrefix("seccomp: ") { warn(String(line)) }
        }
        if let report {
            let json = o.reportJSON ?? (ReportJSON.encode(RunReport.failedBeforeLaunch(command: command, profile: "pool:" + socket,
                                                                                       error: LaunchError(operation: o.message))) + "\n")
            if report == "-" { out(json) } else { reportHandle?.write(Data(json.utf8)); try? reportHandle?.close() }
        }
        throw ExitCode(o.exitCode)
    }
}
