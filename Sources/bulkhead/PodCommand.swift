import ArgumentParser
import Bulkhead
import BulkheadModel
import Foundation

struct PodCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "pod",
        abstract: "Run a Kubernetes Pod manifest on this machine: containers sharing a network and IPC namespace.",
        subcommands: [Run.self]
    )

    struct Run: ParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Run a pod to completion and report on each container.",
            discussion: """
            The files hold a Pod (apiVersion v1) and optionally its Tenant (bulkhead.dev/v1alpha1) and
            ResourceQuotas. Exit status: 0 when every container exited 0, else the first failing
            container's status; 125 when the pod could not be started.
            """
        )
        @Argument(help: "Manifest files.") var files: [String]
        @Option(help: ArgumentHelp("Write the JSON pod report to FILE, or to standard output with '-'.", valueName: "FILE|-"))
        var report: String?

        func run() throws {
            let loaded: PodLoader.Loaded
            do { loaded = try PodLoader.load(files: files) } catch {
                warn("cannot start the pod: \(error)")
                throw ExitCode(ExitStatus.launchFailed)
            }
            for note in loaded.request.notes { warn("note: \(note)") }
            let result = PodRunner.run(loaded.request)
            if let error = result.error { warn("pod \(result.pod): \(error)") }
            for c in result.containers where c.report.exitCode != 0 {
                warn("container \(c.name): exit \(c.report.exitCode) (\(c.report.reason.rawValue))\(c.report.error.map { ": \($0.message)" } ?? "")")
            }
            if let report {
                let json = ReportJSON.encode(result) + "\n"
                if report == "-" { out(json) } else {
                    guard FileManager.default.createFile(atPath: report, contents: Data(json.utf8)) else {
                        warn("cannot write the report to \(report)")
                        throw ExitCode(ExitStatus.launchFailed)
                    }
                }
            }
            throw ExitCode(result.exitCode)
        }
    }
}
