import ArgumentParser
import Bulkhead
import BulkheadModel
import Glibc

struct SeccompCommand: CommandGroup {
    static let configuration = CommandConfiguration(
        commandName: "seccomp",
        abstract: "Export, compile and record seccomp profiles (for Kubernetes, OCI runtimes, Docker, security-profiles-operator).",
        subcommands: [Export.self, Compile.self, Record.self, Scan.self, Verify.self]
    )

    /// What to do with two unconditional rules that give one call different actions.
    enum Conflicts: String, ExpressibleByArgument, CaseIterable {
        case refuse
        case firstWins = "first-wins"

        var resolution: SeccompConflictResolution { self == .refuse ? .refuse : .firstRuleWins }
    }

    /// Where the policy comes from: a layer profile, a JSON file, or both (the file, with Docker's
    /// capability conditions resolved for the profile's capabilities).
    struct Source: ParsableArguments {
        @Option(name: .shortAndLong, help: "Layer profile whose seccompProfile to use (name or YAML file).", completion: Completions.profiles)
        var profile: String?

        @Option(help: ArgumentHelp("A runtime-spec, Docker or Podman seccomp JSON file.", valueName: "FILE"))
        var seccomp: String?

        @Option(help: ArgumentHelp("Two unconditional rules giving one call different actions: first-wins (default: keep the first, as runc does, with a warning), or refuse.", valueName: "first-wins|refuse"))
        var conflicts: Conflicts = .firstWins

        @Flag(help: "Refuse what runc would load only by changing it: unknown system-call names (skipped by default, with a warning) and contradicting rules.")
        var strict = false

        func validate() throws {
            if profile == nil && seccomp == nil { throw ValidationError("give --profile NAME or --seccomp FILE") }
        }

        /// The policy; what was changed to read it as runc does is printed as warnings.
        func load() throws(ConfigError) -> SeccompSource.Loaded? {
            let loaded: SeccompSource.Loaded?
            if let seccomp {
                let caps = try profile.map { (p) throws(ConfigError) in try SeccompSource.capabilities(profile: p) } ?? CapabilitySet()
                loaded = try SeccompSource.policy(file: seccomp, capabilities: caps, conflicts: strict ? .refuse : conflicts.resolution,
                                                  unknownNames: strict ? .refuse : .skip)
            } else {
                loaded = try SeccompSource.policy(profile: profile ?? "container", strict: strict || conflicts == .refuse)
            }
            for w in SeccompLoad.warnings(loaded?.notes ?? []) { warn(w) }
            return loaded
        }
    }

    // MARK: export

    struct Export: ParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Write a profile's seccomp policy for Kubernetes, an OCI config.json, Docker, or security-profiles-operator.",
            discussion: """
            kubernetes: strict runtime-spec JSON for seccompProfile.type: Localhost (no Docker-only keys).
            oci: {"linux": {"seccomp": ...}} to merge into a bundle's config.json.
            docker: Docker's format, with archMap.
            spo: a SeccompProfile resource of security-profiles-operator.
            Example: bulkhead seccomp export --profile container --name container -o container.json
            """
        )

        @OptionGroup var source: Source

        @OptionGroup var architecture: ArchitectureOption

        @Option(help: ArgumentHelp("Output format.", valueName: "kubernetes|oci|docker|spo"))
        var format: SeccompExportFormat = .kubernetes

        @Flag(help: "Also write the filter flags (runc before 1.2 refuses profiles with flags).")
        var flags = false

        @Option(name: .customLong("spo-version"), help: ArgumentHelp("SeccompProfile API version for --format spo.", valueName: "v1|v1beta1"))
        var spoVersion: SPOAPIVersion = .v1

        @Option(help: "Name of the profile: the SPO resource's metadata.name and the file name on a node (default: the profile's or file's name).")
        var name: String?

        @Option(name: .shortAndLong, help: ArgumentHelp("Write to FILE instead of standard output.", valueName: "FILE"))
        var output: String?

        func validate() throws {
            if let name, let problem = KubernetesName.problem(name) { throw ValidationError("--name \"\(name)\" \(problem)") }
        }

        func run() throws {
            let loaded = try orExit { () throws(ConfigError) in try source.load() }
            guard let loaded else {
                warn("profile \(source.profile ?? "") is Unconfined: there is no seccomp policy to export")
                throw ExitCode(1)
            }
            let name = self.name ?? loaded.suggestedName
            let policy = try architecture.apply(loaded.policy)
            let text: String
            do {
                text = try policy.export(format, options: SeccompExportOptions(flags: flags, name: name, spoVersion: spoVersion))
            } catch {
                warn(error.description)
                throw ExitCode(1)
            }
            try emit(Array(text.utf8), to: output)
            warnAboutOldLibseccomp(policy)
            if format == .kubernetes {
                var msg = output.map { "# wrote \($0)\n" } ?? ""
                msg += KubernetesSeccompInstall.instructions(name: name)
                note(msg)
            }
        }
    }

    // MARK: compile

    struct Compile: ParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Compile a profile's seccomp policy to classic BPF (as bwrap --seccomp FD loads it) or libseccomp's PFC text.",
            discussion: """
            A .json argument is a seccomp policy file; anything else is a layer profile.
            Example: bulkhead seccomp compile container --bpf container.bpf
                     bwrap --ro-bind / / --seccomp 9 9<container.bpf -- /bin/true
            """
        )

        @Argument(help: ArgumentHelp("Layer profile (name or YAML) or seccomp JSON file.", valueName: "PROFILE|FILE"))
        var input: String

        @Option(help: ArgumentHelp("Write the BPF program (struct sock_filter[], 8 bytes per instruction) to FILE ('-': standard output).", valueName: "FILE"))
        var bpf: String?

        @Flag(help: "Print libseccomp's pseudo filter code (readable) to standard output.")
        var pfc = false

        @Option(help: ArgumentHelp("first-wins (default, as runc) or refuse, as for export.", valueName: "first-wins|refuse"))
        var conflicts: Conflicts = .firstWins

        @Flag(help: "Refuse unknown system-call names and contradicting rules, as for export.")
        var strict = false

        func validate() throws {
            if bpf == nil && !pfc { throw ValidationError("give --bpf FILE, --pfc, or both") }
            if bpf == "-" && pfc { throw ValidationError("--bpf - and --pfc both write to standard output; give --bpf a file") }
        }

        func run() throws {
            let loaded = try orExit { () throws(ConfigError) -> SeccompSource.Loaded? in
                input.hasSuffix(".json")
                    ? try SeccompSource.policy(file: input, conflicts: strict ? .refuse : conflicts.resolution,
                                               unknownNames: strict ? .refuse : .skip)
                    : try SeccompSource.policy(profile: input, strict: strict || conflicts == .refuse)
            }
            for w in SeccompLoad.warnings(loaded?.notes ?? []) { warn(w) }
            guard let loaded else {
                warn("profile \(input) is Unconfined: there is no seccomp policy to compile")
                throw ExitCode(1)
            }
            do {
                if let bpf {
                    let program = try SeccompSource.bpf(loaded.policy)
                    try emit(program, to: bpf)
                    var msg = "\(program.count / 8) BPF instructions from \(loaded.source)"
                    if bpf != "-" { msg += " written to \(bpf); load it with: bwrap --seccomp 9 9<\(bpf) ..." }
                    var lost: [SeccompArch: Set<String>] = [:]
                    for (arch, name) in try SeccompSource.unplaceable(loaded.policy) { lost[arch, default: []].insert(name) }
                    for arch in SeccompArch.allCases { if let names = lost[arch] {
                        msg += "\nnote: the installed libseccomp cannot place these calls on \(arch.rawValue), where they get the "
                            + "default action: \(names.sorted().joined(separator: " "))"
                    } }
                    note(msg + "\n")
                }
                if pfc { out(try SeccompSource.pfc(loaded.policy)) }
            } catch {
                warn("\(error)")
                throw ExitCode(1)
            }
        }
    }
}

