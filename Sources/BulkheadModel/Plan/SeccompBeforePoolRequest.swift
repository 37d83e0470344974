/// A warm pool's sandbox can load the workload's seccomp filter while it is prepared, in its init
/// before it waits for a request, instead of in the workload between the request and execve:
/// the filter's conversion and JIT (a few hundred microseconds for the `container` policy) then
/// leave the client's path. The init and the workload it forks then make their remaining calls
/// under the filter, so this is done only when the filter provably lets each of them run
/// (`SeccompAllowProof`: `RET ALLOW` on every path, whatever the arguments not fixed below).
/// Otherwise the filter is loaded last before execve, as in a cold launch. The workload gets the
/// same filter either way; the init is confined by it as well.
///
/// `calls` is what the C shim (CShims/spawn.c, pool.c) does from the load to the workload's
/// execve, and what the init does after it: checked by
/// `WarmPoolTests.thePreloadedInitMakesOnlyTheListedCalls`, which traces a pooled launch.
public enum SeccompBeforePoolRequest {
    public struct Call: Sendable, Equatable {
        public let name: String
        /// The first argument when the shim always passes this value (prctl's option, clone's
        /// flags); nil: any value.
        public let arg0: UInt64?
        init(_ name: String, _ arg0: UInt64? = nil) { self.name = name; self.arg0 = arg0 }
    }

    public static let calls: [Call] = [
        // The init: the ready message, the request (bh_pool_wait_request), a failed step's report.
        Call("write"), Call("recvmsg"), Call("close"),
        // child_main: the forwarded signals' handlers, the mask, the subreaper, the exec pipe
        // (moved above the request's fds).
        Call("rt_sigaction"), Call("rt_sigprocmask"), Call("rt_sigreturn"), Call("prctl", 36 /* PR_SET_CHILD_SUBREAPER */),
        Call("pipe2"), Call("fcntl"),
        // start_workload: the workload's stack, the dumpable flag, the clone that shares memory.
        Call("mmap"), Call("mprotect"), Call("munmap"), Call("prctl", 3 /* PR_GET_DUMPABLE */), Call("prctl", 4 /* PR_SET_DUMPABLE */),
        Call("clone", 0x4000 | 0x100 | 17 /* CLONE_VFORK | CLONE_VM | SIGCHLD */),
        // The init's life after the fork: the exec pipe, signals, reaping, its end.
        Call("read"), Call("kill"), Call("wait4"), Call("rt_sigtimedwait"), Call("exit_group"),
        // The workload before execve: its signals, the parent-death signal, the request's fds
        // on 0 .. n-1 (dup2 on x86_64, dup3 where there is no dup2), the fd hygiene, the working
        // directory resolved in the root, the PATH search.
        Call("prctl", 1 /* PR_SET_PDEATHSIG */), Call("dup2"), Call("dup3"), Call("close_range"),
        Call("openat"), Call("openat2"), Call("fchdir"), Call("getcwd"), Call("execve"),
    ]

    /// The first of `calls` the program is not proven to allow on `arch` (its audit value
    /// `auditArch`), by name; nil when every one is, and the filter may be loaded early. A call
    /// `arch` does not have is not made there.
    public static func unproven(program: [UInt8], arch: SeccompArch, auditArch: UInt32) -> String? {
        for c in calls {
            guard let n = SyscallTable.number(of: c.name, on: arch) else { continue }
            let args: [Int: UInt64] = c.arg0.map { [0: $0] } ?? [:]
            if !SeccompAllowProof.allows(program, auditArch: auditArch, number: UInt32(bitPattern: n), args: args) { return c.name }
        }
        return nil
    }
}
