import ArgumentParser
import Bulkhead
import BulkheadModel

/// What the shell completion scripts (`--generate-completion-script bash|zsh|fish`) offer as
/// values. Each list comes from the model's own table, so a new profile, capability or mode is
/// offered without an edit here.
enum Completions {
    /// The profiles on the search path and built in (`profile list`'s names).
    static let profiles = CompletionKind.custom { _, _, _ in profileNames() }
    static let networkModes = CompletionKind.list(NetworkMode.allCases.map(\.rawValue))
    /// Kubernetes spelling (no CAP_), as the flags take them.
    static let capabilities = CompletionKind.list(Capability.allCases.map(\.kubernetesName))
    static let capabilitiesOrAll = CompletionKind.list(Capability.allCases.map(\.kubernetesName) + ["ALL"])
    // No flag takes a signal yet: `--stop-signal` (issue 15, another branch) should complete
    // with `.list` of the names its own parser accepts, so the two cannot differ.

    static func profileNames() -> [String] {
        ProfileStore.standard().list().map(\.name)
    }
}
