import CShims
import Glibc

/// `--tty`: the pty is opened by the sandbox's init in the sandbox's own devpts
/// (`PlanStep.openTerminal`), so that the workload's terminal is /dev/pts/N there; the master
/// comes back to the launcher over a channel made here.
public enum PseudoTerminal {
    /// A SOCK_SEQPACKET socketpair, both ends close-on-exec; the launcher's end non-blocking.
    /// The sandbox's end goes into the plan (`LaunchContext.terminalFD`); the caller closes both.
    public static func channel() throws(SystemError) -> (launcher: Int32, sandbox: Int32) {
        var l: Int32 = -1, s: Int32 = -1
        let rc = bh_terminal_channel(&l, &s)
        guard rc == 0 else { throw SystemError("open a channel for --tty's pty", errno: Errno(rc)) }
        return (l, s)
    }

    /// The pty master the init sent, if it has arrived (never blocks); checked to be exactly one
    /// pty master (TIOCGPTN), anything else is closed and refused.
    public static func receiveMaster(_ channel: Int32) throws(SystemError) -> Int32? {
        var m: Int32 = -1
        let rc = bh_receive_pty_master(channel, &m)
        guard rc == 0 else {
            throw SystemError("receive the sandbox's pty master", errno: Errno(rc),
                              hint: rc == EPIPE ? "the sandbox ended before it opened its pty" : nil)
        }
        return m >= 0 ? m : nil
    }
}
