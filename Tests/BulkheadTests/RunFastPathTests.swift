import BulkheadModel
import Testing
@testable import bulkhead

/// `bulkhead run`'s fast reader must take only what ArgumentParser reads the same way.
@Suite("RunFastPath")
struct RunFastPathTests {
    /// What ArgumentParser makes of the same arguments, in the fast reader's terms; nil when it
    /// refuses them or when they carry anything the fast reader does not model.
    func viaArgumentParser(_ args: [String]) -> RunInvocation? {
        guard let c = try? RunCommand.parseAsRoot(args) as? RunCommand,
              let layer = try? c.commandLineLayer(), layer == ProfileLayer() else { return nil }
        return RunInvocation(profile: c.profile, report: c.report, timeout: c.timeout, command: c.command,
                             tty: c.tty, preserveFds: c.preserveFd, injectFault: c.injectFault)
    }

    @Test("Accepted argument vectors read exactly as ArgumentParser reads them", arguments: [
        ["--", "/bin/true"],
        ["--", "sh", "-c", "echo --profile x"],
        ["--profile", "unconfined", "--", "/bin/true"],
        ["-p", "restricted", "--", "id", "-u"],
        ["--profile=./Profiles/container.yaml", "--", "true"],
        ["--report", "-", "--", "true"],
        ["--report=/tmp/r.json", "--profile", "container", "--", "true", "--report", "x"],
        ["--", "--", "x"],
    ])
    func accepted(_ args: [String]) throws {
        let fast = try #require(RunFastPath.parse(args[...]))
        #expect(fast == viaArgumentParser(args))
    }

    @Test("Anything else is left to ArgumentParser", arguments: [
        [], ["--"], ["/bin/true"], ["--profile", "x"], ["--profile", "--", "true"], ["--profile", "-x", "--", "true"],
        ["--profile", "a", "--profile", "b", "--", "true"], ["--profile="], ["--profile=", "--", "true"],
        ["--timeout", "1s", "--", "true"], ["-t", "--", "true"], ["--help"], ["-h"], ["--version"],
        ["--report"], ["-pcontainer", "--", "true"], ["--env", "A=1", "--", "true"], ["--generate-completion-script", "bash"],
    ])
    func refused(_ args: [String]) {
        #expect(RunFastPath.parse(args[...]) == nil)
    }

    @Test("The hidden --inject-fault flag reads every FaultPoint spelling; the fast reader leaves it to ArgumentParser")
    func injectFaultSpellings() throws {
        let spellings: [(String, FaultPoint)] = [
            ("step:4", .step(4)), ("4", .step(4)), ("id-maps", .idMaps), ("-2", .idMaps),
            ("cgroup-create", .cgroupCreate), ("-3", .cgroupCreate), ("cgroup-attach", .cgroupAttach), ("-4", .cgroupAttach),
            ("cgroup-leaves", .cgroupLeaves), ("cgroup-limits", .cgroupLimits),
        ]
        for (text, point) in spellings {
            let args = ["--inject-fault=\(text)", "--", "/bin/true"]
            let c = try #require(try RunCommand.parseAsRoot(args) as? RunCommand, "\(text)")
            #expect(c.injectFault == point, "\(text)")
            #expect(RunFastPath.parse(args[...]) == nil)
        }
        #expect(throws: (any Error).self) { try RunCommand.parseAsRoot(["--inject-fault=-1", "--", "/bin/true"]) }
    }
}
