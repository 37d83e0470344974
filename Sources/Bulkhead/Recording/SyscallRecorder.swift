import BulkheadLaunch
import BulkheadModel
import BulkheadSystem
import Glibc

/// `bulkhead seccomp record`: runs a command in a sandbox built from a layer profile, with the
/// seccomp filter switched off for the recorded workload (it must be able to make any call), and
/// records every system call from its execve on: in the kernel with eBPF where it can
/// (CShims/include/bh_recorder_bpf.h), with ptrace otherwise (CShims/include/bh_recorder.h).
///
/// Everything else of the profile stays: namespaces, read-only root, capabilities,
/// no_new_privs. A call that the profile's other controls refuse (EPERM from a dropped
/// capability) is still recorded: it was made, and the program may depend on its answer.
public enum SyscallRecorder {
    /// The result of one recorded run.
    public struct Result: Sendable {
        public var report: RunReport
        public var recording: SyscallRecording
        /// Set when the recording cannot be trusted to be complete (the eBPF recorder lost a task,
        /// or its counters could not be read): no policy may be written from it.
        public var recorderError: String?
    }

    /// Which recorder `prepare` uses.
    public enum Choice: String, Sendable, CaseIterable {
        /// eBPF where it can run (root, this kernel, the sandbox's own PID namespace); ptrace otherwise, saying why.
        case auto
        /// eBPF or fail.
        case ebpf
        /// ptrace (no root needed).
        case ptrace
    }

    /// Prepares the launch as `bulkhead run` would, with seccomp Unconfined and the recorder
    /// chosen: the eBPF recorder (`FastSyscallRecorder`, loaded and calibrated here), or the
    /// ptrace one (the trace step added right before execve). `taskCapacity` is for tests (how
    /// many tasks eBPF can follow at once).
    public static func prepare(_ request: RunRequest, store: ProfileStore = .standard(), recorder choice: Choice = .auto,
                               taskCapacity: UInt32? = nil) throws(LaunchError) -> PreparedLaunch {
        var r = request
        r.overrides.seccomp = .unconfined
        var prepared = try Sandbox.prepare(r, store: store)
        let table: SyscallRecorderTable
        do {
            table = try SyscallRecorderTable()
        } catch {
            throw LaunchError(error)
        }
        var fallback: String?
        if choice != .ptrace {
            do throws(LaunchError) {
                prepared.fastRecorder = try fastRecorder(for: prepared, table: table, taskCapacity: taskCapacity)
            } catch {
                if choice == .ebpf { throw LaunchError("start the eBPF recorder (--recorder ebpf)", wrapping: error) }
                fallback = error.description
            }
        }
        if prepared.fastRecorder != nil {
            prepared.fastTable = table
            return prepared
        }
        guard let exec = prepared.plan.steps.lastIndex(of: .exec) else {
            throw LaunchError(operation: "plan a recording: the launch plan has no execve step")
        }
        // Last before execve: the steps before it are the launcher's, not the workload's.
        prepared.plan.steps.insert(.becomeTracee, at: exec)
        prepared.recorder = table
        prepared.recorderFallback = fallback
        return prepared
    }

    /// The eBPF recorder, or why it cannot record this launch.
    static func fastRecorder(for prepared: PreparedLaunch, table: SyscallRecorderTable, taskCapacity: UInt32?) throws(LaunchError) -> FastSyscallRecorder {
        if geteuid() != 0 {
            throw LaunchError(operation: "bulkhead runs without root (euid \(geteuid())): the eBPF recorder needs CAP_BPF and CAP_PERFMON")
        }
        if !prepared.plan.namespaces.contains(.pid) || prepared.plan.joinedNamespaces.contains(.pid) {
            // Without its own PID namespace a task could outlive the init and the recording;
            // ptrace's EXITKILL ends such tasks, eBPF would stop seeing them.
            throw LaunchError(operation: "the profile shares a PID namespace (namespaces.pid): the eBPF recorder needs the sandbox's own, so that no task outlives the recording")
        }
        do {
            return try FastSyscallRecorder(table: table, taskCapacity: taskCapacity)
        } catch {
            throw LaunchError(error)
        }
    }

    /// Runs a prepared recording; the recording holds what was counted even when the workload
    /// failed or was killed by the timeout. With eBPF, the programs are detached once the
    /// sandbox is gone (its PID namespace ended with its init: no task of it is left).
    public static func run(_ prepared: PreparedLaunch) -> Result {
        let report = Sandbox.run(prepared)
        var problem: String?
        if let fast = prepared.fastRecorder, let table = prepared.fastTable {
            do throws(SystemError) {
                if try fast.read(into: table) {
                    problem = "the eBPF recorder could not follow every task (its task map was full, or out of memory): the recording is incomplete; record again, or with --recorder ptrace"
                }
            } catch {
                problem = "\(error)"
            }
            fast.close()
        }
        let table = prepared.fastTable ?? prepared.recorder
        var recording = table?.recording(command: prepared.request.command, profile: prepared.profile.name)
            ?? SyscallRecording(command: prepared.request.command, profile: prepared.profile.name)
        recording.stats.recorder = prepared.fastRecorder != nil ? "ebpf" : "ptrace"
        recording.stats.fallbackReason = prepared.recorderFallback
        if report.reason == .exited { recording.exitCode = report.exitCode }
        return Result(report: report, recording: recording, recorderError: problem)
    }

    /// The native architecture, which the generated policy lists first.
    public static var nativeArchitecture: SeccompArch { SeccompCompiler.nativeArchitecture ?? .x86_64 }
}
