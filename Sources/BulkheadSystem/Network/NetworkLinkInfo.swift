import CShims
#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#endif

/// Interface flags (IFF_*, netdevice(7)).
public struct LinkFlags: OptionSet, Sendable, Hashable {
    public let rawValue: UInt32
    public init(rawValue: UInt32) { self.rawValue = rawValue }
    public static let up = LinkFlags(rawValue: 0x1)
    public static let broadcast = LinkFlags(rawValue: 0x2)
    public static let loopback = LinkFlags(rawValue: 0x8)
    public static let pointToPoint = LinkFlags(rawValue: 0x10)
    public static let running = LinkFlags(rawValue: 0x40)
    public static let noARP = LinkFlags(rawValue: 0x80)
    public static let promiscuous = LinkFlags(rawValue: 0x100)
    public static let multicast = LinkFlags(rawValue: 0x1000)
    public static let lowerUp = LinkFlags(rawValue: 0x10000)
}

/// One link of an RTM_GETLINK dump.
public struct LinkInfo: Sendable, Equatable {
    public var index: Int32
    public var name: String
    /// IFLA_INFO_KIND: `bridge`, `veth`, …; "" for links without one (`lo`).
    public var kind: String
    public var flags: LinkFlags
    /// The ifindex of the bridge this link is a port of.
    public var master: Int32?
    public var mtu: UInt32

    public var isUp: Bool { flags.contains(.up) }

    init(_ c: bh_link_info) {
        index = c.index
        name = cString(c.name)
        kind = cString(c.kind)
        flags = LinkFlags(rawValue: c.flags)
        master = c.master > 0 ? c.master : nil
        mtu = c.mtu
    }
}

/// One address of an RTM_GETADDR dump.
public struct AddressInfo: Sendable, Equatable {
    public var index: Int32
    /// AF_INET or AF_INET6.
    public var family: Int32
    /// 4 or 16 bytes, network order.
    public var bytes: [UInt8]
    public var prefixLength: UInt8
    /// RT_SCOPE_*: 0 universe, 253 link, 254 host.
    public var scope: UInt8

    /// The address as IPv4 with its prefix, nil for IPv6.
    public var ipv4: IPv4CIDR? {
        family == AF_INET ? IPv4CIDR(IPv4Address(octets: bytes), prefixLength: prefixLength) : nil
    }

    init(_ c: bh_addr_info) {
        index = c.index
        family = Int32(c.family)
        let n = family == AF_INET ? 4 : 16
        bytes = withUnsafeBytes(of: c.addr) { Array($0.prefix(n)) }
        prefixLength = c.prefix_len
        scope = c.scope
    }
}

/// One IPv4 route of an RTM_GETROUTE dump.
public struct RouteInfo: Sendable, Equatable {
    /// RT_TABLE_MAIN is 254, RT_TABLE_LOCAL 255.
    public var table: UInt32
    /// The destination network; 0.0.0.0/0 for a default route.
    public var destination: IPv4CIDR
    public var gateway: IPv4Address?
    /// The output link's ifindex, nil if none.
    public var outputIndex: Int32?
    /// RTN_*: 1 unicast, 2 local, 3 broadcast.
    public var type: UInt8

    public static let mainTable: UInt32 = 254
    public var isDefault: Bool { destination.prefixLength == 0 }

    init(_ c: bh_route_info) {
        table = c.table
        destination = IPv4CIDR(IPv4Address(octets: withUnsafeBytes(of: c.dst) { Array($0.prefix(4)) }), prefixLength: min(c.dst_len, 32))
        gateway = c.has_gateway != 0 ? IPv4Address(octets: withUnsafeBytes(of: c.gateway) { Array($0.prefix(4)) }) : nil
        outputIndex = c.oif > 0 ? c.oif : nil
        type = c.type
    }
}

/// One qdisc of an RTM_GETQDISC dump.
public struct QdiscInfo: Sendable, Equatable {
    public var index: Int32
    public var handle: UInt32
    public var parent: UInt32
    /// `tbf`, `noqueue`, `pfifo_fast`, `fq_codel`, …
    public var kind: String
    /// The token bucket's settings as the kernel reports them, for kind `tbf`.
    public var tokenBucket: TokenBucketReading?
    public var bytes: UInt64
    public var packets: UInt32
    public var drops: UInt32
    /// Packets that found the bucket empty and had to wait (or were dropped).
    public var overlimits: UInt32

    /// TC_H_ROOT.
    public var isRoot: Bool { parent == 0xFFFF_FFFF }

    init(_ c: bh_qdisc_info) {
        index = c.index
        handle = c.handle
        parent = c.parent
        kind = cString(c.kind)
        tokenBucket = kind == "tbf"
            ? TokenBucketReading(rateBytesPerSecond: c.tbf_rate_bytes, limitBytes: c.tbf_limit_bytes, bufferTicks: c.tbf_buffer_ticks)
            : nil
        bytes = c.bytes
        packets = c.packets
        drops = c.drops
        overlimits = c.overlimits
    }
}

/// A NUL-terminated fixed char array from C (imported as a tuple).
func cString<T>(_ tuple: T) -> String {
    withUnsafeBytes(of: tuple) { raw in
        String(decoding: raw.prefix { $0 != 0 }, as: UTF8.self)
    }
}
