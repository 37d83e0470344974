import BulkheadModel
import BulkheadSystem
import Glibc

/// The start of every init bulkhead creates, a sandbox's (`Supervisor`) or a pod's holder
/// (`PodHolder`), after `ChildSpawner.spawn`: the id maps, then the release; and what a step
/// the init reports as failed means. Written once, so both fail with the same errors and hints.
extension SandboxInit {
    /// Writes the plan's id maps and releases the init; `fault` (test-only injection) fails the
    /// id-map write instead. On failure the init, still waiting at its first step, is killed and
    /// reaped (`abandon`); the error keeps the write's errno (a report's `error.errno`).
    package func mapIDsAndRelease(_ plan: LaunchPlan, fault: LaunchError? = nil) throws(LaunchError) {
        do throws(LaunchError) {
            if let fault { throw fault }
            do { try writeIDMaps(plan) } catch { throw LaunchError(error) }
        } catch {
            abandon()
            throw error
        }
        release()
    }
}

extension LaunchError {
    /// A step the init reported as failed (`InitMessage.stepFailed`): the step's index and
    /// summary, its errno and the fix a user can act on (`StepHints`); a failed execve names
    /// the command and, when it was not found, where it was searched.
    package init(stepFailed index: Int, errno: Errno, in plan: LaunchPlan) {
        self.init(stepFailed: index, errno: errno, step: plan.step(at: index), command: plan.argv[0], execPaths: plan.execPaths)
    }

    /// The same from the step itself (OCI `start` keeps the steps after the exec fifo in the
    /// container's state, not the plan).
    package init(stepFailed index: Int, errno: Errno, step: PlanStep?, command: String, execPaths: [String]) {
        if case .exec = step {
            let notFound = errno.rawValue == ENOENT
            self.init(step: index, operation: "execve \(command) (\(notFound ? "command not found" : "command cannot be executed"))",
                      errno: errno, hint: notFound ? "searched \(execPaths.joined(separator: ", "))" : nil)
        } else {
            let operation = step?.summary ?? (index == -1 ? "close the launcher's file descriptors in the sandbox's init" : "step \(index)")
            self.init(step: index, operation: operation, errno: errno, hint: StepHints.hint(step, errno))
        }
    }
}

extension LaunchPlan {
    /// The step at `index`, as the init numbers them; nil for an index of its own (-1: closing
    /// the launcher's descriptors before the first step).
    package func step(at index: Int) -> PlanStep? {
        steps.indices.contains(index) ? steps[index] : nil
    }
}
