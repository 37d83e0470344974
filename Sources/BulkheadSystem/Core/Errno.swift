import Glibc

/// An errno value with its symbolic name (`EPERM`) and strerror text.
public struct Errno: Error, Equatable, Sendable, CustomStringConvertible {
    public let rawValue: Int32
    public init(_ rawValue: Int32) { self.rawValue = rawValue }

    /// The current thread's errno, captured at once after a failed call.
    public static var current: Errno { Errno(errno) }

    /// A list searched in order, not a `[Int32: String]`: the dictionary's first use scanned the
    /// binary's conformance records (0.4 M instructions) on every launch that built a message
    /// with an errno, e.g. a rootless launch refusing `$HOME=/nonexistent` as a cache base.
    static let names: [(Int32, String)] = [
        (EPERM, "EPERM"), (ENOENT, "ENOENT"), (ESRCH, "ESRCH"), (EINTR, "EINTR"), (EIO, "EIO"),
        (ENXIO, "ENXIO"), (E2BIG, "E2BIG"), (ENOEXEC, "ENOEXEC"), (EBADF, "EBADF"), (ECHILD, "ECHILD"),
        (EAGAIN, "EAGAIN"), (ENOMEM, "ENOMEM"), (EACCES, "EACCES"), (EFAULT, "EFAULT"),
        (EBUSY, "EBUSY"), (EEXIST, "EEXIST"), (EXDEV, "EXDEV"), (ENODEV, "ENODEV"),
        (ENOTDIR, "ENOTDIR"), (EISDIR, "EISDIR"), (EINVAL, "EINVAL"), (ENFILE, "ENFILE"),
        (EMFILE, "EMFILE"), (ENOTTY, "ENOTTY"), (ETXTBSY, "ETXTBSY"), (EFBIG, "EFBIG"),
        (ENOSPC, "ENOSPC"), (ESPIPE, "ESPIPE"), (EROFS, "EROFS"), (EMLINK, "EMLINK"), (EPIPE, "EPIPE"),
        (ERANGE, "ERANGE"), (ENAMETOOLONG, "ENAMETOOLONG"), (ENOSYS, "ENOSYS"),
        (ENOTEMPTY, "ENOTEMPTY"), (ELOOP, "ELOOP"), (EOPNOTSUPP, "EOPNOTSUPP"),
        (EADDRINUSE, "EADDRINUSE"), (ECONNREFUSED, "ECONNREFUSED"), (ENETUNREACH, "ENETUNREACH"),
        (ETIMEDOUT, "ETIMEDOUT"), (ECANCELED, "ECANCELED"), (EUSERS, "EUSERS"), (EDQUOT, "EDQUOT"),
        (ESTALE, "ESTALE"), (EAFNOSUPPORT, "EAFNOSUPPORT"), (EPROTONOSUPPORT, "EPROTONOSUPPORT"),
    ]

    /// `EPERM`, or `errno 123` for one outside the table.
    public var name: String { Self.names.first { $0.0 == rawValue }?.1 ?? "errno \(rawValue)" }
    /// `Operation not permitted`.
    public var text: String { String(cString: strerror(rawValue)) }
    public var description: String { "\(name) (\(text))" }

    /// Looks up a name such as `EPERM`.
    public init?(name: String) {
        guard let v = Self.names.first(where: { $0.1 == name })?.0 else { return nil }
        self.init(v)
    }
}

/// A failed system operation: what was attempted, on which path, the errno, and what the user
/// can do. The subsystems' own errors (`CgroupError`, `NetworkError`, `SeccompCompileError`)
/// keep their codes and message texts and read as one of these through `systemError`.
public struct SystemError: Error, Sendable, CustomStringConvertible {
    public var operation: String
    /// The file, directory or namespace the operation was on, when there is one. Not part of
    /// `description`: callers that want it in the message put it in `operation`.
    public var path: String?
    public var errno: Errno?
    public var hint: String?

    public init(_ operation: String, path: String? = nil, errno: Errno? = nil, hint: String? = nil) {
        self.operation = operation
        self.path = path
        self.errno = errno
        self.hint = hint
    }

    public var description: String {
        var s = operation
        if let errno { s += ": \(errno)" }
        if let hint { s += " — \(hint)" }
        return s
    }
}

/// An error that can be read as a `SystemError`: what the launcher reads to fill a report's
/// errno, whatever subsystem failed.
public protocol SystemErrorConvertible: Error {
    var systemError: SystemError { get }
}

extension SystemError: SystemErrorConvertible {
    public var systemError: SystemError { self }
}

/// Signal names for reports (`SIGTERM`).
public enum SignalName {
    static let names: [Int32: String] = [
        SIGHUP: "SIGHUP", SIGINT: "SIGINT", SIGQUIT: "SIGQUIT", SIGILL: "SIGILL", SIGTRAP: "SIGTRAP",
        SIGABRT: "SIGABRT", SIGBUS: "SIGBUS", SIGFPE: "SIGFPE", SIGKILL: "SIGKILL", SIGUSR1: "SIGUSR1",
        SIGSEGV: "SIGSEGV", SIGUSR2: "SIGUSR2", SIGPIPE: "SIGPIPE", SIGALRM: "SIGALRM", SIGTERM: "SIGTERM",
        SIGCHLD: "SIGCHLD", SIGCONT: "SIGCONT", SIGSTOP: "SIGSTOP", SIGTSTP: "SIGTSTP", SIGTTIN: "SIGTTIN",
        SIGTTOU: "SIGTTOU", SIGURG: "SIGURG", SIGXCPU: "SIGXCPU", SIGXFSZ: "SIGXFSZ", SIGVTALRM: "SIGVTALRM",
        SIGPROF: "SIGPROF", SIGWINCH: "SIGWINCH", SIGIO: "SIGIO", SIGPWR: "SIGPWR", SIGSYS: "SIGSYS",
    ]
    public static func name(_ sig: Int32) -> String { names[sig] ?? "SIG\(sig)" }
}
