import CShims
import Testing
@testable import BulkheadSystem
#if canImport(Glibc)
import Glibc
#endif

/// The records the C side fills from rtnetlink dumps (bh_link_info, bh_addr_info,
/// bh_route_info, bh_qdisc_info), read into the Swift values the network code uses: the
/// fixed-size names, the "0 means none" fields, the address families, the tbf parameters.
/// (The netlink messages themselves are parsed in C, CShims/netlink.c; the kernel tests read
/// real dumps.)
@Suite("netlink dump records")
struct NetlinkRecordTests {
    /// Writes `text` into a fixed char array (a C `char[16]`), NUL-terminated when it fits.
    static func setChars<T>(_ array: inout T, _ text: String) {
        withUnsafeMutableBytes(of: &array) { raw in
            for i in raw.indices { raw[i] = 0 }
            for (i, b) in text.utf8.prefix(raw.count).enumerated() { raw[i] = b }
        }
    }

    static func setBytes<T>(_ array: inout T, _ bytes: [UInt8]) {
        withUnsafeMutableBytes(of: &array) { raw in
            for i in raw.indices { raw[i] = i < bytes.count ? bytes[i] : 0 }
        }
    }

    @Test func link() {
        var c = bh_link_info()
        c.index = 7
        c.flags = 0x1 | 0x1000 | 0x10000  // IFF_UP | IFF_MULTICAST | IFF_LOWER_UP
        c.master = 3
        c.mtu = 1500
        Self.setChars(&c.name, "vbh1")
        Self.setChars(&c.kind, "veth")
        let l = LinkInfo(c)
        #expect(l.index == 7 && l.name == "vbh1" && l.kind == "veth" && l.mtu == 1500)
        #expect(l.master == 3)
        #expect(l.isUp && l.flags == [.up, .multicast, .lowerUp])

        var lo = bh_link_info()
        lo.index = 1
        lo.flags = 0x8 | 0x40  // IFF_LOOPBACK | IFF_RUNNING, not up
        Self.setChars(&lo.name, "lo")
        let l2 = LinkInfo(lo)
        #expect(l2.name == "lo" && l2.kind == "" && l2.master == nil, "master 0 is none, no kind is \"\"")
        #expect(!l2.isUp && l2.flags.contains(.loopback) && l2.flags.contains(.running))

        // A name that fills the whole array (no NUL) is read within it.
        var full = bh_link_info()
        Self.setChars(&full.name, String(repeating: "a", count: 16))
        Self.setChars(&full.kind, "bridge")
        let l3 = LinkInfo(full)
        #expect(l3.name == String(repeating: "a", count: 16) && l3.kind == "bridge")
    }

    @Test func addresses() throws {
        var v4 = bh_addr_info()
        v4.index = 5
        v4.family = UInt8(AF_INET)
        v4.prefix_len = 24
        v4.scope = 0
        Self.setBytes(&v4.addr, [10, 244, 0, 3, 99, 99])  // bytes past the fourth are not the address
        let a = AddressInfo(v4)
        #expect(a.index == 5 && a.family == AF_INET && a.bytes == [10, 244, 0, 3] && a.prefixLength == 24 && a.scope == 0)
        #expect(a.ipv4 == IPv4CIDR(IPv4Address(10, 244, 0, 3), prefixLength: 24))
        #expect(try #require(a.ipv4).description == "10.244.0.3/24")

        var v6 = bh_addr_info()
        v6.family = UInt8(AF_INET6)
        v6.prefix_len = 64
        v6.scope = 253
        Self.setBytes(&v6.addr, [0xfe, 0x80] + [UInt8](repeating: 0, count: 13) + [1])
        let b = AddressInfo(v6)
        #expect(b.bytes.count == 16 && b.bytes.first == 0xfe && b.bytes.last == 1 && b.scope == 253)
        #expect(b.ipv4 == nil)
    }

    @Test func routes() {
        var d = bh_route_info()
        d.table = 254
        d.oif = 4
        d.family = UInt8(AF_INET)
        d.dst_len = 0
        d.type = 1
        d.has_gateway = 1
        Self.setBytes(&d.gateway, [10, 244, 0, 1])
        let r = RouteInfo(d)
        #expect(r.table == RouteInfo.mainTable && r.isDefault && r.type == 1)
        #expect(r.destination.description == "0.0.0.0/0")
        #expect(r.gateway == IPv4Address(10, 244, 0, 1) && r.outputIndex == 4)

        var n = bh_route_info()
        n.table = 255
        n.dst_len = 40  // out of range for IPv4: held to 32
        Self.setBytes(&n.dst, [10, 244, 0, 0])
        Self.setBytes(&n.gateway, [1, 2, 3, 4])  // ignored without has_gateway
        let r2 = RouteInfo(n)
        #expect(r2.destination.prefixLength == 32 && !r2.isDefault)
        #expect(r2.gateway == nil && r2.outputIndex == nil, "no gateway flag and oif 0 are none")
    }

    @Test func qdiscs() {
        var t = bh_qdisc_info()
        t.index = 9
        t.handle = 0x8001_0000
        t.parent = 0xFFFF_FFFF
        Self.setChars(&t.kind, "tbf")
        t.tbf_rate_bytes = 1_000_000
        t.tbf_limit_bytes = 57_768
        t.tbf_buffer_ticks = 512_000
        t.bytes = 4242
        t.packets = 3
        t.drops = 1
        t.overlimits = 2
        let q = QdiscInfo(t)
        #expect(q.kind == "tbf" && q.isRoot && q.handle == 0x8001_0000 && q.index == 9)
        #expect(q.tokenBucket == TokenBucketReading(rateBytesPerSecond: 1_000_000, limitBytes: 57_768, bufferTicks: 512_000))
        #expect(q.tokenBucket?.burstBytes == 32_768, "512000 ticks at 1 MB/s")
        #expect(q.bytes == 4242 && q.packets == 3 && q.drops == 1 && q.overlimits == 2)

        var f = bh_qdisc_info()
        f.parent = 0x0001_0000
        Self.setChars(&f.kind, "fq_codel")
        f.tbf_rate_bytes = 7  // left over: not a tbf, so not read
        let q2 = QdiscInfo(f)
        #expect(q2.kind == "fq_codel" && q2.tokenBucket == nil && !q2.isRoot)
    }
}
