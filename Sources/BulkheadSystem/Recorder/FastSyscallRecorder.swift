import BulkheadModel
import CShims
import Glibc

/// The eBPF recorder of `bulkhead seccomp record` (CShims/include/bh_recorder_bpf.h): programs on
/// raw_syscalls:sys_enter and sched_process_fork/exec/exit count every system call of the tasks
/// it follows in the kernel, without stopping them. One owner: the programs are detached and the
/// maps closed by `close()` or `deinit`, whichever comes first; nothing outlives this object.
///
/// `init` loads, attaches and calibrates (a known workload's calls must be counted under the right
/// architecture, a forked child's too), so a recorder that exists is one this kernel runs right.
public final class FastSyscallRecorder: @unchecked Sendable {
    private var state: bh_fast_recorder
    private let watch: bh_record_watch
    private var open = true

    /// The ia32 status calibration found: true when an i386 call was seen as i386, false when the
    /// kernel refused it (no IA32 emulation: no workload can make one either).
    public let ia32: Bool

    /// Loads and calibrates. `taskCapacity`: how many tasks can be followed at once (nil:
    /// BH_FAST_DEFAULT_TASKS, 65536); tests make it small to show that a full map is an error.
    public init(table: SyscallRecorderTable, taskCapacity: UInt32? = nil) throws(SystemError) {
        var s = bh_fast_recorder()
        bh_fast_recorder_init(&s)
        watch = table.pointer.pointee.watch
        var step: UnsafePointer<CChar>? = nil
        var log = [CChar](repeating: 0, count: 1 << 16)
        var w = watch
        let err = bh_fast_recorder_open(&s, &w, taskCapacity ?? 0, &step, &log, UInt32(log.count))
        if err != 0 {
            bh_fast_recorder_close(&s)
            let verifier = String(decoding: log.prefix { $0 != 0 }.suffix(400).map { UInt8(bitPattern: $0) }, as: UTF8.self)
            throw SystemError(step.map { String(cString: $0) } ?? "open the eBPF recorder", errno: Errno(err),
                              hint: verifier.isEmpty ? Self.hint(err) : "the verifier said: \(verifier)")
        }
        let cal = bh_fast_recorder_calibrate(&s, &step)
        if cal != 0 {
            bh_fast_recorder_close(&s)
            throw SystemError(step.map { String(cString: $0) } ?? "calibrate the eBPF recorder", errno: Errno(cal), hint: nil)
        }
        ia32 = s.ia32 == 1
        state = s
    }

    private static func hint(_ err: Int32) -> String? {
        err == EPERM ? "the eBPF recorder needs root (CAP_BPF and CAP_PERFMON)" : nil
    }

    /// Follows `pid` (the sandbox's init, in this PID namespace) and everything it starts; its
    /// calls are counted from its (or its child's) first execve on.
    public func follow(_ pid: Int32) throws(SystemError) {
        let err = bh_fast_recorder_follow(&state, pid)
        if err != 0 { throw SystemError("follow the sandbox's init \(pid) in the eBPF recorder", errno: Errno(err)) }
    }

    /// How many tasks are followed now (for tests: zero once the sandbox is gone).
    public func followedTasks() throws(SystemError) -> UInt32 {
        var n: UInt32 = 0
        let err = bh_fast_recorder_followed(&state, &n)
        if err != 0 { throw SystemError("count the tasks the eBPF recorder follows", errno: Errno(err)) }
        return n
    }

    /// Copies what was counted into `table` (the ptrace recorder's layout, so one reader makes the
    /// recording). True when a task could not be followed: the recording is then incomplete.
    public func read(into table: SyscallRecorderTable) throws(SystemError) -> Bool {
        let err = bh_fast_recorder_read(&state, table.pointer)
        if err != 0 { throw SystemError("read the eBPF recorder's counters", errno: Errno(err)) }
        return table.pointer.pointee.overflow & UInt32(BH_FAST_TASKS_LOST) != 0
    }

    /// Detaches the programs and closes the maps.
    public func close() {
        if open { bh_fast_recorder_close(&state) }
        open = false
    }

    deinit { close() }
}
