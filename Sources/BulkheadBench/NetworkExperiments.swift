import Bulkhead
import BulkheadConfig
import BulkheadModel
import Glibc

/// Network bandwidth and network objects (ports, loopback).
enum NetworkExperiments {
    static func bandwidthContainer() -> BenchExperiment {
        BenchExperiment(.networkBandwidth, .container, expect: .cannot,
            claim: "containers of a pod share the link: a flood from a sibling takes the victim's throughput",
            method: "A pod whose link is a \(bottleneck)bit/s token bucket (its egress-bandwidth: the pod's one veth), sending to a sink pod on the node bridge. Victim: one iperf3 stream from one container in interleaved windows, alone and next to a sibling container of the same pod sending eight streams (only in its windows). Receiver-side Mbit/s. (Over loopback the containers' own CPU limits would decide instead: loopback has no capacity but CPU time.) The effect must be a fall to 75% or less. The same run has a third phase for what closes the cell (its mitigation).") { ctx in
            // One pod run of interleaved windows (BenchSchedule): the sibling floods only in the
            // loaded windows.
            // A third phase measures what closes the cell (Mitigations.ownPodsShaped): the same
            // flood from a pod of its own shaped at 4M, sending only in the contained windows,
            // sharing the cell's baseline windows instead of a second run repeating them.
            try withSink(ctx, phases: 3 * ctx.rounds, tenant: nil) { _, ip in
                let sched = BenchScheduled.iperfSchedule(ctx, [.baseline, .loaded, .contained])
                let victim = BenchWorkload(name: "victim", script: withService(sched, ip: ip, BenchScheduled.iperfVictim(sched, prefix: "v", ip: ip, port: 5201)))
                let flood = BenchWorkload(name: "flood", script: BenchScheduled.iperfFlood(sched, .loaded, key: "f", ip: ip, port: 5202, streams: 8))
                let ownFlood = BenchWorkload(name: "ownflood", script: BenchScheduled.iperfFlood(sched, .contained, key: "fo", ip: ip, port: 5203, streams: 8))
                let link = ["kubernetes.io/egress-bandwidth": bottleneck]
                let run = try ctx.runPodSpecs([BenchPodSpec(group: [flood, victim], annotations: link),
                                               BenchPodSpec(group: [ownFlood], annotations: ["kubernetes.io/egress-bandwidth": "4M"])], seconds: sched.deadline, schedule: sched)
                var w = BenchWindows()
                sched.collect(run.values, prefix: "v", as: "victim throughput", unit: "Mbit/s", into: &w)
                let r = w.summary("victim throughput", .loaded, band: 0.75, side: .atMost)
                var o = BenchOutcome(judging: r, by: { q in
                    BenchJudgement(verdict: BenchVerdict.judgeSlowdown(summary: q, what: "throughput next to a flooding sibling on the pod's link"),
                                   keyFigure: "victim \(q?.text ?? "?")", shown: q)
                }, chartMetric: "victim throughput")
                let service = ctx.serviceMeasurements(run.values, sched, prefix: "vl")
                o.measurements = w.measurements.filter { $0.phase != .contained } + [BenchMeasurement("sibling's flood (sender side)", .evidence, run.double("f") ?? .nan, "Mbit/s")]
                    + service.filter { $0.phase != .contained }
                o.evidence += sched.late(run.values, prefix: "v")
                if !run.problems.isEmpty { o.evidence.append(run.problems) }
                ctx.cellMitigation = (Mitigations.ownPodsShapedOutcome(sched, run, w, service), Double(ctx.rounds) * (sched.window + sched.gap))
                return o
            }
        }
    }

    // MARK: Pods on the node bridge

    /// The bottleneck: every byte into the sink pod passes a token bucket of this rate on the
    /// sink's veth (kubernetes.io/ingress-bandwidth), a link all senders share.
    static let bottleneck = "20M"
    static let bottleneckBits = 20e6

    /// A sink pod: five iperf3 servers (5201 for the victim, 5202 to 5205 for floods; an
    /// iperf3 server serves one test at a time) for `seconds` s.
    static func sink(seconds: Double) -> BenchWorkload {
        BenchWorkload(name: "sink", script: "for p in 5201 5202 5203 5204 5205; do iperf3 -s -p $p >/dev/null 2>&1 & done; (\(BenchPrograms.echoServer(port: echoPort, seconds: seconds))) & sleep \(BenchPrograms.fmt(seconds))")
    }

