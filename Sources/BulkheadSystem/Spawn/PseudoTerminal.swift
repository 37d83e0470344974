import CShims
import Glibc

/// `--tty`: a new pty pair (posix_openpt; the slave opened from the master with TIOCGPTPEER,
/// without a path lookup).
public enum PseudoTerminal {
    /// The master is close-on-exec; the slave is not (the sandbox inherits it). Both belong to
    /// the caller (`TerminalRelay`), which closes them.
    public static func open() throws(SystemError) -> (master: Int32, slave: Int32) {
        var m: Int32 = -1, s: Int32 = -1
        let rc = bh_open_pty(&m, &s)
        guard rc == 0 else { throw SystemError("open a pty for --tty", errno: Errno(rc)) }
        return (m, s)
    }
}
