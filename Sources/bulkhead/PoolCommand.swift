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
        static let configuration = CommandConfiguration(abstract: "Show a pool's sandboxes: ready, preparing, running, served, failed requests, failed sandboxes (JSON).")
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