    /// The sink's TCP echo server, for the victim's request–response service.
    static let echoPort = 5210

    /// The victim pod's script: its iperf3 windows and, beside them in the same windows, 64-byte
    /// requests to the sink's echo server over the same link (`vl`: the latency of each window).
    static func withService(_ sched: BenchSchedule, ip: String, _ victim: String) -> String {
        "(" + BenchPrograms.echoClient(sched, prefix: "vl", host: ip, port: echoPort) + ") & " + victim + "; wait"
    }

    /// Starts the sink pod (in tenant `tenant`) and returns it with its address.
    static func startSink(_ ctx: BenchContext, seconds: Double, tenant: Int?) throws -> (BenchContext.StartedPods, String) {
        let started = try ctx.startPods([BenchPodSpec(group: [sink(seconds: seconds)], tenant: tenant,
                                                      annotations: ["kubernetes.io/ingress-bandwidth": bottleneck])],
                                        seconds: seconds + 10)
        guard let ip = ctx.address(ofPod: started.names[0]) else {
            ctx.stopPods(started)
            throw BenchError("the sink pod got no address on the node bridge")
        }
        return (started, ip)
    }

    /// Runs `body` with a sink pod behind the bottleneck (its phase length and address),
    /// stopped afterwards; skipped without iperf3.
    static func withSink(_ ctx: BenchContext, phases: Int, tenant: Int?,
                         _ body: (Double, String) throws -> BenchOutcome) throws -> BenchOutcome {
        guard BenchContext.hasTool("iperf3") else {
            return BenchOutcome(verdict: BenchVerdict(.skipped, "iperf3 is not installed (apt-get install iperf3)"), keyFigure: "needs iperf3")
        }
        let t = max(1.5, ctx.phaseSeconds)
        let (sinkPod, ip) = try startSink(ctx, seconds: Double(phases) * (t + 3) + 6, tenant: tenant)
        defer { ctx.stopPods(sinkPod) }
        return try body(t, ip)
    }

