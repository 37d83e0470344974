import Bulkhead
import Foundation
import Glibc
import Testing

/// Red team on issue 15's `run --name` / `ps` / `stop`: what whoever passes flags can do to the
/// registry of named sandboxes.
@Suite(.serialized, .enabled(if: Gate.root, Gate.rootReason))
struct RedTeamLastTests {
    func ps() throws -> (entries: [SandboxEntry], stderr: String) {
        let r = try Bulkhead.run(["ps", "--json"])
        #expect(r.status == 0, "\(r.stderr)")
        return (try JSONDecoder().decode([SandboxEntry].self, from: Data(r.stdout.utf8)), r.stderr)
    }

    /// A command line longer than an entry may hold (64 KiB) made an entry `ps` refused: the
    /// sandbox ran hidden from `ps` and `stop`, and a second `run --name` of the same name
    /// deleted its entry and ran too. Now the entry records a shortened command, and the
    /// sandbox is listed, keeps its name, and stops.
    @Test func longCommandLineKeepsTheSandboxListedAndItsName() throws {
        let name = token()
        let long = String(repeating: "a", count: 70_000)
        let p = try SandboxNamesTests().startNamed(name, ["/bin/sh", "-c", "sleep 60", long])
        defer { if p.isRunning { kill(p.processIdentifier, SIGKILL) } }

        let listed = try ps()
        let entry = listed.entries.first { $0.name == name }
        #expect(entry?.launcherPID == p.processIdentifier, "listed: \(listed.stderr.prefix(300))")
        #expect(!listed.stderr.contains(name), "the entry was refused: \(listed.stderr.prefix(300))")
        #expect(entry.map { $0.command.joined().unicodeScalars.count <= 4097 } ?? false, "the recorded command is shortened")

        let second = try Bulkhead.run(["run", "--name", name, "--", "echo", "SECOND-RAN"])
        #expect(second.status == 125 && !second.stdout.contains("SECOND-RAN"), "a second sandbox took the name: \(second.stderr)")

        let stop = try Bulkhead.run(["stop", name, "--grace", "5s"])
        #expect(stop.status == 0, "\(stop.stderr)")
        p.waitUntilExit()
        #expect(p.terminationStatus == 143)
        #expect(!FileManager.default.fileExists(atPath: "\(SandboxRegistry.rootDirectory)/\(name).json"))
    }
}