extension SeccompExportFormat: ExpressibleByArgument {}
extension SPOAPIVersion: ExpressibleByArgument {}

/// Runs `body`, turning a ConfigError into a message and exit status 1.
func orExit<T>(_ body: () throws(ConfigError) -> T) throws -> T {
    do {
        return try body()
    } catch {
        warn(error.description)
        throw ExitCode(1)
    }
}

/// Writes bytes to FILE (opened as `OutputFile` opens it: created 0644, or the caller's own file
/// truncated in place; never another user's file or link), or to standard output for nil or "-".
func emit(_ bytes: [UInt8], to path: String?) throws {
    guard let path, path != "-" else {
        writeAll(1, bytes)
        return
    }
    let fd: Int32
    switch OutputFile.openChecked(path) {
    case .success(let f): fd = f
    case .failure(let reason):
        warn("cannot write \(path): \(reason)")
        throw ExitCode(1)
    }
    defer { close(fd) }
    if !writeAll(fd, bytes) {
        warn("cannot write \(path): \(String(cString: strerror(errno)))")
        throw ExitCode(1)
    }
}

@discardableResult
func writeAll(_ fd: Int32, _ bytes: [UInt8]) -> Bool {
    bytes.withUnsafeBytes { buf in
        var off = 0
        while off < buf.count {
            let n = Glibc.write(fd, buf.baseAddress! + off, buf.count - off)
            if n < 0 { if errno == EINTR { continue }; return false }
            off += n
        }
        return true
    }
}

/// Text for the user on standard error, without the "bulkhead:" prefix (instructions, snippets).
func note(_ text: String) {
    writeAll(2, Array(text.utf8))
}

/// Names newer than libseccomp 2.5 (Linux 6.7+) are dropped, with a warning, by runtimes
/// linked against libseccomp < 2.6 (runc and crun on Debian 12, for instance): say which rules
/// a node might lose and what that means.
func warnAboutOldLibseccomp(_ policy: SeccompPolicy) {
    var allowLost: Set<String> = [], refuseLost: Set<String> = []
    for rule in policy.rules {
        for n in rule.names where SyscallTable.namesUnknownToLibseccomp2_5.contains(n) {
            if rule.action.letsCallRun { allowLost.insert(n) } else { refuseLost.insert(n) }
        }
    }
    if !allowLost.isEmpty {
        warn("note: a runtime linked with libseccomp < 2.6 drops the rules for \(allowLost.sorted().joined(separator: ", ")) (newer than Linux 6.7): those calls then get the default action \(policy.defaultAction.rawValue)")
    }
    if !refuseLost.isEmpty {
        let danger = policy.defaultAction.letsCallRun ? " — and the default action lets them run" : ""
        warn("warning: a runtime linked with libseccomp < 2.6 drops the refusing rules for \(refuseLost.sorted().joined(separator: ", "))\(danger)")
    }
}
