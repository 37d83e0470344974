import BulkheadConfig
import BulkheadLaunch
import BulkheadModel
import BulkheadSystem

/// Where a seccomp policy for `bulkhead seccomp …` comes from: a layer profile's
/// `seccompProfile`, or a Docker/OCI/Podman JSON file. Library API, so that a caller other than
/// the command line gets the same resolution.
public enum SeccompSource {
    /// A loaded policy and a name for it (the profile's or the file's).
    public struct Loaded: Sendable {
        public var policy: SeccompPolicy
        /// "RuntimeDefault", "Localhost:PATH", or the file path.
        public var source: String
        /// The name the exported file would get: the profile's name or the file's base name.
        public var suggestedName: String
        /// What was changed to read the policy as runc does (empty when read strictly).
        public var notes: [SeccompLoadNote] = []
    }

    /// The seccomp policy of layer profile `profile`; nil when it is Unconfined. `strict`
    /// refuses what runc would change (unknown names, contradicting rules); without it the policy
    /// is read as `bulkhead run` and runc read it, and `notes` say what changed.
    public static func policy(profile: String, store: ProfileStore = .standard(), strict: Bool = true) throws(ConfigError) -> Loaded? {
        let layers = try store.layers(for: profile)
        let effective = try EffectiveProfile.resolve(layers)
        guard let (policy, source, notes) = try SeccompSetup.policy(effective, store: store, origin: SeccompSetup.origin(of: layers),
                                                                    strict: strict) else { return nil }
        return Loaded(policy: policy, source: source, suggestedName: KubernetesName.sanitized(effective.name), notes: notes)
    }

    /// As above, with the earlier spelling: `.refuse` is `strict`, `.firstRuleWins` reads as runc does.
    public static func policy(profile: String, store: ProfileStore = .standard(),
                              conflicts: SeccompConflictResolution) throws(ConfigError) -> Loaded? {
        try policy(profile: profile, store: store, strict: conflicts == .refuse)
    }

    /// A policy file in the runtime-spec, Docker or Podman format. Docker's `includes`/`excludes`
    /// are resolved for a container holding `capabilities` (none by default: the container layer)
    /// on this machine's architecture.
    public static func policy(file: String, capabilities: CapabilitySet = CapabilitySet(),
                              conflicts: SeccompConflictResolution = .refuse,
                              unknownNames: SeccompUnknownNames = .refuse) throws(ConfigError) -> Loaded {
        let c = try ProfileStore.readChecked(file, what: "seccomp policy")
        let context = SeccompContext(capabilities: Set(capabilities.members.map(\.name)),
                                     architecture: SeccompCompiler.nativeArchitecture ?? .x86_64,
                                     kernelVersion: KernelVersion.running.map { ($0.major, $0.minor) },
                                     conflictingRules: conflicts, unknownNames: unknownNames)
        var load = try ProfileStore.parsing(private: c.isPrivate) { () throws(ConfigError) in
            try SeccompPolicyParser.load(text: c.text, file: file, context: context)
        }
        if c.isPrivate { load.notes = load.notes.map { $0.withoutContent() } }
        var base = String(file.split(separator: "/").last ?? "bulkhead")
        if base.hasSuffix(".json") { base.removeLast(5) }
        return Loaded(policy: load.policy, source: file, suggestedName: KubernetesName.sanitized(base), notes: load.notes)
    }

    /// The effective capabilities of a layer profile (to resolve a Docker profile's conditions).
    public static func capabilities(profile: String, store: ProfileStore = .standard()) throws(ConfigError) -> CapabilitySet {
        try EffectiveProfile.resolve(try store.layers(for: profile)).capabilities
    }

    /// The classic BPF program libseccomp builds for `policy` (8 bytes per instruction): what
    /// `bwrap --seccomp FD` and `seccomp(SECCOMP_SET_MODE_FILTER)` load.
    public static func bpf(_ policy: SeccompPolicy) throws(SeccompCompileError) -> [UInt8] {
        try SeccompCompiler.compile(policy)
    }

    /// libseccomp's pseudo filter code for `policy`.
    public static func pfc(_ policy: SeccompPolicy) throws(SeccompCompileError) -> String {
        try SeccompCompiler.pfc(policy)
    }

    /// (architecture, name) pairs the installed libseccomp cannot place; they fall to the default.
    public static func unplaceable(_ policy: SeccompPolicy) throws(SeccompCompileError) -> [(SeccompArch, String)] {
        try SeccompCompiler.unplaceable(policy)
    }
}

extension SeccompSource {
    /// An input of `seccomp record --merge`: a recording report or a seccomp policy.
    public enum MergeInput: Sendable {
        case recording(SyscallRecording)
        case policy(SeccompPolicy)
    }

    /// Reads FILE as a recording report (`"kind": "bulkhead-syscall-recording"`) or, failing
    /// that, as a runtime-spec/Docker/Podman seccomp policy.
    public static func mergeInput(file: String, conflicts: SeccompConflictResolution = .refuse,
                                  unknownNames: SeccompUnknownNames = .refuse) throws(ConfigError) -> MergeInput {
        let c = try ProfileStore.readChecked(file, what: "seccomp policy or recording")
        return try ProfileStore.parsing(private: c.isPrivate) { () throws(ConfigError) -> MergeInput in
            let node = try ConfigNode.parse(c.text, file: file)
            if SyscallRecordingReport.isReport(node) { return .recording(try SyscallRecordingReport.parse(node)) }
            let context = SeccompContext(architecture: SeccompCompiler.nativeArchitecture ?? .x86_64,
                                         conflictingRules: conflicts, unknownNames: unknownNames)
            return .policy(try SeccompPolicyParser.parse(node, context: context))
        }
    }
}

extension SeccompSource {
    /// The bound of `seccomp record --within`: "RuntimeDefault" (bulkhead's built-in allow-list,
    /// what `seccompProfile.type: RuntimeDefault` loads here) or a policy file, read as
    /// `bulkhead run` reads it (as runc does, with notes).
    public static func bound(_ spec: String, store: ProfileStore = .standard()) throws(ConfigError) -> Loaded {
        guard spec == "RuntimeDefault" else {
            return try policy(file: spec, conflicts: .firstRuleWins, unknownNames: .skip)
        }
        let r = try store.readReferenced(SeccompSetup.runtimeDefaultPath, relativeTo: "<embedded>")
        let context = SeccompContext(architecture: SeccompCompiler.nativeArchitecture ?? .x86_64,
                                     kernelVersion: KernelVersion.running.map { ($0.major, $0.minor) },
                                     conflictingRules: .firstRuleWins, unknownNames: .skip)
        let load = try ProfileStore.parsing(private: r.isPrivate) { () throws(ConfigError) in
            try SeccompPolicyParser.load(text: r.text, file: r.location, context: context)
        }
        return Loaded(policy: load.policy, source: "RuntimeDefault", suggestedName: "runtime-default", notes: load.notes)
    }
}
