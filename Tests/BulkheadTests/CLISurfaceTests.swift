import ArgumentParser
import Foundation
import Testing
@testable import bulkhead_cli

/// What a new user meets first: exit statuses of usage errors, help text, did-you-mean
/// suggestions and shell completions (issue 15). Run against the built binary as a user would.
@Suite("CLISurface")
struct CLISurfaceTests {
    @Test("Usage errors exit 125 (as docker and podman do, as the README says), with the error on standard error", arguments: [
        [], ["pod"], ["profile"], ["seccomp"], ["k8s"], ["policy"],
        ["run", "true"], ["run", "--rm", "--", "true"], ["run", "--io-weight", "x", "--", "true"], ["run", "--profile"],
        ["pod", "stop"], ["pod", "stop", "web", "--grace", "nan"], ["profile", "show"], ["doctor", "--bogus"], ["nosuchcommand"],
    ])
    func usageErrorsExit125(_ args: [String]) throws {
        let r = try Bulkhead.run(args)
        #expect(r.status == 125, "bulkhead \(args): \(r.stderr)")
        #expect(r.stderr.contains("Error: "), "bulkhead \(args): \(r.stderr)")
        #expect(r.stdout.isEmpty, "bulkhead \(args) printed to standard output: \(r.stdout)")
    }

    @Test("An unknown flag is a usage error (125) on every command of the tree")
    func unknownFlagEverywhere() throws {
        for (_, path) in Self.commands() where path != ["help"] {
            let r = try Bulkhead.run(path + ["--no-such-flag"])
            #expect(r.status == 125, "\(path): \(r.status) \(r.stderr)")
            // ArgumentParser names a missing argument first where one is missing.
            #expect(r.stderr.hasPrefix("Error: ") || r.stderr.contains("\nError: "), "\(path): \(r.stderr)")
        }
    }

    @Test("Help asked for is no error: exit 0, on standard output", arguments: [["--help"], ["run", "--help"], ["pod", "--help"], ["help", "run"]])
    func helpExitsZero(_ args: [String]) throws {
        let r = try Bulkhead.run(args)
        #expect(r.status == 0)
        #expect(r.stdout.contains("USAGE: bulkhead"))
    }

    @Test("A workload's own status 64 stays 64: only bulkhead's usage errors become 125", .enabled(if: Gate.root, Gate.rootReason))
    func workloadStatusUntouched() throws {
        #expect(try Bulkhead.sh("exit 64").status == 64)
    }

    /// Every command of the tree, with its path (`["pod", "stop"]`).
    static func commands(_ type: ParsableCommand.Type = BulkheadCommand.self, path: [String] = []) -> [(ParsableCommand.Type, [String])] {
        [(type, path)] + type.configuration.subcommands.flatMap { commands($0, path: path + [$0._commandName]) }
    }

    @Test("Every command's usage line starts with `bulkhead` and its path, --help and -h alike")
    func usageLineNamesTheTool() throws {
        for (_, path) in Self.commands() {
            for flag in ["--help", "-h"] {
                let r = try Bulkhead.run(path + [flag])
                let usage = r.stdout.split(separator: "\n").first { $0.hasPrefix("USAGE: ") }
                #expect(usage?.hasPrefix((["USAGE: bulkhead"] + path).joined(separator: " ")) == true, "\(path) \(flag): \(usage ?? "no usage line")")
            }
        }
    }

