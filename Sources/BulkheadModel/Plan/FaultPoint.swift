/// Test-only fault injection (`bulkhead run --inject-fault`): where a launch is made to fail
/// with ECANCELED, to show that every setup step fails closed (exit 125, the step named, the
/// workload not run, nothing left behind).
public enum FaultPoint: Sendable, Hashable {
    /// The plan step at this index (`LaunchPlan.steps`) fails in the sandbox's child.
    case step(Int)
    /// The launcher's write of the id maps, between clone3 and the release.
    case idMaps
    /// The creation of the sandbox's cgroup, before clone3.
    case cgroupCreate
    /// The launcher's opening of the cgroup v1 `tasks` files the init joins, after clone3, once
    /// the v1 leaves exist with their limits (cgroup v1 only).
    case cgroupAttach
    /// The creation of the cgroup v1 leaves, after clone3 (cgroup v1 only).
    case cgroupLeaves
    /// The writing of the cgroup v1 limits, after clone3, once the v1 leaves exist (cgroup v1 only).
    case cgroupLimits

    /// The spellings `--inject-fault` accepts: `step:N` or a bare `N` (N >= 0) for a plan step,
    /// and `id-maps`, `cgroup-create`, `cgroup-leaves`, `cgroup-limits`, `cgroup-attach`, with the old numbers -2, -3 and -4 as
    /// aliases. Nil for anything else.
    public init?(argument: String) {
        switch argument {
        case "id-maps", "-2": self = .idMaps
        case "cgroup-create", "-3": self = .cgroupCreate
        case "cgroup-attach", "-4": self = .cgroupAttach
        case "cgroup-leaves": self = .cgroupLeaves
        case "cgroup-limits": self = .cgroupLimits
        default:
            let digits = argument.hasPrefix("step:") ? argument.dropFirst("step:".count) : Substring(argument)
            guard !digits.isEmpty, digits.allSatisfy(\.isASCII), digits.allSatisfy(\.isNumber), let n = Int(digits) else { return nil }
            self = .step(n)
        }
    }

    /// The plan step that fails in the child, if this is one.
    public var planStep: Int? {
        if case .step(let n) = self { return n }
        return nil
    }

    /// The spelling `init(argument:)` reads back to this point.
    public var argument: String {
        switch self {
        case .step(let n): "step:\(n)"
        case .idMaps: "id-maps"
        case .cgroupCreate: "cgroup-create"
        case .cgroupAttach: "cgroup-attach"
        case .cgroupLeaves: "cgroup-leaves"
        case .cgroupLimits: "cgroup-limits"
        }
    }
}
