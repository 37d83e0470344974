import BulkheadModel

/// Network bandwidth and network objects (ports, loopback).
enum NetworkExperiments {
    /// After `delay` s, `streams` TCP streams over the pod's loopback for `seconds` s, each
    /// with its own sink: `BH KEY=MB/s` (the sum).
    static func tcpStream(_ key: String, streams: Int, seconds: Double, delay: Double) -> String {
        let f = BenchPrograms.fmt
        return """
            python3 -c 'import socket,os,time
            def one(w):
                s=socket.socket(); s.bind(("127.0.0.1",0)); s.listen(1); port=s.getsockname()[1]
                if os.fork()==0:
                    c,_=s.accept()
                    while c.recv(1<<20): pass
                    os._exit(0)
                time.sleep(\(f(delay))); c=socket.create_connection(("127.0.0.1",port)); buf=b"x"*(1<<16); n=0
                end=time.monotonic()+\(f(seconds))
                while time.monotonic()<end: c.sendall(buf); n+=len(buf)
                c.close(); os.write(w, b"%d\\n" % n); os._exit(0)
            r,w=os.pipe(); kids=[]
            for i in range(\(streams)):
                p=os.fork()
                if p==0: one(w)
                kids.append(p)
            os.close(w); total=sum(int(x) for x in os.fdopen(r).read().split())
            print("BH \(key)=%.1f" % (total/\(f(seconds))/1e6), flush=True)'
            """
    }

    static func bandwidthContainer() -> BenchExperiment {
        BenchExperiment(.networkBandwidth, .container, expect: .cannot,
            claim: "containers of a pod share the link: a flood from a sibling takes the victim's throughput",
            method: "Victim: one TCP stream over the pod's shared loopback (MB/s); aggressor: a sibling container with three streams over the same loopback. Loopback's capacity is CPU time of the pod's network stack, so the flood takes it as on a shared veth. The effect must be a fall to 80% or less.") { ctx in
            let s = ctx.phaseSeconds
            let victim = BenchWorkload(name: "victim", script: tcpStream("v_mbps", streams: 1, seconds: s, delay: 0.5))
            let flood = BenchWorkload(name: "flood", script: tcpStream("a_mbps", streams: 3, seconds: s + 1, delay: 0.1))
            var o = try ctx.measureSlowdown(.samePod, victim: victim, aggressor: flood, key: "v_mbps", metric: "victim throughput",
                                            unit: "MB/s", atMost: 0.8, what: "throughput next to a flooding sibling")
            o.evidence.insert("flood over the same loopback: 3 streams from a sibling container", at: 0)
            return o
        }
    }

    /// Whether pods get an address on bulkhead's node bridge (the lead's node network):
    /// a container sees BULKHEAD_POD_IP. Returns the address, or nil.
    static func nodeNetworkAddress(_ ctx: BenchContext) throws -> String? {
        let probe = try ctx.runPods(.ownPods, [BenchWorkload(name: "probe", script: "echo \"BH ip=${BULKHEAD_POD_IP:-none}\"")])
        let ip = probe.values["ip"]
        return ip == nil || ip == "none" ? nil : ip
    }

    /// Cells that need pods on a shared node bridge: blocked until the node network exists.
    static func needsNodeNetwork(_ resource: BenchResource, _ layer: BenchLayer, expect: BenchVerdictKind, claim: String, method: String) -> BenchExperiment {
        BenchExperiment(resource, layer, expect: expect, claim: claim, method: method) { ctx in
            if let ip = try nodeNetworkAddress(ctx) {
                return BenchOutcome(verdict: BenchVerdict(.blocked, "the node network is present (a pod got \(ip)), but this experiment is not written yet: it needs the sink pod's address from `bulkhead pod ls --json`"),
                                    keyFigure: "blocked")
            }
            return BenchOutcome(verdict: BenchVerdict(.blocked, "needs node network: pods get no address on a node bridge in this build (no BULKHEAD_POD_IP)"),
                                keyFigure: "needs node network")
        }
    }

    static func ports(_ layer: BenchLayer) -> BenchExperiment {
        let shared = layer == .container
        return BenchExperiment(.networkObjects, layer, expect: shared ? .cannot : .can,
            claim: shared ? "containers of a pod share loopback and the port space: a sibling's bind gets EADDRINUSE, and it connects to the other's server"
                          : "a pod has its own network namespace: its loopback and ports are its own",
            method: "Server: binds 127.0.0.1:18081 and answers \"pong\"; peer across the \(layer.rawValue) boundary then binds the same port and connects to it.") { ctx in
            let server = BenchWorkload(name: "server", script: """
                python3 -c 'import socket,time
                s=socket.socket(); s.bind(("127.0.0.1",18081)); s.listen(4); s.settimeout(2.5); print("BH s_listen=ok", flush=True)
                try:
                    c,_=s.accept(); c.sendall(b"pong"); c.close()
                except OSError: pass
                time.sleep(0.5)'
                """)
            let peer = BenchWorkload(name: "peer", script: """
                python3 -c 'import socket,errno,time
                time.sleep(1.0); t=socket.socket()
                try:
                    t.bind(("127.0.0.1",18081)); b="ok"
                except OSError as e: b=errno.errorcode[e.errno]
                t.close(); c=socket.socket(); c.settimeout(1)
                try:
                    c.connect(("127.0.0.1",18081)); r=c.recv(10).decode() or "empty"
                except OSError as e: r=errno.errorcode[e.errno]
                print("BH p_bind=%s p_connect=%s" % (b, r), flush=True)'
                """)
            let run = try ctx.runPods(BenchPlacement(layer), [server, peer])
            let v = run.values
            let summary = "server listening: \(v["s_listen"] ?? "no"); peer's bind: \(v["p_bind"] ?? "?"), connect: \(v["p_connect"] ?? "?")"
            let verdict = shared
                ? BenchVerdict.judgeObserved(v["s_listen"] == "ok" && v["p_bind"] == "EADDRINUSE" && v["p_connect"] == "pong", .cannot, summary)
                : BenchVerdict.judgeObserved(v["s_listen"] == "ok" && v["p_bind"] == "ok" && v["p_connect"] == "ECONNREFUSED", .can, summary)
            return BenchOutcome(verdict: verdict, keyFigure: "bind \(v["p_bind"] ?? "?"), connect \(v["p_connect"] ?? "?")")
        }
    }
}
