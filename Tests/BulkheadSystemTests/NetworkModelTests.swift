import Testing
@testable import BulkheadSystem

/// The pure parts of node networking: names, addresses, token bucket arithmetic and the
/// nft ruleset text. No system calls.
@Suite("network values")
struct NetworkModelTests {
    @Test(arguments: [
        ("node-4711-195200-0", true), ("pod-1-2-3", true), ("abcdefgh-1-2-3", true),
        ("abcdefghi-1-2-3", false), ("Pod-1-2-3", false), ("pod-0-2-3", false), ("pod-1-2", false),
        ("pod-1-2-3-4", false), ("pod--2-3", false), ("pod-1-x-3", false), ("-1-2-3", false),
        ("c-1-2-3", true), ("pod-99999999999-1-1", false),
    ])
    func namespaceNames(name: String, valid: Bool) {
        let parsed = NetworkNamespaceName(parsing: name)
        #expect((parsed != nil) == valid)
        if let parsed { #expect(parsed.description == name) }
    }

    @Test func namespaceNameOfThisProcessIsAlive() throws {
        let n = try #require(NetworkNamespaceName.forCurrentProcess(role: "pod", sequence: 7))
        #expect(n.ownerIsAlive)
        var dead = n
        dead.ownerStartTime += 1   // same pid, another start time: a recycled pid
        #expect(!dead.ownerIsAlive)
        #expect(NetworkNamespaceName.forCurrentProcess(role: "POD", sequence: 0) == nil)
    }

    @Test(arguments: [
        ("10.244.0.1", "10.244.0.1"), ("0.0.0.0", "0.0.0.0"), ("255.255.255.255", "255.255.255.255"),
    ])
    func ipv4RoundTrip(text: String, expected: String) throws {
        #expect(try #require(IPv4Address(text)).description == expected)
    }

    @Test(arguments: ["10.244.0", "10.244.0.256", "10.244.0.01", "10.244..1", "a.b.c.d", " 10.0.0.1", "10.0.0.1/24"])
    func ipv4Rejects(text: String) {
        #expect(IPv4Address(text) == nil)
    }

    @Test func cidr() throws {
        let c = try #require(IPv4CIDR("10.244.0.3/24"))
        #expect(c.address == IPv4Address(10, 244, 0, 3))
        #expect(c.network.description == "10.244.0.0/24")
        #expect(c.contains(IPv4Address(10, 244, 0, 200)) && !c.contains(IPv4Address(10, 244, 1, 1)))
        #expect(IPv4CIDR("10.0.0.1")?.prefixLength == 32)
        #expect(IPv4CIDR("0.0.0.0/0")?.netmask == 0)
        for bad in ["10.0.0.0/33", "10.0.0.0/", "10.0.0.0/-1", "10.0.0.0/8/8"] { #expect(IPv4CIDR(bad) == nil, "\(bad)") }
        #expect(IPv4Address(octets: [10, 244, 0, 1]).octets == [10, 244, 0, 1])
    }

    /// The CNI bandwidth plugin's arithmetic (plugins/meta/bandwidth, createTBF): limit =
    /// rate × 25 ms + burst; buffer = burst / rate in ticks of 1/15.625 µs.
    @Test func tokenBucketFollowsTheCNIPlugin() throws {
        let b = try #require(TokenBucket.cni(rateBits: 8_000_000, burstBits: 262_144))
        #expect(b.rateBytesPerSecond == 1_000_000)
        #expect(b.burstBytes == 32_768)
        #expect(b.limitBytes == 25_000 + 32_768)
        // 32768 B at 1 MB/s = 32.768 ms = 32768 µs × 15.625 ticks/µs.
        #expect(b.bufferTicks == 512_000)
        let r = TokenBucketReading(rateBytesPerSecond: 1_000_000, limitBytes: b.limitBytes, bufferTicks: b.bufferTicks)
        #expect(r.burstBytes == 32_768 && r.rateBitsPerSecond == 8_000_000)
        #expect(TokenBucket(rateBitsPerSecond: 7, burstBytes: 1) == nil)
        #expect(TokenBucket(rateBitsPerSecond: 8_000_000, burstBytes: 0) == nil)
        // A 100 Gbit/s rate does not fit 32 bits of bytes/s and is still representable.
        let fast = try #require(TokenBucket(rateBitsPerSecond: 100_000_000_000, burstBytes: 1 << 20))
        #expect(fast.rateBytesPerSecond > UInt64(UInt32.max))
        #expect(fast.limitBytes == 312_500_000 + (1 << 20))
        // A queue limit beyond 4 GiB is refused.
        #expect(TokenBucket(rateBitsPerSecond: 8_000_000_000_000, burstBytes: 1, latencyMicroseconds: 10_000_000) == nil)
    }

    @Test func eachDirectionIsShapedWhereItLeaves() {
        #expect(PodBandwidth.shapedEnd(for: .egress) == .pod)
        #expect(PodBandwidth.shapedEnd(for: .ingress) == .node)
    }

    @Test func errorsSayWhatFailedAndWhere() {
        let e = NetworkError(code: .netlink, operation: "add default route via 10.244.9.9", namespace: "/run/bulkhead/netns/pod-1-2-3",
                             errno: Errno(101), detail: "Nexthop has invalid gateway")
        #expect(e.description == "cannot add default route via 10.244.9.9 (in /run/bulkhead/netns/pod-1-2-3): ENETUNREACH (Network is unreachable): Nexthop has invalid gateway")
    }
}