    static func bandwidthPod() -> BenchExperiment {
        BenchExperiment(.networkBandwidth, .pod, expect: .can,
            claim: "pods on one bottleneck link share it without shaping (a flooding neighbour takes the victim's throughput); a per-pod token bucket (kubernetes.io/egress-bandwidth) holds it",
            method: "A sink pod behind a \(bottleneck)bit/s token bucket (its ingress-bandwidth) on the node bridge. Victim: a pod sending one iperf3 stream to it. Aggressor: a pod offering a UDP flood of \(podFloodMbits) Mbit/s (a flood that does not back off). Interleaved windows of one run: the victim alone; next to the flood; next to the same flood from a second pod shaped by egress-bandwidth 4M (each flood sends only in its windows). Receiver-side Mbit/s.") { ctx in
            try withSink(ctx, phases: 3 * ctx.rounds, tenant: nil) { _, ip in
                // One run of interleaved windows: the unshaped flood pod sends only in the loaded
                // windows, the shaped one (egress-bandwidth 4M) only in the contained ones.
                // UDP floods leave nothing to drain after their span but the bucket's 25 ms queue,
                // but the victim's own test needs its setup: with windows 0.5 s apart, at load
                // average 15 to 20 (MatrixTests), only one of three rounds gave a ratio (the
                // others missed a window). 1 s, as for the other network cells; the first window
                // begins once the three pods are ready (a start gate: with a fixed lead of 1 s it
                // began 0.4 to 1.0 s late at load average 10 to 13 in five runs of five, and its
                // round gave no ratio).
                let sched = BenchScheduled.iperfSchedule(ctx, [.baseline, .loaded, .contained])
                let victim = BenchWorkload(name: "victim", script: withService(sched, ip: ip, BenchScheduled.iperfVictim(sched, prefix: "v", ip: ip, port: 5201)))
                let flood = BenchWorkload(name: "flood", script: BenchScheduled.iperfFlood(sched, .loaded, key: "f", ip: ip, port: 5202, streams: 1, udpMbits: podFloodMbits))
                let shapedFlood = BenchWorkload(name: "shaped", script: BenchScheduled.iperfFlood(sched, .contained, key: "fs", ip: ip, port: 5203, streams: 1, udpMbits: podFloodMbits))
                let run = try ctx.runPodSpecs([BenchPodSpec(group: [flood]),
                                               BenchPodSpec(group: [shapedFlood], annotations: ["kubernetes.io/egress-bandwidth": "4M"]),
                                               BenchPodSpec(group: [victim])], seconds: sched.deadline, schedule: sched)
                var w = BenchWindows()
                sched.collect(run.values, prefix: "v", as: "victim throughput", unit: "Mbit/s", into: &w)
                let loaded = w.summary("victim throughput", .loaded, band: 0.75, side: .atMost)
                let shaped = w.summary("victim throughput", .contained, band: 0.6, side: .atLeast)
                let f = run.double("fs")
                // The flood must have taken the victim's throughput, and shaping must give back a
                // clear part of it: the shaped flood's 4 Mbit/s still sit in the bottleneck's
                // FIFO, so the victim gets at most 16 of 20 Mbit/s. A UDP sender counts what it
                // offers, not what its pod's bucket passes: the floods' rates are evidence, not a
                // criterion. The containment is the victim's: the same flood, shaped, gives back
                // a clear part of what it took unshaped.
                let improved = (shaped?.median ?? 0) >= (loaded?.median ?? 1) + 0.1
                let containment = "unshaped, the flood took the victim to \(loaded?.text ?? "?"); shaped at 4M, \(shaped?.text ?? "?") (the shaped flood offered \(f.map { BenchFormat.value($0, "Mbit/s") } ?? "?"), its pod's bucket passes 4)"
                var verdict = BenchVerdict.judgeCan(summary: shaped, contained: loaded?.position == .confirms && improved,
                                                    containment: containment)
                if verdict.kind == .notObserved, loaded?.position == .straddles, improved, shaped?.position != .refutes {
                    verdict = BenchVerdict(.inconclusive, "the unshaped flood's effect straddles its 75% band (\(containment)); shaped: victim at \(shaped?.text ?? "?")")
                }
                var o = BenchOutcome(
                    verdict: verdict,
                    keyFigure: "victim \(loaded?.text ?? "?") → shaped \(shaped?.text ?? "?")",
                    chartMetric: "victim throughput", ratio: shaped)
                o.measurements = w.measurements + [
                    BenchMeasurement("flood offered, unshaped (UDP, sender side)", .evidence, run.double("f") ?? .nan, "Mbit/s"),
                    BenchMeasurement("flood offered, egress-bandwidth 4M (UDP, sender side)", .evidence, f ?? .nan, "Mbit/s"),
                ] + ctx.serviceMeasurements(run.values, sched, prefix: "vl")
                if let loaded { o.evidence.append("unshaped flood: victim at \(loaded.text) of baseline (cannot band ≤ 75%)") }
                o.evidence += sched.late(run.values, prefix: "v")
                if !run.problems.isEmpty { o.evidence.append(run.problems) }
                return o
            }
        }
    }

    /// The pod cell's flood: UDP offered at twice the bottleneck.
    static let podFloodMbits = 40

