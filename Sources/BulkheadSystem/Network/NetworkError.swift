/// A network operation that failed: what was attempted, on which object, the kernel's
/// errno and extended-ack text, and what the user can do about it.
public struct NetworkError: Error, Sendable, Equatable, CustomStringConvertible {
    /// What kind of failure this is; raw values are stable for reports.
    public enum Code: String, Sendable, Codable {
        /// A name, address or parameter was rejected before touching the kernel.
        case invalidArgument
        /// A network namespace could not be created, opened or removed.
        case namespace
        /// A socket could not be created inside a namespace.
        case socket
        /// The kernel refused an rtnetlink request (link, address, route, qdisc).
        case netlink
        /// The nft program could not be run, or it refused the ruleset.
        case nftables
        /// The handle was used after it was closed or deleted.
        case closed
    }

    public var code: Code
    /// The operation, e.g. "create veth vbh1 (peer eth0)".
    public var operation: String
    /// The namespace (its path) the operation ran in, "" if none.
    public var namespace: String
    /// The errno the kernel returned, nil if none.
    public var errno: Errno?
    /// The kernel's extended-ack message or nft's error text, "" if none.
    public var detail: String
    /// What the user can do about it, "" if nothing specific.
    public var fix: String

    public init(code: Code, operation: String, namespace: String = "", errno: Errno? = nil, detail: String = "", fix: String = "") {
        self.code = code
        self.operation = operation
        self.namespace = namespace
        self.errno = errno
        self.detail = detail
        self.fix = fix
    }

    public var description: String {
        var text = "cannot \(operation)"
        if !namespace.isEmpty { text += " (in \(namespace))" }
        if let errno { text += ": \(errno)" }
        if !detail.isEmpty { text += ": \(detail)" }
        if !fix.isEmpty { text += "; \(fix)" }
        return text
    }
}

extension NetworkError: SystemErrorConvertible {
    public var systemError: SystemError {
        SystemError(detail.isEmpty ? operation : "\(operation): \(detail)", path: namespace.isEmpty ? nil : namespace,
                    errno: errno, hint: fix.isEmpty ? nil : fix)
    }
}
