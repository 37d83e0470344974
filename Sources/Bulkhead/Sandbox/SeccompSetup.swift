import BulkheadModel
import BulkheadSystem

/// A seccomp filter ready for the child: the classic BPF program and what the report says of it.
public struct CompiledSeccomp: Sendable {
    public var program: [UInt8]
    public var control: SeccompControl
}

enum SeccompSetup {
    /// Resolves the profile's seccomp selection to a compiled program; nil for Unconfined.
    static func compile(_ p: EffectiveProfile, store: ProfileStore) throws(ConfigError) -> CompiledSeccomp? {
        switch p.seccomp {
        case .unconfined:
            return nil
        default:
            throw ConfigError(file: p.chain.last ?? p.name, field: "securityContext.seccompProfile", message: "seccomp compilation is not wired yet")
        }
    }
}
