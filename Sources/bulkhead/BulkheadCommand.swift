import ArgumentParser
import Bulkhead
import BulkheadModel
import Glibc

@main
struct BulkheadCommand: CommandGroup {
    static let configuration = CommandConfiguration(
        commandName: "bulkhead",
        abstract: "Run commands under Kubernetes-style isolation layer profiles, and prove what each layer isolates.",
        discussion: """
        Exit status of `run`: the workload's own status, 128+N when it was killed by signal N, \
        124 on --timeout, 125 when bulkhead failed before the workload ran or the command line \
        is wrong, 126 when the command cannot be executed, 127 when it is not found.
        """,
        version: "0.1.0",
        subcommands: [RunCommand.self, PoolCommand.self, PsCommand.self, StopCommand.self, ProfileCommand.self, SeccompCommand.self, K8sCommand.self, PodCommand.self, PolicyCommand.self, BenchCommand.self, DoctorCommand.self, GCCommand.self]
    )

    static func main() {
        // Started by the launch executable (`bulkhead`, FullCLI): its loop marker is for it alone.
        FullCLI.clearLoopMarker()
        // A workload must find 0, 1 and 2 open, and a pipe or file of ours must never land on
        // them: open /dev/null on any that the caller closed.
        for fd in Int32(0)...2 where fcntl(fd, F_GETFD) < 0 {
            let n = open("/dev/null", O_RDWR)
            if n >= 0 && n != fd { dup2(n, fd); close(n) }
        }
        // The runc command line: invoked as bulkhead-runc (a link), or `bulkhead oci ARGS`.
        let invokedAs = CommandLine.arguments.first.map { $0.split(separator: "/").last.map(String.init) ?? $0 } ?? ""
        if invokedAs == "bulkhead-runc" { Glibc.exit(OCICommandLine.main(Array(CommandLine.arguments.dropFirst()))) }
        if CommandLine.arguments.dropFirst().first == "oci" { Glibc.exit(OCICommandLine.main(Array(CommandLine.arguments.dropFirst(2)))) }
        do {
            let args = CommandLine.arguments.dropFirst()
            if args.first == RunCommand.configuration.commandName, let pooled = PooledRun.parseFast(args.dropFirst()) {
                throw ExitCode(PooledRun.run(socket: pooled.socket, report: pooled.report, command: pooled.command))
            }
            if args.first == RunCommand.configuration.commandName, let fast = RunFastPath.parse(args.dropFirst()) {
                try RunCommand.launch(fast.invocation, overrides: fast.overrides, timeoutSeconds: nil)
            }
            var command = try parseRunFast() ?? BenchMergeCommand.parse() ?? parseAsRoot()
            try command.run()
        } catch let status as ExitCode {
            // Every `run` ends here with the workload's status. ArgumentParser's exit(withError:)
            // prints nothing for an ExitCode either, but first builds the command's help text
            // (reflection over every option): about a fifth of a launch's instructions.
            Glibc.exit(status.rawValue)
        } catch {
            UsageError.exit(withError: error, arguments: Array(CommandLine.arguments.dropFirst()))
        }
    }

    /// `bulkhead run …` with flags beyond RunFastPath's, parsed with `run` alone as the command tree:
    /// ArgumentParser then reflects on one command instead of every subcommand (about a
    /// millisecond, see BENCHMARKS.md). Anything that does not parse cleanly (an error, --help, a
    /// completion request) returns nil and goes through the whole tree, so messages, usage
    /// lines and exit statuses are exactly those of `parseAsRoot()`.
    static func parseRunFast() -> ParsableCommand? {
        let args = CommandLine.arguments.dropFirst()
        guard args.first == RunCommand.configuration.commandName else { return nil }
        // Only a parsed `run`: with `run` as the root, --help comes back as ArgumentParser's
        // help command, whose usage line would lack the `bulkhead` in front.
        return (try? RunCommand.parseAsRoot(Array(args.dropFirst()))) as? RunCommand
    }
}