    static func bandwidthNamespace() -> BenchExperiment {
        BenchExperiment(.networkBandwidth, .namespace, expect: .cannot,
            claim: "only per-tenant shaping would hold a tenant's bandwidth; bulkhead shapes per pod, so a tenant's share grows with its pod count",
            method: "The sink pod behind a \(bottleneck)bit/s bucket, and a victim pod, in tenant A. Tenant B runs two flooding pods, each shaped by egress-bandwidth 4M (two streams each). Interleaved windows of one run: the victim alone, and next to tenant B's floods (sending only in those windows); the tenant's total is the sum of its pods' limits. The same run has a third phase for what closes the cell (its mitigation: two more pods of tenant B at 2M each, sending only in their windows).") { ctx in
            try withSink(ctx, phases: 3 * ctx.rounds, tenant: 0) { _, ip in
                // The victim sends to 5201, the two flooding pods to 5202 and 5203, only in the
                // loaded windows of one run. A third phase measures what closes the cell
                // (Mitigations.tenantBudgetShaped): two more pods of tenant B at 2M each, to 5204
                // and 5205, only in the contained windows, sharing the cell's baseline windows.
                // Five pods start at once next to the sink: the first window begins once they are
                // ready (a start gate: with a fixed lead of 1 s it began 1.5 s late at load average 20).
                let sched = BenchScheduled.iperfSchedule(ctx, [.baseline, .loaded, .contained])
                let victim = BenchWorkload(name: "victim", script: withService(sched, ip: ip, BenchScheduled.iperfVictim(sched, prefix: "v", ip: ip, port: 5201)))
                let floods = (1...2).map { i in
                    BenchPodSpec(group: [BenchWorkload(name: "flood\(i)", script: BenchScheduled.iperfFlood(sched, .loaded, key: "f\(i)", ip: ip, port: i == 1 ? 5202 : 5203, streams: 2))],
                                 tenant: 1, annotations: ["kubernetes.io/egress-bandwidth": "4M"])
                }
                let budgeted = (1...2).map { i in
                    BenchPodSpec(group: [BenchWorkload(name: "flood\(i)", script: BenchScheduled.iperfFlood(sched, .contained, key: "fb\(i)", ip: ip, port: 5203 + i, streams: 2))],
                                 tenant: 1, annotations: ["kubernetes.io/egress-bandwidth": "2M"])
                }
                let run = try ctx.runPodSpecs(floods + budgeted + [BenchPodSpec(group: [victim], tenant: 0)], seconds: sched.deadline, schedule: sched)
                var w = BenchWindows()
                sched.collect(run.values, prefix: "v", as: "victim throughput", unit: "Mbit/s", into: &w)
                let service = ctx.serviceMeasurements(run.values, sched, prefix: "vl")
                ctx.cellMitigation = (Mitigations.tenantBudgetShapedOutcome(sched, run, w, service), Double(ctx.rounds) * (sched.window + sched.gap))
                let tenantTotal = (run.double("f1") ?? 0) + (run.double("f2") ?? 0)
                let r = w.summary("victim throughput", .loaded, band: 0.8, side: .atMost)
                let summary = "tenant B's two pods, each shaped at 4M, sent \(BenchFormat.value(tenantTotal, "Mbit/s")) together (sender side)"
                var o = BenchOutcome(judging: r, by: { q in
                    let verdict = tenantTotal >= 1.5 * 4
                        ? BenchVerdict.judgeSlowdown(summary: q, what: summary)
                        : BenchVerdict(.notObserved, "\(summary): not more than one pod's limit; victim at \(q?.text ?? "?")")
                    return BenchJudgement(verdict: verdict, keyFigure: "tenant B \(BenchFormat.value(tenantTotal, "Mbit/s")) (2 × 4M), victim \(q?.text ?? "?")", shown: q)
                }, chartMetric: "victim throughput")
                o.measurements = w.measurements.filter { $0.phase != .contained } + [
                    BenchMeasurement("tenant B's total (two pods at 4M each, sender side)", .evidence, tenantTotal, "Mbit/s"),
                ] + service.filter { $0.phase != .contained }
                o.evidence += sched.late(run.values, prefix: "v")
                if !run.problems.isEmpty { o.evidence.append(run.problems) }
                return o
            }
        }
    }

    static func policyNamespace() -> BenchExperiment {
        BenchExperiment(.networkObjects, .namespace, expect: .can,
            claim: "network policy between tenants decides which pods reach each other",
            method: "A server pod of tenant A; a client pod of tenant B and one of tenant A connect to it by pod IP, before and after a NetworkPolicy in tenant A that admits only its own namespace (bulkhead policy apply; nftables on the node bridge).") { ctx in
            let t = ctx.phaseSeconds
            let server = BenchWorkload(name: "server", script: """
                python3 -c 'import socket,time
                s=socket.socket(); s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1); s.bind(("0.0.0.0",8080)); s.listen(8); s.settimeout(0.5)
                end=time.monotonic()+\(BenchPrograms.fmt(2 * t + 12))
                while time.monotonic()<end:
                    try:
                        c,_=s.accept(); c.sendall(b"pong"); c.close()
                    except OSError: pass'
                """)
            let started = try ctx.startPods([BenchPodSpec(group: [server], tenant: 0)], seconds: 2 * t + 20)
            defer { ctx.stopPods(started) }
            guard let ip = ctx.address(ofPod: started.names[0]) else { throw BenchError("the server pod got no address") }
            func connect(_ key: String) -> BenchWorkload {
                BenchWorkload(name: key, script: """
                    python3 -c 'import socket,errno
                    for i in range(20):
                        c=socket.socket(); c.settimeout(1.5)
                        try:
                            c.connect(("\(ip)",8080)); r=c.recv(4).decode() or "empty"; break
                        except socket.timeout: r="timeout"; break
                        except OSError as e:
                            r=errno.errorcode[e.errno]
                            import time; time.sleep(0.1)
                    print("BH \(key)=%s" % r, flush=True)'
                    """)
            }
            let clients = { try ctx.runPodSpecs([BenchPodSpec(group: [connect("other")], tenant: 1), BenchPodSpec(group: [connect("own")], tenant: 0)]) }
            let before = try clients()
            let name = "bench-\(getpid())-own-namespace"
            let policy = try NetworkPolicyParser.parse("""
                apiVersion: networking.k8s.io/v1
                kind: NetworkPolicy
                metadata: {name: \(name), namespace: bench-t0}
                spec:
                  podSelector: {}
                  ingress:
                  - from: [{namespaceSelector: {matchLabels: {kubernetes.io/metadata.name: bench-t0}}}]
                """, file: "<bench>")
            try NodeNetwork.apply(policies: [policy])
            defer { _ = try? NodeNetwork.delete(policies: [("bench-t0", name)]) }
            let after = try clients()
            let summary = "without policy: tenant B's pod \(before.values["other"] ?? "?"), tenant A's \(before.values["own"] ?? "?"); with tenant A's policy: B's \(after.values["other"] ?? "?"), A's \(after.values["own"] ?? "?")"
            let ok = before.values["other"] == "pong" && before.values["own"] == "pong" && after.values["other"] == "timeout" && after.values["own"] == "pong"
            return BenchOutcome(verdict: BenchVerdict.judgeObserved(ok, .can, summary),
                                keyFigure: "other tenant: \(before.values["other"] ?? "?") → \(after.values["other"] ?? "?")",
                                evidence: [summary])
        }
    }

