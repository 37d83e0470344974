import BulkheadLaunch
import BulkheadModel
import BulkheadSystem
import Glibc

/// A step the init runs after `start` released it (after `PlanStep.waitExecFifo`): kept in the
/// container's state.json so that `start`, a process that has no plan, names a failure of it
/// with the step, the errno and the fix, as `bulkhead run` does (`LaunchError(stepFailed:)`).
struct OCIStartStep: Codable, Sendable, Equatable {
    var index: Int
    /// The PlanStep's case name; `summary` for a case `start` does not rebuild.
    var kind: String
    var summary: String
    var path: String?
    var number: UInt64?
    var fd: Int32?
    /// A startContainer hook: its kind; `fd` holds its index, `number` its timeout in ms.
    var hook: String?

    init(index: Int, step: PlanStep) {
        self.index = index
        summary = step.summary
        switch step {
        case .enterWorkingDirectory(let p): kind = "enterWorkingDirectory"; path = p
        case .exec: kind = "exec"
        case .loadSeccomp: kind = "loadSeccomp"
        case .closeStrayFileDescriptors: kind = "closeStrayFileDescriptors"
        case .attachTerminal(let f): kind = "attachTerminal"; fd = f
        case .landlockRestrictSelf: kind = "landlockRestrictSelf"
        case let .landlockAllowPath(p, access): kind = "landlockAllowPath"; path = p; number = access
        case .runHook(let h): kind = "runHook"; path = h.path; hook = h.kind; fd = Int32(h.index); number = UInt64(max(0, h.timeoutMs))
        default: kind = "other"
        }
    }

    /// The step again, where StepHints or the execve message need it; nil: only `summary`.
    var step: PlanStep? {
        switch kind {
        case "enterWorkingDirectory": path.map { .enterWorkingDirectory($0) }
        case "exec": .exec
        case "loadSeccomp": .loadSeccomp
        case "closeStrayFileDescriptors": .closeStrayFileDescriptors
        case "attachTerminal": fd.map { .attachTerminal(fd: $0) }
        case "landlockRestrictSelf": .landlockRestrictSelf
        case "landlockAllowPath": path.map { .landlockAllowPath($0, access: number ?? 0) }
        case "runHook": path.map { .runHook(HookStep(kind: hook ?? "startContainer", index: Int(fd ?? 0), path: $0, argv: [], env: [], stateFD: -1,
                                                       timeoutMs: Int32(clamping: number ?? 0))) }
        default: nil
        }
    }

    /// The steps of `plan` after its exec fifo wait.
    static func after(_ plan: LaunchPlan) -> [OCIStartStep] {
        guard let at = plan.steps.firstIndex(where: { if case .waitExecFifo = $0 { return true }; return false }) else { return [] }
        return plan.steps.indices.dropFirst(at + 1).map { OCIStartStep(index: $0, step: plan.steps[$0]) }
    }

    /// The error for a failure the init reported after `start`: step index and errno.
    static func error(step index: Int, errno: Errno, in steps: [OCIStartStep], command: String, execPaths: [String]) -> LaunchError {
        guard let s = steps.first(where: { $0.index == index }) else {
            return LaunchError(step: index, operation: "step \(index) after start", errno: errno)
        }
        if let step = s.step { return LaunchError(stepFailed: index, errno: errno, step: step, command: command, execPaths: execPaths) }
        return LaunchError(step: index, operation: s.summary, errno: errno, hint: StepHints.hint(nil, errno))
    }
}
