import BulkheadLaunch
import BulkheadModel
import PropertyBased
import Testing
@testable import bulkhead_cli

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

    /// Argument vectors built from a stream of numbers: flags the fast reader knows and others,
    /// `--x=v` and `--x v`, values that are valid, refused, empty, dash-led, `-`, or unicode that
    /// looks like a dash, an `=` or a flag name (combining marks, ZWJ, en dash, U+2212), repeats,
    /// `--` anywhere (or none), flags after the command.
    static func argv(_ entropy: [UInt32]) -> [String] {
        let flags = ["--profile", "-p", "--report", "--limits", "--pool", "--timeout", "--env", "--name", "--memory",
                     "--seccomp", "--log-level", "--inject-fault", "--cap-add", "--limit", "--limits\u{301}", "-p\u{301}",
                     "\u{2013}\u{2013}limits", "\u{2212}p", "-l", "---limits", "--Limits", "-P"]
        let values = ["best-effort", "strict", "container", "unconfined", "-", "", " ", "/tmp/r.json", "--", "-q",
                      "--limits", "best-effort\u{301}", "best\u{2010}effort", "Strict", "STRICT", "strict ", "bogus",
                      "=", "=\u{338}", "-\u{301}", "--\u{200D}", "\u{2212}", "help", "--help", "1s", "A=1", "x=y",
                      "best-effort=strict", "-1", "container\u{0}", "é", "e\u{301}"]
        let loose = ["--", "-", "---", "-q", "-t", "--tty", "--dry-run", "--help", "-h", "--version", "-pcontainer",
                     "-p=container", "--=x", "=", "", "true", "/bin/true", "--seccomp-strict", "help",
                     "--limits=best-effort", "--limits=strict", "--limits=", "--report=-", "--profile=-", "-\u{301}-",
                     "--\u{301}", "-\u{200D}-", "\u{2013}\u{2013}", "--limits=best-effort\u{301}",
                     "--limits=\u{301}strict", "--limits\u{301}=strict", "--limits=\u{338}strict"]
        var n = entropy[...]
        func next(_ bound: Int) -> Int { n.isEmpty ? 0 : Int(n.removeFirst() % UInt32(bound)) }
        var out: [String] = []
        for _ in 0..<next(6) {
            switch next(7) {
            case 0, 1: out += [flags[next(6)], values[next(values.count)]] // mostly a flag the fast reader knows
            case 2: out += [flags[next(flags.count)], values[next(values.count)]]
            case 3: out.append(flags[next(flags.count)] + "=" + values[next(values.count)])
            case 4: out.append(loose[next(loose.count)])
            case 5: out.append(values[next(values.count)])
            default: out.append(flags[next(flags.count)])
            }
        }
        if next(4) != 0 { out.append("--") }
        for _ in 0..<next(4) { out.append(next(2) == 0 ? loose[next(loose.count)] : values[next(values.count)]) }
        return out
    }

    /// The differential check: whatever the fast reader accepts, ArgumentParser accepts too and
    /// reads as the same invocation, the same override layer (enforcement included), and with
    /// none of the flags the fast reader does not model set (`--pool`, `--dry-run`, `-q`, …).
    static func agrees(_ args: [String]) -> Bool {
        guard let fast = RunFastPath.parse(args[...], poolInEnvironment: false) else { return true }
        guard let c = try? RunCommand.parseAsRoot(args) as? RunCommand, let layer = try? c.commandLineLayer() else { return false }
        let invocation = RunInvocation(profile: c.profile, report: c.report, timeout: c.timeout, command: c.command,
                                       tty: c.tty, preserveFds: c.preserveFd, injectFault: c.injectFault)
        return fast.invocation == invocation && fast.overrides == layer && c.pool == nil && !c.dryRun && !c.quiet
            && !c.seccompStrict && c.supplementaryGroups == nil && c.stopSignal == nil && c.stopTimeout == nil
            && c.logLevel == nil && c.name == nil
    }

    /// A property check over generated argument vectors (and, separately, every vector the
    /// fast reader accepts must also be refused when the environment names a pool).
    @Test("Generated argument vectors: the fast reader never reads what ArgumentParser reads otherwise")
    func differential() async {
        var accepted = 0
        await propertyCheck(count: 4000, input: Gen.uint32().array(of: 0...40)) { entropy in
            let args = Self.argv(entropy)
            if RunFastPath.parse(args[...], poolInEnvironment: false) != nil { accepted += 1 }
            #expect(Self.agrees(args), "\(args.map { $0.unicodeScalars.map { $0.isASCII ? String($0) : "\\u{\(String($0.value, radix: 16))}" }.joined() })")
            #expect(RunFastPath.parse(args[...], poolInEnvironment: true) == nil)
        }
        // Not vacuous: a good share of the vectors take the fast path.
        #expect(accepted > 200, "only \(accepted) of 4000 generated vectors took the fast path")
    }

    /// As root, BULKHEAD_POOL is ignored with a warning (docs/security.md, "Root names its pool":
    /// under `sudo -E` it is the calling user's variable), whichever reader takes the command
    /// line. The fast reader launched `run --limits best-effort` (and `run --profile NAME`) cold
    /// without it: the pooled reader stops at the flag before it reads the variable, the fast
    /// reader's check is silent for root, and ArgumentParser, which warns, is never reached.
    @Test("Root with BULKHEAD_POOL: a cold launch under its own flags, warned once, on every reader", .enabled(if: Gate.root, Gate.rootReason))
    func rootWarnedOfBulkheadPool() throws {
        for flags in [[], ["--limits", "best-effort"], ["--limits=strict", "-p", "container"], ["--profile", "container"], ["-q"]] {
            let r = try Bulkhead.run(["run"] + flags + ["--", "/bin/sh", "-c", "exit 5"], env: ["BULKHEAD_POOL": "/nonexistent/bh-pool.sock"])
            #expect(r.status == 5, "\(flags): \(r.status) \(r.stderr)")
            let warnings = r.stderr.split(separator: "\n").filter { $0.contains("BULKHEAD_POOL is ignored for root") }
            #expect(warnings.count == 1, "\(flags): \(r.stderr)")
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
