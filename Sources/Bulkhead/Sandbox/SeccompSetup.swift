import BulkheadModel
import BulkheadSystem

/// A seccomp filter ready for the child: the classic BPF program and what the report says of it.
public struct CompiledSeccomp: Sendable {
    public var program: [UInt8]
    public var control: SeccompControl
    /// The program came from the content-addressed cache (no parse, no compile).
    public var cached: Bool
}

enum SeccompSetup {
    /// The built-in allow-list behind `seccompProfile.type: RuntimeDefault`.
    static let runtimeDefaultPath = "seccomp/container.json"

    /// The policy's text, where it came from, and the context its Docker conditions resolve in.
    struct Source {
        var text: String
        var file: String
        var label: String
        var context: SeccompContext
        /// Read from a file not everyone can read: a parse error shows none of its text.
        var isPrivate = false
    }

    /// `conflicts` decides what two contradicting unconditional rules mean (Podman's profile
    /// needs `.firstRuleWins`); the launch path always refuses them.
    /// - Parameter origin: the layer that chose the policy (`SeccompSetup.origin(of:)`): a
    ///   `localhostProfile` that cannot be read is reported against that profile file and field
    ///   (or the `--seccomp` flag), with the policy file's own error after it.
    static func source(_ p: EffectiveProfile, store: ProfileStore, origin: ProfileLayer? = nil,
                       conflicts: SeccompConflictResolution = .refuse) throws(ConfigError) -> Source? {
        let text: String, file: String, label: String
        var isPrivate = false
        switch p.seccomp {
        case .unconfined:
            return nil
        case .runtimeDefault:
            let r = try store.readReferenced(runtimeDefaultPath, relativeTo: "<embedded>")
            (file, text, isPrivate) = (r.location, r.text, r.isPrivate)
            label = "RuntimeDefault"
        case let .localhost(path, dir):
            let r: ProfileStore.Referenced
            do { r = try store.readReferenced(path, relativeTo: dir) } catch {
                guard let origin else { throw error }
                let (file, field) = origin.source == FieldRules.commandLine
                    ? (FieldRules.commandLine, "--seccomp") : (origin.source, "securityContext.seccompProfile.localhostProfile")
                throw ConfigError(file: file, field: field, errno: error.errno, message: "cannot use the seccomp policy \(path): \(error.message)")
            }
            (file, text, isPrivate) = (r.location, r.text, r.isPrivate)
            label = "Localhost:\(file)"
        case let .inline(t, f, line):
            (file, text) = ("\(f) (inline seccomp policy at line \(line))", t)
            label = "inline:\(f)"
        }
        // Docker's conditional rules (includes/excludes on capabilities) are resolved against the
        // capabilities this sandbox keeps, on the machine's own architecture.
        let context = SeccompContext(capabilities: Set(p.capabilities.members.map(\.name)),
                                     architecture: SeccompCompiler.nativeArchitecture ?? .x86_64, kernelVersion: nil,
                                     conflictingRules: conflicts)
        return Source(text: text, file: file, label: label, context: context, isPrivate: isPrivate)
    }

    /// Reads, parses and validates the profile's seccomp policy; nil for Unconfined.
    static func policy(_ p: EffectiveProfile, store: ProfileStore, origin: ProfileLayer? = nil,
                       conflicts: SeccompConflictResolution = .refuse) throws(ConfigError) -> (policy: SeccompPolicy, source: String)? {
        guard let src = try source(p, store: store, origin: origin, conflicts: conflicts) else { return nil }
        let policy = try ProfileStore.parsing(private: src.isPrivate) { () throws(ConfigError) in
            try SeccompPolicyParser.parse(text: src.text, file: src.file, context: src.context)
        }
        return (policy, src.label)
    }

    /// The policy compiled to classic BPF by libseccomp (binary-tree optimisation on), or the
    /// same program from the content-addressed cache.
    /// `conflicts`: `.firstRuleWins` for an OCI config's own profile (runc's reading of it); it
    /// is part of the cache key, so a program compiled that way never serves a strict launch.
    static func compile(_ p: EffectiveProfile, store: ProfileStore, origin: ProfileLayer? = nil,
                        cache: SeccompCache? = SeccompCache.standard(),
                        conflicts: SeccompConflictResolution = .refuse) throws(ConfigError) -> CompiledSeccomp? {
        guard let src = try source(p, store: store, origin: origin, conflicts: conflicts) else { return nil }
        let key = SeccompCache.key(policyText: src.text + (conflicts == .firstRuleWins ? "\n#first-rule-wins" : ""), capabilities: Array(src.context.capabilities),
                                   architecture: src.context.architecture.rawValue)
        if let hit = cache?.load(key: key) {
            return CompiledSeccomp(program: hit.program, control: SeccompControl(
                source: src.label, defaultAction: hit.defaultAction, rules: hit.rules, bpfInstructions: hit.program.count / 8, cached: true), cached: true)
        }
        let policy = try ProfileStore.parsing(private: src.isPrivate) { () throws(ConfigError) in
            try SeccompPolicyParser.parse(text: src.text, file: src.file, context: src.context)
        }
        let program: [UInt8]
        do {
            program = try SeccompCompiler.compile(policy)
        } catch {
            throw ConfigError(file: src.file, field: "syscalls", message: "libseccomp cannot compile the policy: \(error)")
        }
        cache?.store(key: key, .init(program: program, defaultAction: policy.defaultAction.rawValue, rules: policy.rules.count))
        let control = SeccompControl(source: src.label, defaultAction: policy.defaultAction.rawValue,
                                     rules: policy.rules.count, bpfInstructions: program.count / 8)
        return CompiledSeccomp(program: program, control: control, cached: false)
    }

    /// The layer whose `seccompProfile` (or `--seccomp`) is in force: the last that sets one.
    static func origin(of layers: [ProfileLayer]) -> ProfileLayer? {
        layers.last { $0.seccomp != nil }
    }
}
