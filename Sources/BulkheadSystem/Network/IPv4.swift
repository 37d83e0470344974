/// An IPv4 address as a value; `octets` are in network order.
public struct IPv4Address: Sendable, Hashable, Comparable, CustomStringConvertible {
    /// The address as a host-order integer (10.244.0.1 is 0x0AF40001).
    public var value: UInt32

    public init(_ value: UInt32) { self.value = value }

    public init(_ a: UInt8, _ b: UInt8, _ c: UInt8, _ d: UInt8) {
        value = UInt32(a) << 24 | UInt32(b) << 16 | UInt32(c) << 8 | UInt32(d)
    }

    /// Parses dotted-quad notation; nil for anything else (no shorthand forms).
    public init?(_ text: some StringProtocol) {
        let parts = text.split(separator: ".", omittingEmptySubsequences: false)
        guard parts.count == 4 else { return nil }
        var v: UInt32 = 0
        for p in parts {
            guard !p.isEmpty, p.count <= 3, p.allSatisfy({ $0.isASCII && $0.isNumber }), let n = UInt8(p),
                  p.count == 1 || p.first != "0" else { return nil }
            v = v << 8 | UInt32(n)
        }
        value = v
    }

    /// The four bytes in network order, as netlink wants them.
    public var octets: [UInt8] { [UInt8(value >> 24), UInt8(value >> 16 & 0xff), UInt8(value >> 8 & 0xff), UInt8(value & 0xff)] }

    public init(octets: some Collection<UInt8>) {
        self.init(octets.prefix(4).reduce(UInt32(0)) { $0 << 8 | UInt32($1) })
    }

    public var description: String { octets.map(String.init).joined(separator: ".") }

    public static func < (l: Self, r: Self) -> Bool { l.value < r.value }
}

/// An IPv4 address with a prefix length: an interface address (`10.244.0.2/24`) or a
/// network (`10.244.0.0/16`).
public struct IPv4CIDR: Sendable, Hashable, CustomStringConvertible {
    public var address: IPv4Address
    public var prefixLength: UInt8

    public init(_ address: IPv4Address, prefixLength: UInt8) {
        precondition(prefixLength <= 32, "IPv4 prefix length \(prefixLength) > 32")
        self.address = address
        self.prefixLength = prefixLength
    }

    /// Parses `a.b.c.d/n`; a bare address means /32.
    public init?(_ text: some StringProtocol) {
        let parts = text.split(separator: "/", omittingEmptySubsequences: false)
        guard parts.count <= 2, let a = IPv4Address(parts[0]) else { return nil }
        var len: UInt8 = 32
        if parts.count == 2 {
            guard !parts[1].isEmpty, parts[1].count <= 2, parts[1].allSatisfy({ $0.isASCII && $0.isNumber }),
                  let n = UInt8(parts[1]), n <= 32 else { return nil }
            len = n
        }
        self.init(a, prefixLength: len)
    }

    public var netmask: UInt32 { prefixLength == 0 ? 0 : ~UInt32(0) << (32 - UInt32(prefixLength)) }
    /// The network this address is in (host bits cleared).
    public var network: IPv4CIDR { IPv4CIDR(IPv4Address(address.value & netmask), prefixLength: prefixLength) }

    public func contains(_ a: IPv4Address) -> Bool { a.value & netmask == address.value & netmask }

    public var description: String { "\(address)/\(prefixLength)" }
}
