import ArgumentParser
import BulkheadModel
import Foundation
import Glibc

/// A command that only groups subcommands (`bulkhead`, `bulkhead pod`, …). Run without a
/// subcommand it is a usage error, as `podman` alone is ("missing command", exit 125): the help
/// goes to standard error and the status is 125, so a script that lost its subcommand does not
/// read success. `--help` still prints the help on standard output and exits 0.
protocol CommandGroup: ParsableCommand {}

extension CommandGroup {
    func run() throws {
        UsageError.report(BulkheadCommand.helpMessage(for: Self.self)
            + "\nError: missing subcommand: give one of those listed above.")
    }
}

/// Command-line errors: their exit status and their did-you-mean suggestions.
enum UsageError {
    /// The status of every usage error (missing `--`, unknown flag, bad value, missing
    /// argument, missing subcommand): 125 as docker and podman use for their own errors, and as
    /// the README's table says, "bulkhead failed before the workload ran". ArgumentParser's
    /// default, EX_USAGE (64), is a status a workload can exit with too.
    static let status: Int32 = ExitStatus.launchFailed

    /// Ends the process for an error out of ArgumentParser or a command: usage errors with
    /// `status` and bulkhead's suggestions; help, version and completion requests and every
    /// other error as ArgumentParser ends them.
    static func exit(withError error: any Error, arguments: [String]) -> Never {
        guard BulkheadCommand.exitCode(for: error) == .validationFailure else { BulkheadCommand.exit(withError: error) }
        report(message(for: error, arguments: arguments))
    }

    /// The text a usage error prints.
    static func message(for error: any Error, arguments: [String]) -> String {
        let text = BulkheadCommand.fullMessage(for: error)
        guard let m = text.firstMatch(of: /Unknown option '([^']+)'(\. Did you mean '[^']+'\?)?/) else { return text }
        let option = String(m.1), path = commandPath(arguments)
        let hint = suggestion(for: option, command: path.joined(separator: " "), flags: flagNames(of: path))
        return text.replacingCharacters(in: m.range, with: "Unknown option '\(option)'" + (hint.map { ". " + $0 } ?? ""))
    }

    static func report(_ message: String) -> Never {
        var text = message.hasSuffix("\n") ? message : message + "\n"
        text.withUTF8 { _ = Glibc.write(2, $0.baseAddress, $0.count) }
        Glibc.exit(status)
    }

    /// What a docker, podman or bwrap habit means here, for flags bulkhead does not have.
    enum Habit {
        /// This flag of the same command does it.
        case flag(String, spelled: String? = nil)
        /// Nothing to give: bulkhead already behaves so, or has no such mode.
        case note(String)
    }

    /// Keyed by command path; a `.flag` is offered only while the command has that flag.
    static let habits: [String: [String: Habit]] = [
        "run": [
            "--rm": .note("bulkhead removes every sandbox when it exits; drop --rm"),
            "-i": .note("bulkhead always gives the workload its standard input; drop -i"),
            "--interactive": .note("bulkhead always gives the workload its standard input; drop --interactive"),
            "-d": .note("bulkhead runs the sandbox in the foreground; use your shell's & or a service manager"),
            "--detach": .note("bulkhead runs the sandbox in the foreground; use your shell's & or a service manager"),
            "--privileged": .note("bulkhead has no privileged mode; give what the workload needs with --cap-add, or a profile"),
            "--net": .flag("--network"),
            "--uid": .flag("--user"),
            "--gid": .flag("--user", spelled: "--user UID:GID"),
            "-v": .flag("--bind"),
            "--volume": .flag("--bind"),
            "--mount": .flag("--bind"),
            "--security-opt": .flag("--seccomp"),
            "--pids-limit": .flag("--pids"),
            "-m": .flag("--memory"),
        ],
    ]

    /// bulkhead's suggestion for an unknown option of `command`, whose options are `flags`:
    /// a habit from another tool, else the long flags (up to three) that the option begins, else the
    /// closest long flag within one edit (two for names longer than four letters); nil when
    /// nothing is close. Single-letter flags are never guessed: every one is one edit away.
    static func suggestion(for option: String, command: String, flags: [String]) -> String? {
        switch habits[command]?[option] {
        case .note(let text)?: return text
        case .flag(let flag, let spelled)? where flags.contains(flag): return "Did you mean '\(spelled ?? flag)'?"
        default: break
        }
        guard option.hasPrefix("--"), option.count > 2 else { return nil }
        let longs = flags.filter { $0.hasPrefix("--") && $0 != "--help" && $0 != "--version" }
        let name = String(option.dropFirst(2))
        if name.count >= 3 {
            let starts = longs.filter { $0.hasPrefix(option) }
            if (1...3).contains(starts.count) { return "Did you mean " + starts.map { "'\($0)'" }.joined(separator: " or ") + "?" }
        }
        guard let near = closestMatch(to: name, in: longs.map { String($0.dropFirst(2)) }, limit: name.count <= 4 ? 1 : 2) else { return nil }
        return "Did you mean '--\(near)'?"
    }

    /// The subcommand names at the front of `arguments` (`["pod", "stop"]`).
    static func commandPath(_ arguments: [String]) -> [String] {
        var command: ParsableCommand.Type = BulkheadCommand.self
        var path: [String] = []
        for a in arguments {
            guard let sub = command.configuration.subcommands.first(where: { $0._commandName == a }) else { break }
            path.append(a)
            command = sub
        }
        return path
    }

    /// Every visible option name of the command at `path` (`--profile`, `-p`, …), from
    /// ArgumentParser's own description of it (`--experimental-dump-help`), so the list is
    /// the declarations themselves.
    static func flagNames(of path: [String]) -> [String] {
        let dump: String
        do {
            _ = try BulkheadCommand.parseAsRoot(path + ["--experimental-dump-help"])
            return []
        } catch {
            dump = BulkheadCommand.fullMessage(for: error)
        }
        guard let root = try? JSONSerialization.jsonObject(with: Data(dump.utf8)) as? [String: Any],
              let command = root["command"] as? [String: Any],
              let arguments = command["arguments"] as? [[String: Any]] else { return [] }
        var names: [String] = []
        for a in arguments where (a["shouldDisplay"] as? Bool) != false {
            for n in a["names"] as? [[String: Any]] ?? [] {
                guard let kind = n["kind"] as? String, let name = n["name"] as? String else { continue }
                names.append(kind == "long" ? "--" + name : "-" + name)
            }
        }
        return names
    }
}
