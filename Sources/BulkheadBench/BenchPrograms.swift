/// The victims and aggressors, as shell scripts over python3 and busybox tools of the host
/// (containers run on the host's root, read-only). Every program is bounded in time and
/// size; each reports its figures as one `BH KEY=VALUE…` line on standard output.
enum BenchPrograms {
    static func fmt(_ x: Double) -> String { String((x * 1000).rounded() / 1000) }

    /// After `delay` s, counts CPU work units for `seconds` s: `BH KEY=units per second`.
    static func cpuRate(_ key: String, seconds: Double, delay: Double) -> String {
        """
        python3 -c 'import time
        time.sleep(\(fmt(delay))); n=0; end=time.monotonic()+\(fmt(seconds))
        while time.monotonic()<end:
            for _ in range(2000): pass
            n+=1
        print("BH \(key)=%.1f" % (n/\(fmt(seconds))), flush=True)'
        """
    }

    /// `procs` busy loops for `seconds` s.
    static func cpuHog(procs: Int, seconds: Double) -> String {
        """
        i=0; while [ $i -lt \(procs) ]; do python3 -c 'import time
        end=time.monotonic()+\(fmt(seconds))
        while time.monotonic()<end: pass' & i=$((i+1)); done; wait
        """
    }

    /// After `delay` s, sweeps a 16 MiB buffer (one write per 64-byte line) for `seconds` s:
    /// `BH KEY=MB swept per second`. Memory-bound once the buffer exceeds the caches.
    /// With `perCPUSecond`, the rate is per second of the sweeper's own CPU time.
    /// With `cpu`, the sweeper runs on that CPU only.
    static func memorySweep(_ key: String, seconds: Double, delay: Double, mebibytes: Int = 16, perCPUSecond: Bool = false, cpu: Int? = nil) -> String {
        """
        python3 -c 'import time,os
        \(cpu.map { "os.sched_setaffinity(0, {\($0)})" } ?? "pass")
        b=bytearray(\(mebibytes)<<20); time.sleep(\(fmt(delay))); n=0; end=time.monotonic()+\(fmt(seconds)); c0=time.process_time()
        while time.monotonic()<end:
            b[0::64]=bytes(len(b)//64); n+=1
        spent=\(perCPUSecond ? "max(1e-3, time.process_time()-c0)" : fmt(seconds))
        print("BH \(key)=%.1f" % (n*\(mebibytes)/spent), flush=True)'
        """
    }

    /// Allocates 8 MiB at a time (touched), up to `maxMiB`, within `seconds` s; prints what it held.
    static func memoryBomb(maxMiB: Int, seconds: Double) -> String {
        """
        python3 -c 'import time
        x=[]; end=time.monotonic()+\(fmt(seconds))
        while time.monotonic()<end and len(x)*8<\(maxMiB):
            x.append(bytearray(8<<20)); print("BH bomb_mib=%d" % (len(x)*8), flush=True)
        time.sleep(max(0, end-time.monotonic()))'
        """
    }

    /// Forks children that sleep `hold` s, until a fork fails or `max` forks:
    /// `BH bomb_forks=N bomb_errno=NAME`.
    static func forkBomb(max: Int, hold: Double) -> String {
        """
        python3 -c 'import os,errno,time
        n=0; err="none"
        while n<\(max):
            try:
                if os.fork()==0:
                    time.sleep(\(fmt(hold))); os._exit(0)
                n+=1
            except OSError as e:
                err=errno.errorcode[e.errno]; break
        print("BH bomb_forks=%d bomb_errno=%s" % (n, err), flush=True)
        time.sleep(\(fmt(hold)))'
        """
    }

    /// `forkBomb` whose children and parent hold until `gate` opens (at most `hold` s), then end:
    /// the bomb is held exactly as long as the neighbour needs, not a fixed time.
    static func forkBomb(max: Int, hold: Double, until gate: String) -> String {
        """
        python3 -c 'import os,errno,time
        n=0; err="none"; t=time.monotonic()
        def held():
            while not os.path.exists("\(gate)") and time.monotonic()<t+\(fmt(hold)): time.sleep(0.05)
        while n<\(max):
            try:
                if os.fork()==0:
                    held(); os._exit(0)
                n+=1
            except OSError as e:
                err=errno.errorcode[e.errno]; break
        print("BH bomb_forks=%d bomb_errno=%s" % (n, err), flush=True)
        held()'
        """
    }

    /// After `gate` opens (at most `BenchGate.wait` s), forks 20 short children: `BH KEY_ok=N KEY_errno=NAME`.
    static func forkProbe(_ key: String, after gate: String) -> String {
        """
        python3 -c 'import os,errno,time
        \(BenchGate.python(gate))
        ok=0; err="none"
        for i in range(20):
            try:
                pid=os.fork()
                if pid==0: os._exit(0)
                os.waitpid(pid,0); ok+=1
            except OSError as e: err=errno.errorcode[e.errno]
        print("BH \(key)_ok=%d \(key)_errno=%s" % (ok, err), flush=True)'
        """
    }