    /// A break in running text where the next word would have fit: text wrapped twice (by its
    /// author, then by ArgumentParser). Lines that start a paragraph of their own (a label
    /// such as `Example:`, an option, deeper indentation) are not breaks.
    static func raggedBreaks(_ help: String, width: Int = 80) -> [String] {
        let lines = help.split(separator: "\n", omittingEmptySubsequences: false).map(String.init)
        var ragged: [String] = []
        for (a, b) in zip(lines, lines.dropFirst()) where !a.isEmpty && !b.isEmpty {
            let ia = a.prefix { $0 == " " }.count, ib = b.prefix { $0 == " " }.count
            let body = b.dropFirst(ib)
            // Not running text: an option or a subcommand's row (name, then a column gap).
            guard ia == ib, !body.hasPrefix("-"), body.firstMatch(of: #/^\S+  /#) == nil,
                  body.firstMatch(of: #/^[A-Za-z][A-Za-z ]{0,20}: /#) == nil,
                  let word = body.split(separator: " ").first else { continue }
            // ArgumentParser fills lines to width - 1 columns.
            if a.count + 1 + word.count < width { ragged.append(a + " ⏎ " + b) }
        }
        return ragged
    }

    @Test("Help text is wrapped once: no line breaks where the next word would have fit")
    func helpWrappedOnce() {
        for (type, path) in Self.commands() {
            let help = BulkheadCommand.helpMessage(for: type, columns: 80)
            #expect(Self.raggedBreaks(help).isEmpty, "\(path): \(Self.raggedBreaks(help))")
        }
        // The check itself finds a twice-wrapped text.
        #expect(!Self.raggedBreaks("one two three four five six seven eight nine ten eleven twelve thirteen fourteen\nfifteen\nsixteen").isEmpty)
    }

    @Test("Did-you-mean: docker habits and real near-misses, never an unrelated flag", arguments: [
        (["run", "--rm", "--", "true"], "removes every sandbox when it exits"),
        (["run", "--net", "none", "--", "true"], "Did you mean '--network'?"),
        (["run", "--uid", "1", "--", "true"], "Did you mean '--user'?"),
        (["run", "--netwrk", "none", "--", "true"], "Did you mean '--network'?"),
        (["run", "--cpu", "1", "--", "true"], "Did you mean '--cpus' or '--cpuset-cpus'?"),
        (["run", "--cap", "NET_RAW", "--", "true"], "Did you mean '--cap-add' or '--cap-drop'?"),
        (["run", "-it", "--", "sh"], "always gives the workload its standard input"),
        (["pod", "stop", "web", "--namespce", "x"], "Did you mean '--namespace'?"),
    ])
    func suggestions(_ args: [String], _ expected: String) throws {
        let r = try Bulkhead.run(args)
        #expect(r.status == 125)
        #expect(r.stderr.contains(expected), "\(args): \(r.stderr)")
    }

    @Test("No suggestion when nothing is close (ArgumentParser offered --env for --rm and --net, --bind for --uid)")
    func noOddSuggestions() throws {
        let flags = UsageError.flagNames(of: ["run"])
        #expect(flags.contains("--network") && flags.contains("-p") && !flags.contains("--inject-fault"))
        for option in ["--x", "--zzzz", "--rmi", "--verbosity-level-xyz", String(repeating: "--a", count: 50)] {
            #expect(UsageError.suggestion(for: option, command: "run", flags: flags) == nil, "\(option)")
        }
        let r = try Bulkhead.run(["run", "--x", "--", "true"])
        #expect(r.stderr.contains("Unknown option '--x'\n"), "\(r.stderr)")
        // A habit whose flag the command lacks is not offered.
        #expect(UsageError.suggestion(for: "--net", command: "run", flags: ["--env"]) == nil)
    }

    // MARK: completions, by running the generated scripts

    func script(_ shell: String) throws -> String {
        let r = try Bulkhead.run(["--generate-completion-script", shell])
        #expect(r.status == 0)
        let path = NSTemporaryDirectory() + "bh-completion-\(UUID().uuidString).\(shell)"
        try r.stdout.write(toFile: path, atomically: true, encoding: .utf8)
        return path
    }

    /// Runs `shell -c body` with the built bulkhead first on PATH and the package's profiles.
    func shell(_ exe: String, _ args: [String]) throws -> String {
        let p = Process()
        p.executableURL = URL(fileURLWithPath: exe)
        p.arguments = args
        var env = ProcessInfo.processInfo.environment
        env["PATH"] = URL(fileURLWithPath: Bulkhead.binary).deletingLastPathComponent().path + ":" + (env["PATH"] ?? "/usr/bin:/bin")
        env["BULKHEAD_PROFILE_PATH"] = Bulkhead.packageRoot + "/Profiles"
        env["HOME"] = NSTemporaryDirectory()
        p.environment = env
        let out = Pipe()
        p.standardOutput = out
        p.standardError = FileHandle.nullDevice
        p.standardInput = FileHandle.nullDevice
        try p.run()
        let data = out.fileHandleForReading.readDataToEndOfFile()
        p.waitUntilExit()
        return String(decoding: data, as: UTF8.self)
    }

    static let cases: [(words: [String], expected: Set<String>)] = [
        (["bulkhead", "run", "--profile", ""], Set(Completions.profileNames())),
        (["bulkhead", "run", "-p", "re"], ["restricted"]),
        (["bulkhead", "run", "--network", ""], ["none", "host"]),
        (["bulkhead", "run", "--cap-add", "NET_"], ["NET_BIND_SERVICE", "NET_BROADCAST", "NET_ADMIN", "NET_RAW"]),
        (["bulkhead", "run", "--cap-drop", "AL"], ["ALL"]),
        (["bulkhead", "run", "--stop-signal", "SIGU"], ["SIGUSR1", "SIGUSR2"]),
        (["bulkhead", "profile", "show", ""], Set(Completions.profileNames())),
        (["bulkhead", "k8s", "securitycontext", "--profile", "unc"], ["unconfined"]),
    ]

    @Test("bash: the completion function, called with COMP_WORDS set, offers the values")
    func bashCompletes() throws {
        #expect(Set(Completions.profileNames()).isSuperset(of: ["container", "restricted", "unconfined"]))
        let path = try script("bash")
        defer { try? FileManager.default.removeItem(atPath: path) }
        for c in Self.cases {
            let words = c.words.map { "'\($0)'" }.joined(separator: " ")
            let body = """
            shopt -s extglob; source '\(path)'
            f=$(complete -p bulkhead | sed -E 's/.*-F ([^ ]+) .*/\\1/')
            COMP_WORDS=(\(words)); COMP_CWORD=$((${#COMP_WORDS[@]}-1)); COMP_LINE="${COMP_WORDS[*]}"; COMP_POINT=${#COMP_LINE}
            COMPREPLY=(); "$f" bulkhead "${COMP_WORDS[COMP_CWORD]}" "${COMP_WORDS[COMP_CWORD-1]}"; printf '%s\\n' "${COMPREPLY[@]}"
            """
            let got = Set(try shell("/bin/bash", ["-c", body]).split(separator: "\n").map(String.init))
            #expect(got == c.expected, "\(c.words): \(got.sorted())")
        }
    }

    /// Drives zsh's completion system in a pseudo-terminal (zsh/zpty): types the line and TAB,
    /// with compadd wrapped to print each match it is given as HIT<match> and the completion
    /// function wrapped to print ENDCOMP when it returns; waits for markers, never sleeps.
    static let zshDriver = #"""
    zmodload zsh/zpty
    zpty z zsh -f -i
    zpty -w z "PS1='> '; autoload -U compinit; compinit -u -D"
    zpty -w z 'compadd() { local -a __h; builtin compadd -O __h "$@"; local w; for w in $__h; do print -n -- "\nHIT""<$w>"; done; builtin compadd "$@"; }'
    zpty -w z "source ${2}; _bh_test() { _bulkhead \"\$@\"; print -n -- '\nEND''COMP'; }; compdef _bh_test bulkhead; print READY''MARK"
    zpty -r z pre '*READYMARK*'
    zpty -w -n z "$1"$'\t'
    zpty -r z out '*ENDCOMP*'
    zpty -w -n z $'\x15'
    zpty -d z
    print -r -- "$out" | grep -ao 'HIT<[^>]*>' | sort -u
    """#

    @Test("zsh: TAB in an interactive zsh (zpty) offers the values",
          .enabled(if: Gate.inCI || FileManager.default.isExecutableFile(atPath: "/usr/bin/zsh"), "zsh is not installed (scripts/install-deps.sh installs it; under CI=true this test runs and fails instead)"))
    func zshCompletes() throws {
        let path = try script("zsh")
        let driver = NSTemporaryDirectory() + "bh-zsh-driver-\(UUID().uuidString).zsh"
        try Self.zshDriver.write(toFile: driver, atomically: true, encoding: .utf8)
        defer { for f in [path, driver] { try? FileManager.default.removeItem(atPath: f) } }
        for c in Self.cases {
            let out = try shell("/usr/bin/timeout", ["60", "/usr/bin/zsh", "-f", driver, c.words.joined(separator: " "), path])
            let got = Set(out.split(separator: "\n").compactMap { l -> String? in
                guard l.hasPrefix("HIT<"), l.hasSuffix(">") else { return nil }
                return String(l.dropFirst(4).dropLast())
            })
            #expect(got == c.expected, "\(c.words): \(got.sorted())")
        }
    }

    /// Drives an interactive fish in a pseudo-terminal (fish's `commandline`, which the script's
    /// custom completions call, answers only there): types the line, then a key bound to a
    /// function that prints `complete -C`'s matches as HIT<match> and an end marker. Python's
    /// pty module does the terminal; the driver waits for markers, with a 30 s bound per read.
    static let fishDriver = #"""
    import os, pty, sys, time, select
    line, script = sys.argv[1], sys.argv[2]
    pid, fd = pty.fork()
    if pid == 0:
        os.execvp("fish", ["fish", "--no-config", "-i"])
    def read_until(marker, limit=30):
        buf=b""; end=time.monotonic()+limit
        while marker not in buf and time.monotonic()<end:
            r,_,_=select.select([fd],[],[],0.5)
            if r:
                try: buf+=os.read(fd,65536)
                except OSError: break
        return buf
    os.write(fd, ("function fish_prompt; echo '> '; end; source %s; function __dump; for c in (complete -C); printf '\\nHIT<%%s>' (string split -f1 \\t -- $c); end; printf '\\nEND''COMP'; end; bind \\cg __dump; echo READY''MARK\n" % script).encode())
    read_until(b"READYMARK")
    os.write(fd, line.encode() + b"\x07")
    out = read_until(b"ENDCOMP")
    os.write(fd, b"\x15exit\n")
    import re
    for h in sorted(set(re.findall(rb"HIT<([^>\r\n]*)>", out))): print(h.decode())
    """#

    @Test("fish: typed in an interactive fish, `complete -C` offers the values",
          .enabled(if: Gate.inCI || ["/usr/bin/fish", "/usr/bin/python3"].allSatisfy { FileManager.default.isExecutableFile(atPath: $0) },
                   "fish or python3 is not installed"))
    func fishCompletes() throws {
        let path = try script("fish")
        let driver = NSTemporaryDirectory() + "bh-fish-driver-\(UUID().uuidString).py"
        try Self.fishDriver.write(toFile: driver, atomically: true, encoding: .utf8)
        defer { for f in [path, driver] { try? FileManager.default.removeItem(atPath: f) } }
        for c in Self.cases {
            let out = try shell("/usr/bin/timeout", ["120", "/usr/bin/python3", driver, c.words.joined(separator: " "), path])
            let got = Set(out.split(separator: "\n").map(String.init))
            #expect(got == c.expected, "\(c.words): \(got.sorted())")
        }
    }
}
