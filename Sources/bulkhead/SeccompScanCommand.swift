import ArgumentParser
import Bulkhead
import BulkheadModel

extension SeccompCommand {
    struct Scan: ParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Find the system calls an ELF executable and its shared libraries can make, and write them as a profile.",
            discussion: """
            Static analysis for the paths a recording does not reach: direct syscall instructions \
            with a constant number (x86_64 code), and the functions imported from glibc mapped to \
            the calls they reach (a table generated from Debian 12's libc6). The libraries are \
            found as the dynamic loader finds them (DT_RUNPATH, /etc/ld.so.cache, the default \
            directories). --merge unites a recording report (or a policy) and marks each call in \
            the report as seen, scanned or both.
            Example: bulkhead seccomp scan /usr/bin/cat -o cat-scanned.json
            """
        )

        @Argument(help: ArgumentHelp("Executables or libraries to scan.", valueName: "BINARY"))
        var binaries: [String]

        @Option(help: ArgumentHelp("A recording report (from record --report) or a seccomp policy whose calls count as seen.", valueName: "FILE"))
        var merge: String?

        @Option(help: ArgumentHelp("Format of the policy written.", valueName: "kubernetes|oci|docker|spo"))
        var format: SeccompExportFormat = .kubernetes

        @OptionGroup var architecture: ArchitectureOption

        @Option(help: "Name of the policy (SPO metadata.name; NAME.json on a node).")
        var name: String = "scanned"

        @Option(name: .shortAndLong, help: ArgumentHelp("Write the policy to FILE (default: standard output, unless --json).", valueName: "FILE"))
        var output: String?

        @Flag(help: "Print the report (each call with seen/scanned/both and where it was found; the files read) as JSON on standard output.")
        var json = false

        func validate() throws {
            if binaries.isEmpty { throw ValidationError("give at least one BINARY") }
            if let problem = KubernetesName.problem(name) { throw ValidationError("--name \"\(name)\" \(problem)") }
        }

        func run() throws {
            var seen: Set<String>? = nil
            var recordings: [SyscallRecording] = []
            if let merge {
                switch try orExit({ () throws(ConfigError) in try SeccompSource.mergeInput(file: merge) }) {
                case .recording(let r):
                    seen = r.names
                    recordings.append(r)
                case .policy(let p):
                    seen = Set(p.rules.filter { $0.action.letsCallRun }.flatMap(\.names))
                }
            }
            let scanner = SyscallScanner(read: { path in try ScanFiles.read(path) }, resolve: ScanFiles.resolver(cache: ScanFiles.loaderCache()))
            let report: SyscallScanReport
            do {
                report = try scanner.scan(binaries, seen: seen)
            } catch {
                warn("cannot scan \(error.description)")
                throw ExitCode(1)
            }
            let all = report.calls.map(\.name)
            let calls = all.compactMap { n in SyscallTable.number(of: n, on: .x86_64).map { SyscallRecording.Call(arch: .x86_64, name: n, number: $0, count: 1) } }
            let scanned = SyscallRecording(command: binaries, profile: "scan", calls: calls)
            var policy = RecordedPolicy.build([scanned] + recordings, native: .x86_64, argumentRules: false).policy
            policy = try architecture.apply(policy)
            let text: String
            do {
                text = try policy.export(format, options: SeccompExportOptions(name: name))
            } catch {
                warn(error.description)
                throw ExitCode(1)
            }
            if json { out(report.jsonText()) }
            if !json || output != nil { try emit(Array(text.utf8), to: output) }
            var s = "# scanned \(report.files.count) files (libc table: glibc \(report.libcTable))"
            let unresolved = report.files.reduce(0) { $0 + $1.unresolvedSites }
            if unresolved > 0 { s += "; \(unresolved) syscall sites without a constant number" }
            s += "\n"
            if !report.missingLibraries.isEmpty { s += "# libraries not found (not scanned): \(report.missingLibraries.joined(separator: ", "))\n" }
            let count = { (src: SyscallScanReport.Source) in report.calls.filter { $0.source == src }.count }
            s += seen == nil
                ? "# \(report.calls.count) calls found\n"
                : "# \(report.calls.count) calls: \(count(.both)) both seen and scanned, \(count(.scanned)) scanned only, \(count(.seen)) seen only\n"
            let allowed = Set(policy.rules.filter { $0.action.letsCallRun }.flatMap(\.names))
            s += "# policy: \(allowed.count) calls allowed, default \(policy.defaultAction.rawValue)\(output.map { ", written to \($0)" } ?? "")\n"
            note(s)
        }
    }
}