    /// fs.file-nr's allocated count at `at` seconds after start, and again at `again` s:
    /// `BH KEY0=N KEY1=N`.
    static func fileNr(_ key: String, at: Double, again: Double) -> String {
        """
        python3 -c 'import time
        t=time.monotonic(); time.sleep(\(fmt(at))); a=open("/proc/sys/fs/file-nr").read().split()[0]
        time.sleep(max(0, t+\(fmt(again))-time.monotonic())); b=open("/proc/sys/fs/file-nr").read().split()[0]
        print("BH \(key)0=%s \(key)1=%s" % (a, b), flush=True)'
        """
    }

    /// fs.file-nr's allocated count at once (`BH KEY0=N`), then again once `gate` opens (at most
    /// `BenchGate.wait` s): `BH KEY1=N`.
    static func fileNr(_ key: String, thenAfter gate: String) -> String {
        """
        python3 -c 'import time,os
        print("BH \(key)0=%s" % open("/proc/sys/fs/file-nr").read().split()[0], flush=True)
        \(BenchGate.python(gate))
        print("BH \(key)1=%s" % open("/proc/sys/fs/file-nr").read().split()[0], flush=True)'
        """
    }

    /// Once gate `start` opens (the victim's first reading), `procs` processes each open up to
    /// `each` descriptors (within their own RLIMIT_NOFILE, raised to its hard limit) and hold them
    /// until gate `release` opens (the victim's second reading; each gate at most
    /// `BenchGate.wait` s); the first then goes on past its rlimit. `BH hog_opened=TOTAL` as soon
    /// as all hold theirs.
    static func fdHog(procs: Int, each: Int, after start: String, until release: String) -> String {
        """
        python3 -c 'import os,time,errno,resource
        \(BenchGate.python(start))
        soft,hard=resource.getrlimit(resource.RLIMIT_NOFILE)
        try:
            resource.setrlimit(resource.RLIMIT_NOFILE,(hard,hard)); soft=hard
        except (ValueError, OSError): pass
        each=min(\(each), soft-64); r,w=os.pipe(); pids=[]
        for i in range(\(procs)):
            p=os.fork()
            if p==0:
                fds=[]
                try:
                    while len(fds)<each: fds.append(os.open("/dev/null",os.O_RDONLY))
                except OSError: pass
                os.write(w, b"%d\\n" % len(fds))
                if i==0:
                    extra=[]
                    try:
                        while True: extra.append(os.open("/dev/null",os.O_RDONLY))
                    except OSError as e: print("BH hog_errno=%s hog_rlimit=%d" % (errno.errorcode[e.errno], soft), flush=True)
                    for f in extra: os.close(f)
                \(BenchGate.python(release).replacingOccurrences(of: "\n", with: "\n        "))
                os._exit(0)
            pids.append(p)
        os.close(w); f=os.fdopen(r); total=sum(int(f.readline()) for _ in pids)
        print("BH hog_opened=%d" % total, flush=True)
        for p in pids: os.waitpid(p,0)'
        """
    }

    /// Python: `pct(sorted, q)`, the exact nearest-rank percentile of recorded samples (the
    /// smallest sample with at least q% of them at or below it; nan for none).
    static let percentiles = #"pct=lambda l,q: l[max(0,min(len(l)-1,(q*len(l)+99)//100-1))] if l else float("nan")"#

    /// What a request costs the request–response victim's server.
    enum RequestWork {
        /// 2000 iterations of a Python loop (some tens of µs of CPU).
        case cpu
        /// Writes one byte per 64-byte line of the next 64 KiB of a 16 MiB buffer (1024 cache
        /// lines, beyond the caches over a sweep of the buffer).
        case memory

        var setup: String {
            switch self {
            case .cpu: "pass"
            case .memory: "buf=bytearray(16<<20); z=bytes(1024); off=0"
            }
        }
        var body: String {
            switch self {
            case .cpu: "for _ in range(2000): pass"
            case .memory: "off=(off+65536)%(16<<20); buf[off:off+65536:64]=z"
            }
        }
    }