    static func ports(_ layer: BenchLayer) -> BenchExperiment {
        let shared = layer == .container
        return BenchExperiment(.networkObjects, layer, expect: shared ? .cannot : .can,
            claim: shared ? "containers of a pod share loopback and the port space: a sibling's bind gets EADDRINUSE, and it connects to the other's server"
                          : "a pod has its own network namespace: its loopback and ports are its own",
            method: "Server: binds 127.0.0.1:18081 and answers \"pong\"; peer across the \(layer.rawValue) boundary then binds the same port and connects to it.") { ctx in
            // The peer tries once the server listens, and the server answers until the peer has
            // reported (gates, not a fixed 1 s before the peer and 2.5 s + 0.5 s of serving).
            let listening = ctx.gate(after: "s_listen", "ports-listening"), tried = ctx.gate(after: "p_connect", "ports-tried")
            let server = BenchWorkload(name: "server", script: """
                python3 -c 'import socket,time,os
                s=socket.socket(); s.bind(("127.0.0.1",18081)); s.listen(4); s.settimeout(0.02); print("BH s_listen=ok", flush=True)
                end=time.monotonic()+\(BenchPrograms.fmt(BenchGate.wait))
                while not os.path.exists("\(tried.path)") and time.monotonic()<end:
                    try:
                        c,_=s.accept(); c.sendall(b"pong"); c.close()
                    except OSError: pass'
                """)
            let peer = BenchWorkload(name: "peer", script: """
                python3 -c 'import socket,errno,time,os
                \(BenchGate.python(listening.path))
                t=socket.socket()
                try:
                    t.bind(("127.0.0.1",18081)); b="ok"
                except OSError as e: b=errno.errorcode[e.errno]
                t.close(); c=socket.socket(); c.settimeout(1)
                try:
                    c.connect(("127.0.0.1",18081)); r=c.recv(10).decode() or "empty"
                except OSError as e: r=errno.errorcode[e.errno]
                print("BH p_bind=%s p_connect=%s" % (b, r), flush=True)'
                """)
            let run = try ctx.runPods(BenchPlacement(layer), [server, peer], gates: [listening, tried])
            let v = run.values
            let summary = "server listening: \(v["s_listen"] ?? "no"); peer's bind: \(v["p_bind"] ?? "?"), connect: \(v["p_connect"] ?? "?")"
            let verdict = shared
                ? BenchVerdict.judgeObserved(v["s_listen"] == "ok" && v["p_bind"] == "EADDRINUSE" && v["p_connect"] == "pong", .cannot, summary)
                : BenchVerdict.judgeObserved(v["s_listen"] == "ok" && v["p_bind"] == "ok" && v["p_connect"] == "ECONNREFUSED", .can, summary)
            return BenchOutcome(verdict: verdict, keyFigure: "bind \(v["p_bind"] ?? "?"), connect \(v["p_connect"] ?? "?")")
        }
    }
}
