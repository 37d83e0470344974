import BulkheadModel
import CShims
import Glibc

/// OCI hooks run by the runtime itself (prestart, createRuntime, poststart, poststop: in its
/// own namespaces) with the C runner the sandbox's init uses for createContainer and
/// startContainer (`bh_run_hook`: clone3, the state on stdin, the timeout kills the hook).
public enum HookRunner {
    /// A close-on-exec memfd for the state JSON, made before the init is (it inherits it).
    public static func stateFile() throws(SystemError) -> Int32 {
        let fd = bh_state_memfd()
        guard fd >= 0 else { throw SystemError("hold the OCI state for the hooks (memfd_create)", errno: Errno(-fd)) }
        return fd
    }

    /// Writes the state into `fd` and seals it: every hook reads it from offset 0 and none can
    /// change it for the next.
    public static func fill(_ fd: Int32, _ bytes: [UInt8]) throws(SystemError) {
        let rc = bytes.withUnsafeBytes { bh_state_memfd_fill(fd, $0.baseAddress, $0.count) }
        guard rc == 0 else { throw SystemError("write the OCI state for the hooks (write, F_ADD_SEALS)", errno: Errno(rc)) }
    }

    /// Runs `hook` and waits for it: 0, ETIMEDOUT (killed), ECHILD (non-zero status or a
    /// signal: `waitStatus`), or the errno of clone3/execve.
    public static func run(_ hook: HookStep) -> (errno: Int32, waitStatus: Int32) {
        let arena = CArena()
        var status: Int32 = 0
        var args = bh_run_hook_args(path: arena.string(hook.path), root: arena.string(hook.root), state_fd: hook.stateFD,
                                    argv: UnsafePointer(arena.stringArray(hook.argv, terminated: true)),
                                    envp: UnsafePointer(arena.stringArray(hook.env, terminated: true)), timeout_ms: hook.timeoutMs)
        defer { arena.free() }
        let rc = bh_run_hook(&args, &status)
        return (rc, status)
    }
}
