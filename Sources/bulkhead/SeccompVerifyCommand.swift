import ArgumentParser
import Bulkhead
import BulkheadModel
import Foundation

extension SeccompCommand {
    struct Verify: ParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Run a command under a seccomp policy with every refusal reported instead of enforced, and list the calls the policy misses.",
            discussion: """
            The command runs in the sandbox of the layer profile (default: container) with POLICY \
            as its seccomp policy. Every call the policy would refuse (errno, kill, trap or trace \
            actions, and calls of an architecture the policy does not list) waits for bulkhead, \
            which counts it with its architecture and the executable that made it and then lets \
            it run. Exit status: 0 when nothing is missing, 1 when calls are missing, 2 when \
            nothing could be observed (the policy refuses the sendmsg or close that hand the \
            listener to bulkhead), 125 when the sandbox could not start.
            Example: bulkhead seccomp verify sh.json --runs 3 -- sh -c 'ls / && cat /etc/hostname'
            """
        )

        @Argument(help: ArgumentHelp("The seccomp policy (a runtime-spec, Docker or Podman JSON file).", valueName: "POLICY"))
        var policy: String

        @Option(name: .shortAndLong, help: "Layer profile to run the command under (its seccomp policy is replaced by POLICY).", completion: Completions.profiles)
        var profile: String = "container"

        @Option(help: ArgumentHelp("strict: refuse to start when a limit cannot be enforced (default); best-effort: start anyway (rootless without a delegated cgroup).", valueName: "strict|best-effort"), completion: .list(["strict", "best-effort"]))
        var limits: String?

        @Option(help: "How many times to run the command (the counts are summed).")
        var runs: Int = 1

        @Option(help: ArgumentHelp("Kill each run after this long (e.g. 10s); what was counted is kept.", valueName: "DURATION"))
        var timeout: String?

        @Flag(help: "Print the typed JSON report (SeccompVerifyReport) on standard output.")
        var json = false

        @Argument(parsing: .postTerminator, help: "The command and its arguments, after --.")
        var command: [String] = []

        func validate() throws {
            if command.isEmpty { throw ValidationError("give the command after --") }
            if runs < 1 || runs > 1000 { throw ValidationError("--runs must be 1 to 1000") }
        }

        func run() throws {
            let report = try SeccompVerifyCommandSupport.verify(policy: policy, profile: profile, runs: runs, timeout: timeout,
                                                                limits: limits, command: command)
            if json { _ = writeAll(1, Array((ReportJSON.encode(report) + "\n").utf8)) }
            note(SeccompVerifyCommandSupport.summary(report))
            throw ExitCode(SeccompVerifyCommandSupport.status(report))
        }
    }
}

/// Shared by `seccomp verify` and `seccomp record --verify N`.
enum SeccompVerifyCommandSupport {
    static func verify(policy: String, profile: String, runs: Int, timeout: String?, limits: String? = nil,
                       command: [String]) throws -> SeccompVerifyReport {
        let seconds = try orExit { () throws(ConfigError) in try timeout.map { (t) throws(ConfigError) in try parseDuration(t) } }
        var flags = CommandLineLayer()
        flags.seccomp = policy
        flags.limits = limits
        do {
            let store = ProfileStore.standard()
            let layers = try store.layers(for: profile)
            let cwd = FileManager.default.currentDirectoryPath
            let overrides = try flags.layer(environment: ProcessInfo.processInfo.environment, currentDirectory: cwd)
            return try SeccompVerifier.verify(.init(layers: layers, overrides: overrides, policyLabel: policy, command: command,
                                                    runs: runs, timeoutSeconds: seconds), store: store)
        } catch {
            warn("cannot verify the policy: \(error)")
            throw ExitCode(ExitStatus.launchFailed)
        }
    }

    static func summary(_ r: SeccompVerifyReport) -> String {
        var s = ""
        if let u = r.unverified { s += "# unverified: \(u)\n" }
        for v in r.missing { s += "missing: \(v.line)\n" }
        let runs = "\(r.runs) run\(r.runs == 1 ? "" : "s")"
        switch r.verdict {
        case "complete": s += "# \(r.policy): no call missing in \(runs) (exit codes \(r.exitCodes.map(String.init).joined(separator: ",")))\n"
        case "missing": s += "# \(r.policy): \(r.missing.count) call\(r.missing.count == 1 ? "" : "s") missing in \(runs)\n"
        default: s += "# \(r.policy): not verified\n"
        }
        return s
    }

    static func status(_ r: SeccompVerifyReport) -> Int32 {
        switch r.verdict {
        case "complete": return 0
        case "missing": return 1
        default: return 2
        }
    }
}
