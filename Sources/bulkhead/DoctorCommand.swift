import ArgumentParser
import Bulkhead

struct DoctorCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "doctor",
        abstract: "Check what this host gives bulkhead: cgroups, user namespaces, seccomp, Landlock, clone3.",
        discussion: "Each check: ok, warn (works, with advice) or FAIL, what was found, and the fix. Exit status 0 when no check fails, 1 otherwise."
    )

    @Flag(help: "Print the checks as JSON.") var json = false

    func run() throws {
        let report = Maintenance.doctor()
        if json {
            out(ReportJSON.encode(report) + "\n")
        } else {
            out("kernel \(report.kernelRelease)\n")
            let w = report.checks.map(\.name.count).max() ?? 0
            for c in report.checks {
                out("\(!c.ok ? "FAIL" : c.fix == nil ? "ok  " : "warn") \(c.name.padded(w))  \(c.detail)\n")
                if let fix = c.fix { out("     \(String(repeating: " ", count: w))  \(c.ok ? "note" : "fix"): \(fix)\n") }
            }
        }
        if !report.allOK { throw ExitCode(1) }
    }
}

struct GCCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "gc",
        abstract: "Remove what killed launchers left behind (their cgroups); live sandboxes are never touched."
    )

    func run() throws {
        do {
            let removed = try Maintenance.collectGarbage()
            for r in removed { out("removed \(r)\n") }
            if removed.isEmpty { out("nothing to collect\n") }
        } catch {
            warn("\(error)")
            throw ExitCode(1)
        }
    }
}
