import BulkheadModel
import BulkheadSystem

/// `bulkhead seccomp record`: runs a command in a sandbox built from a layer profile, with the
/// seccomp filter switched off for the recorded workload (it must be able to make any call), and
/// records every system call from its execve on (see CShims/include/bh_recorder.h).
///
/// Everything else of the profile stays: namespaces, read-only root, capabilities,
/// no_new_privs. A call that the profile's other controls refuse (EPERM from a dropped
/// capability) is still recorded: it was made, and the program may depend on its answer.
public enum SyscallRecorder {
    /// The result of one recorded run.
    public struct Result: Sendable {
        public var report: RunReport
        public var recording: SyscallRecording
    }

    /// Prepares the launch as `bulkhead run` would, with seccomp Unconfined and the trace step
    /// added right before execve.
    public static func prepare(_ request: RunRequest, store: ProfileStore = .standard()) throws(LaunchError) -> PreparedLaunch {
        var r = request
        r.overrides.seccomp = .unconfined
        var prepared = try Sandbox.prepare(r, store: store)
        guard let exec = prepared.plan.steps.lastIndex(of: .exec) else {
            throw LaunchError(operation: "plan a recording: the launch plan has no execve step")
        }
        // Last before execve: the steps before it are the launcher's, not the workload's.
        prepared.plan.steps.insert(.becomeTracee, at: exec)
        do {
            prepared.recorder = try SyscallRecorderTable()
        } catch {
            throw LaunchError(error)
        }
        return prepared
    }

    /// Runs a prepared recording; the recording holds what was counted even when the workload
    /// failed or was killed by the timeout.
    public static func run(_ prepared: PreparedLaunch) -> Result {
        let report = Sandbox.run(prepared)
        var recording = prepared.recorder?.recording(command: prepared.request.command, profile: prepared.profile.name)
            ?? SyscallRecording(command: prepared.request.command, profile: prepared.profile.name)
        if report.reason == .exited { recording.exitCode = report.exitCode }
        return Result(report: report, recording: recording)
    }

    /// The native architecture, which the generated policy lists first.
    public static var nativeArchitecture: SeccompArch { SeccompCompiler.nativeArchitecture ?? .x86_64 }
}
