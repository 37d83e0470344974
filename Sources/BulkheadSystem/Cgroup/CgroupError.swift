/// A cgroup operation that failed, with what failed, where, the kernel's errno, and a fix
/// the user can act on.
///
/// `errno` is nil when the failure did not come from a system call (an invalid argument,
/// a controller that is missing on this host).
public struct CgroupError: Error, Sendable, Equatable, CustomStringConvertible {
    /// What kind of failure this is; raw values are stable for reports.
    public enum Code: String, Sendable, Codable {
        /// /proc/self/mountinfo or /proc/self/cgroup could not be read or made sense of.
        case hostDetection
        /// A path component or a limit value was rejected before touching the kernel.
        case invalidArgument
        /// A cgroup directory could not be created.
        case createFailed
        /// A requested limit needs a controller this host cannot give bulkhead.
        case controllerUnavailable
        /// A controller could not be enabled in an ancestor's `cgroup.subtree_control`.
        case enableControllerFailed
        /// A limit file could not be written.
        case writeFailed
        /// A process could not be moved into the cgroup.
        case attachFailed
        /// A cgroup directory could not be removed.
        case removeFailed
        /// The handle was used after `remove()`.
        case alreadyRemoved
    }

    public var code: Code
    /// The operation, e.g. "write memory.limit_in_bytes".
    public var operation: String
    /// The file or directory the operation was on.
    public var path: String
    /// The errno the kernel returned, nil if none.
    public var errno: Errno?
    /// What the user can do about it.
    public var fix: String

    public init(code: Code, operation: String, path: String, errno: Errno? = nil, fix: String) {
        self.code = code
        self.operation = operation
        self.path = path
        self.errno = errno
        self.fix = fix
    }

    public var description: String {
        var text = "cannot \(operation) (\(path))"
        if let errno { text += ": \(errno)" }
        if !fix.isEmpty { text += "; \(fix)" }
        return text
    }
}

extension CgroupError: SystemErrorConvertible {
    public var systemError: SystemError {
        SystemError(operation, path: path, errno: errno, hint: fix.isEmpty ? nil : fix)
    }
}
