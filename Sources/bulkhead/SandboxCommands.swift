import ArgumentParser
import Bulkhead
import BulkheadModel
import Foundation

/// `bulkhead ps`: the named sandboxes that run (`run --name`), as `pod ls` lists pods.
struct PsCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "ps", abstract: "List the running named sandboxes (run --name): name, launcher pid, profile, age, command.",
        discussion: """
            Root's list and each user's are separate, as with podman: root's (\(SandboxRegistry.rootDirectory)) shows only \
            the sandboxes root started, a user's ($XDG_RUNTIME_DIR/bulkhead-sandboxes, which must be the user's own \
            directory, not a link, writable by no one else; there is no fallback) only that user's. `bulkhead stop` sees the same list.
            """)
    @Flag(help: "Print JSON.") var json = false

    func run() throws {
        let found: (entries: [SandboxEntry], refused: [String])
        do { found = try SandboxRegistry.list() } catch {
            warn("\(error)")
            throw ExitCode(1)
        }
        for r in found.refused { warn("refused: \(r)") }
        if json {
            out(ReportJSON.encode(found.entries) + "\n")
            return
        }
        var rows = [["NAME", "PID", "PROFILE", "AGE", "COMMAND"]]
        let now = Date().timeIntervalSince1970
        for e in found.entries {
            rows.append([e.name, String(e.launcherPID), e.profile, Self.age(now - e.started), e.command.joined(separator: " ")])
        }
        out(Table.render(rows))
    }

    static func age(_ seconds: Double) -> String {
        let s = Int(max(0, min(seconds, 1e9)))
        if s < 60 { return "\(s)s" }
        if s < 3600 { return "\(s / 60)m" }
        if s < 86400 { return "\(s / 3600)h" }
        return "\(s / 86400)d"
    }
}

/// `bulkhead stop NAME`: SIGTERM (or the run's --stop-signal) to the named sandbox's workload, SIGKILL after the grace period.
struct StopCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "stop",
        abstract: "Stop a named sandbox: SIGTERM (or its run's --stop-signal) to its workload, SIGKILL after the grace period; waits until it is gone.",
        discussion: "NAME is looked up in the caller's own list, the one `bulkhead ps` shows (root's and each user's are separate).")
    @Argument(help: "The sandbox's name (run --name).") var name: String
    @Option(help: ArgumentHelp("How long to wait before SIGKILL (e.g. 500ms, 10s).", valueName: "DURATION")) var grace = "10s"

    func run() throws {
        let seconds: Double
        do { seconds = try DurationField.seconds(grace).at(flag: "--grace") } catch {
            warn(error.description)
            throw ExitCode(ExitStatus.launchFailed)
        }
        do {
            let e = try SandboxRegistry.stop(name: name, grace: seconds)
            out("stopped \(e.name) (launcher \(e.launcherPID))\n")
        } catch {
            warn("\(error)")
            throw ExitCode(1)
        }
    }
}
