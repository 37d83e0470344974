import BulkheadModel
import BulkheadSystem

/// A seccomp filter ready for the child: the classic BPF program and what the report says of it.
public struct CompiledSeccomp: Sendable {
    public var policy: SeccompPolicy
    public var program: [UInt8]
    public var control: SeccompControl
}

enum SeccompSetup {
    /// The built-in allow-list behind `seccompProfile.type: RuntimeDefault`.
    static let runtimeDefaultPath = "seccomp/container.json"

    /// Reads, parses and validates the profile's seccomp policy; nil for Unconfined.
    /// `conflicts` decides what two contradicting unconditional rules mean (Podman's profile
    /// needs `.firstRuleWins`); the launch path always refuses them.
    static func policy(_ p: EffectiveProfile, store: ProfileStore,
                       conflicts: SeccompConflictResolution = .refuse) throws(ConfigError) -> (policy: SeccompPolicy, source: String)? {
        let text: String, file: String, source: String
        switch p.seccomp {
        case .unconfined:
            return nil
        case .runtimeDefault:
            (file, text) = try store.readReferenced(runtimeDefaultPath, relativeTo: "<embedded>")
            source = "RuntimeDefault"
        case let .localhost(path, dir):
            (file, text) = try store.readReferenced(path, relativeTo: dir)
            source = "Localhost:\(file)"
        case let .inline(t, f, line):
            (file, text) = ("\(f) (inline seccomp policy at line \(line))", t)
            source = "inline:\(f)"
        }
        // Docker's conditional rules (includes/excludes on capabilities) are resolved against the
        // capabilities this sandbox keeps, on the machine's own architecture.
        let context = SeccompContext(capabilities: Set(p.capabilities.members.map(\.name)),
                                     architecture: SeccompCompiler.nativeArchitecture ?? .x86_64, kernelVersion: nil,
                                     conflictingRules: conflicts)
        return (try SeccompPolicyParser.parse(text: text, file: file, context: context), source)
    }

    /// The policy compiled to classic BPF by libseccomp (binary-tree optimisation on).
    static func compile(_ p: EffectiveProfile, store: ProfileStore) throws(ConfigError) -> CompiledSeccomp? {
        guard let (policy, source) = try policy(p, store: store) else { return nil }
        let program: [UInt8]
        do {
            program = try SeccompCompiler.compile(policy)
        } catch {
            throw ConfigError(file: source, field: "syscalls", message: "libseccomp cannot compile the policy: \(error)")
        }
        let control = SeccompControl(source: source, defaultAction: policy.defaultAction.rawValue,
                                     rules: policy.rules.count, bpfInstructions: program.count / 8)
        return CompiledSeccomp(policy: policy, program: program, control: control)
    }
}
