/// A token bucket filter (tc-tbf(8), sch_tbf) with the CNI bandwidth plugin's semantics,
/// the plugin that implements `kubernetes.io/ingress-bandwidth` and
/// `kubernetes.io/egress-bandwidth`: a rate, a bucket (burst) and a queue limit derived
/// from a fixed latency of 25 ms (`limit = rate × latency + burst`).
///
/// Which link gets it is `PodBandwidth.Direction`'s business: the bucket shapes the
/// *egress* of the link it is attached to.
public struct TokenBucket: Sendable, Equatable {
    /// The CNI plugin's `latencyInMillis`.
    public static let cniLatencyMicroseconds: UInt32 = 25_000

    public var rateBitsPerSecond: UInt64
    /// The bucket: how many bytes may leave back to back at line rate.
    public var burstBytes: UInt32
    /// How long a packet may wait in the queue; sets the queue's byte limit.
    public var latencyMicroseconds: UInt32

    /// Nil for a rate below 8 bit/s (less than a byte per second), an empty bucket, or a
    /// queue limit above 4 GiB.
    public init?(rateBitsPerSecond: UInt64, burstBytes: UInt32, latencyMicroseconds: UInt32 = cniLatencyMicroseconds) {
        guard rateBitsPerSecond >= 8, burstBytes > 0 else { return nil }
        self.rateBitsPerSecond = rateBitsPerSecond
        self.burstBytes = burstBytes
        self.latencyMicroseconds = latencyMicroseconds
        guard Self.limit(rate: rateBitsPerSecond / 8, latency: latencyMicroseconds, burst: burstBytes) != nil else { return nil }
    }

    /// A bucket as the CNI plugin builds it from its `egressRate`/`egressBurst` (both in
    /// bits). Note: Kubernetes' annotations carry only a rate; the runtime then passes a
    /// huge burst, which lets short transfers through unshaped. Give a real burst.
    public static func cni(rateBits: UInt64, burstBits: UInt64) -> TokenBucket? {
        guard burstBits / 8 <= UInt64(UInt32.max) else { return nil }
        return TokenBucket(rateBitsPerSecond: rateBits, burstBytes: UInt32(burstBits / 8))
    }

    public var rateBytesPerSecond: UInt64 { rateBitsPerSecond / 8 }

    /// The queue's byte limit: what arrives in `latency` at the rate, plus the bucket.
    public var limitBytes: UInt32 {
        Self.limit(rate: rateBytesPerSecond, latency: latencyMicroseconds, burst: burstBytes) ?? UInt32.max
    }

    /// The bucket expressed as the time to send it at the rate, in psched ticks (64 ns,
    /// /proc/net/psched), which is what the kernel reports back as `buffer`.
    public var bufferTicks: UInt32 {
        let ns = UInt64(burstBytes) * 1_000_000_000 / max(rateBytesPerSecond, 1)
        return UInt32(clamping: ns / 64)
    }

    static func limit(rate: UInt64, latency: UInt32, burst: UInt32) -> UInt32? {
        let (product, overflow) = rate.multipliedReportingOverflow(by: UInt64(latency))
        guard !overflow else { return nil }
        let total = product / 1_000_000 + UInt64(burst)
        return total <= UInt64(UInt32.max) ? UInt32(total) : nil
    }
}

/// A token bucket as read back from the kernel (RTM_GETQDISC).
public struct TokenBucketReading: Sendable, Equatable {
    public var rateBytesPerSecond: UInt64
    public var limitBytes: UInt32
    public var bufferTicks: UInt32

    /// The kernel's values are 64-bit: the derived figures saturate rather than trap.
    public var rateBitsPerSecond: UInt64 {
        let (v, o) = rateBytesPerSecond.multipliedReportingOverflow(by: 8)
        return o ? UInt64.max : v
    }
    /// The bucket in bytes, recomputed from the buffer time and the rate (128-bit product).
    public var burstBytes: UInt64 {
        let ticksNs = UInt64(bufferTicks) * 64 // < 2^38
        let p = ticksNs.multipliedFullWidth(by: rateBytesPerSecond)
        guard p.high < 1_000_000_000 else { return UInt64.max }
        return UInt64(1_000_000_000).dividingFullWidth((high: p.high, low: p.low)).quotient
    }
}

/// Where a pod's bandwidth limit is applied. A qdisc shapes what *leaves* a link, so each
/// direction is shaped on the veth end that the traffic leaves through.
public enum PodBandwidth {
    public enum Direction: String, Sendable, CaseIterable {
        /// `kubernetes.io/egress-bandwidth`: traffic the pod sends.
        case egress
        /// `kubernetes.io/ingress-bandwidth`: traffic the pod receives.
        case ingress
    }

    /// The veth end whose root qdisc takes the bucket.
    public enum VethEnd: String, Sendable {
        /// `eth0` inside the pod's namespace.
        case pod
        /// The pod's veth end in the node namespace (the bridge port).
        case node
    }

    /// Egress leaves the pod through its own `eth0`, so it is shaped there (inside the pod's
    /// namespace). The CNI plugin instead shapes it on the host side, by redirecting the
    /// host end's ingress to an ifb device, because a Kubernetes pod may hold NET_ADMIN in
    /// its namespace; a bulkhead pod's namespace belongs to the initial user namespace,
    /// where its workloads hold no capability, so they cannot remove the qdisc. Ingress
    /// leaves the node-side end towards the pod, so it is shaped there, as CNI does.
    public static func shapedEnd(for direction: Direction) -> VethEnd {
        switch direction {
        case .egress: .pod
        case .ingress: .node
        }
    }
}