    /// The request–response victim on a schedule: a server process and a client over a unix
    /// SOCK_SEQPACKET pair. In each window of `schedule` the client sends a 64-byte request
    /// every `interval` s (paced, as a service's callers are, not back to back) and waits for
    /// the server's answer after `work`. A request's latency runs from the time it was due,
    /// not the time it was sent, so a client held up by the aggressor counts the wait (no
    /// coordinated omission). At most 50000 requests per window. Per window KEY
    /// (`PREFIX_rN_PHASE`): `BH KEY_p50=ms KEY_p99=ms KEY_n=N KEY_t0=s KEY_t1=s` (exact
    /// nearest-rank percentiles of every sample; the window in CLOCK_MONOTONIC, the clock of
    /// the bench's PSI samples). The client's exit ends the server (end of file).
    static func requestLatency(_ schedule: BenchSchedule, prefix: String, work: RequestWork, interval: Double = 0.005) -> String {
        BenchScheduled.victim(schedule, prefix: prefix, setup: """
            import socket
            \(percentiles)
            a,b=socket.socketpair(socket.AF_UNIX,socket.SOCK_SEQPACKET)
            if os.fork()==0:
                a.close(); \(work.setup)
                while True:
                    m=b.recv(64)
                    if not m: os._exit(0)
                    \(work.body)
                    b.send(m)
            b.close()
            """, body: """
            lat=[]; t0=time.monotonic(); end=t0+W; due=t0
            while due<end and len(lat)<50000:
                now=time.monotonic()
                if due>now: time.sleep(due-now)
                a.send(b"r"*64); a.recv(64); lat.append((time.monotonic()-due)*1000); due+=\(fmt(interval))
            t1=time.monotonic(); lat.sort()
            print("BH %s_p50=%.3f %s_p99=%.3f %s_n=%d %s_t0=%.3f %s_t1=%.3f" % (key,pct(lat,50),key,pct(lat,99),key,len(lat),key,t0,key,t1), flush=True)
            """)
    }

    /// The victim container's script: the request–response service (`vl`) in the background
    /// beside `victim` (the throughput windows of the same schedule), and both waited for.
    static func withService(_ schedule: BenchSchedule, _ work: RequestWork, _ victim: String) -> String {
        "(" + requestLatency(schedule, prefix: "vl", work: work) + ") & " + victim + "; wait"
    }

    /// A TCP echo server on `port` for `seconds` s: answers every 64-byte request of every
    /// connection (a thread each), for the network cells' request–response victim.
    static func echoServer(port: Int, seconds: Double) -> String {
        """
        python3 -c 'import socket,threading,time
        def serve(c):
            c.setsockopt(socket.IPPROTO_TCP,socket.TCP_NODELAY,1)
            try:
                while True:
                    m=b""
                    while len(m)<64:
                        d=c.recv(64-len(m))
                        if not d: return
                        m+=d
                    c.sendall(m)
            except OSError: pass
            finally: c.close()
        s=socket.socket(); s.setsockopt(socket.SOL_SOCKET,socket.SO_REUSEADDR,1); s.bind(("0.0.0.0",\(port))); s.listen(16); s.settimeout(0.5)
        end=time.monotonic()+\(fmt(seconds))
        while time.monotonic()<end:
            try: c,_=s.accept()
            except OSError: continue
            threading.Thread(target=serve,args=(c,),daemon=True).start()'
        """
    }

    /// The network request–response victim's client on a schedule: one TCP connection to
    /// `host:port` (the sink's echo server, tried for up to 3 s before the first window), and
    /// in each window a 64-byte request every `interval` s, latency from the time it was due:
    /// per window KEY (`PREFIX_rN_PHASE`) `BH KEY_p50=ms KEY_p99=ms KEY_n=N KEY_t0=s KEY_t1=s`.
    /// A broken connection ends the windows it leaves unmeasured (no figure, never a guess).
    static func echoClient(_ schedule: BenchSchedule, prefix: String, host: String, port: Int, interval: Double = 0.005) -> String {
        BenchScheduled.victim(schedule, prefix: prefix, setup: """
            import socket
            \(percentiles)
            c=None; stop=time.monotonic()+3
            while c is None and time.monotonic()<stop:
                try: c=socket.create_connection(("\(host)",\(port)),timeout=2)
                except OSError: time.sleep(0.1)
            if c is None: raise SystemExit(0)
            c.setsockopt(socket.IPPROTO_TCP,socket.TCP_NODELAY,1); c.settimeout(3)
            def ask():
                c.sendall(b"r"*64); m=b""
                while len(m)<64:
                    d=c.recv(64-len(m))
                    if not d: raise OSError("closed")
                    m+=d
            """, body: """
            lat=[]; t0=time.monotonic(); end=t0+W; due=t0
            try:
                while due<end and len(lat)<50000:
                    now=time.monotonic()
                    if due>now: time.sleep(due-now)
                    ask(); lat.append((time.monotonic()-due)*1000); due+=\(fmt(interval))
            except OSError: break
            t1=time.monotonic(); lat.sort()
            print("BH %s_p50=%.3f %s_p99=%.3f %s_n=%d %s_t0=%.3f %s_t1=%.3f" % (key,pct(lat,50),key,pct(lat,99),key,len(lat),key,t0,key,t1), flush=True)
            """)
    }

    /// Fills the file `dir/name` with 1 MiB writes until an error or `maxMiB`: `BH KEY_mib=N KEY_errno=NAME`.
    static func fill(_ key: String, dir: String, name: String = "fill", maxMiB: Int) -> String {
        """
        python3 -c 'import os,errno
        n=0; err="none"
        try:
            with open("\(dir)/\(name)","wb") as f:
                while n<\(maxMiB):
                    f.write(b"x"*(1<<20)); f.flush(); n+=1
        except OSError as e: err=errno.errorcode[e.errno]
        print("BH \(key)_mib=%d \(key)_errno=%s" % (n, err), flush=True)'
        """
    }
}
