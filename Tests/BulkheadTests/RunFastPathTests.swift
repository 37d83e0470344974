import BulkheadModel
import Testing
@testable import bulkhead

/// `bulkhead run`'s fast reader must take only what ArgumentParser reads the same way.
@Suite("RunFastPath")
struct RunFastPathTests {
    /// What ArgumentParser makes of the same arguments, in the fast reader's terms; nil when it
    /// refuses them or when they carry anything the fast reader does not model.
    func viaArgumentParser(_ args: [String]) -> (invocation: RunInvocation, overrides: ProfileLayer)? {
        guard let c = try? RunCommand.parseAsRoot(args) as? RunCommand, let layer = try? c.commandLineLayer() else { return nil }
        return (RunInvocation(profile: c.profile, report: c.report, timeout: c.timeout, command: c.command,
                              tty: c.tty, preserveFds: c.preserveFd, injectFault: c.injectFault), layer)
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
        ["--limits", "best-effort", "--", "/bin/true"],
        ["--limits=strict", "-p", "unconfined", "--report", "-", "--", "true"],
    ])
    func accepted(_ args: [String]) throws {
        let fast = try #require(RunFastPath.parse(args[...], poolInEnvironment: false))
        let full = try #require(viaArgumentParser(args))
        #expect(fast.invocation == full.invocation)
        #expect(fast.overrides == full.overrides)
    }

    /// `--limits best-effort` is every rootless launch's flag on a host without delegated
    /// hierarchies: read here, it must set the same enforcement ArgumentParser's path sets.
    @Test("--limits reaches the override layer as the full parser's")
    func limitsOverride() throws {
        let fast = try #require(RunFastPath.parse(["--limits", "best-effort", "--", "true"][...], poolInEnvironment: false))
        #expect(fast.overrides.enforcement == .bestEffort)
        #expect(fast.overrides == viaArgumentParser(["--limits", "best-effort", "--", "true"])?.overrides)
    }

    /// With BULKHEAD_POOL naming a pool the full parser decides (it refuses --profile and
    /// --limits there, docs/security.md): the fast reader must not launch cold instead.
    @Test("Nothing is read fast when the environment names a pool")
    func poolInEnvironment() {
        for args in [["--", "true"], ["--profile", "unconfined", "--", "true"], ["--limits", "best-effort", "--", "true"]] {
            #expect(RunFastPath.parse(args[...], poolInEnvironment: true) == nil)
        }
    }

    @Test("Anything else is left to ArgumentParser", arguments: [
        [], ["--"], ["/bin/true"], ["--profile", "x"], ["--profile", "--", "true"], ["--profile", "-x", "--", "true"],
        ["--profile", "a", "--profile", "b", "--", "true"], ["--profile="], ["--profile=", "--", "true"],
        ["--timeout", "1s", "--", "true"], ["-t", "--", "true"], ["--help"], ["-h"], ["--version"],
        ["--report"], ["-pcontainer", "--", "true"], ["--env", "A=1", "--", "true"], ["--generate-completion-script", "bash"],
        ["--limits", "bogus", "--", "true"], ["--limits", "strict", "--limits", "strict", "--", "true"], ["--limits=", "--", "true"],
        ["--limits", "--", "true"],
    ])
    func refused(_ args: [String]) {
        #expect(RunFastPath.parse(args[...], poolInEnvironment: false) == nil)
    }

    /// End to end, as a user (BULKHEAD_POOL is ignored for root): `--profile` and `--limits` with
    /// BULKHEAD_POOL set are refused as with `--pool` (docs/security.md), not launched cold. The
    /// fast reader took `--profile` here and ran the command outside the pool, looser than the
    /// pool's profile the environment chose. No pool is needed: the refusal comes first.
    @Test("BULKHEAD_POOL with --profile or --limits is refused, not launched cold", .enabled(if: Gate.root, Gate.rootReason))
    func poolEnvironmentRefusesProfileFlags() throws {
        let nobody = ["/usr/bin/setpriv", "--reuid", "65534", "--regid", "65534", "--clear-groups"]
        for flags in [["--profile", "unconfined"], ["--limits", "best-effort"]] {
            let r = try Bulkhead.run(["run"] + flags + ["--", "/bin/sh", "-c", "exit 7"],
                                     env: ["BULKHEAD_POOL": "/nonexistent/bh-pool.sock", "HOME": "/nonexistent"], prefix: nobody)
            #expect(r.status == 125 && r.stderr.contains("the pool's profile decides the sandbox"), "\(flags): \(r.status) \(r.stderr)")
        }
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
            #expect(RunFastPath.parse(args[...], poolInEnvironment: false) == nil)
        }
        #expect(throws: (any Error).self) { try RunCommand.parseAsRoot(["--inject-fault=-1", "--", "/bin/true"]) }
    }
}
