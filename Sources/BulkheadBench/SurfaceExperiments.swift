import BulkheadConfig
import BulkheadModel

/// Kernel surfaces a namespace or a control hides or not: IPC, identity, privileged
/// system calls, process visibility, /proc and /sys. Facts, not rates: errnos and
/// files compared across the boundary.
enum SurfaceExperiments {
    static func ipc(_ layer: BenchLayer) -> BenchExperiment {
        let shared = layer == .container
        return BenchExperiment(.ipc, layer, expect: shared ? .cannot : .can,
            claim: shared ? "containers of a pod share the IPC namespace: a sibling sees a SysV shared-memory segment"
                          : "a pod has its own IPC namespace: another pod sees none of its segments",
            method: "Owner: creates a SysV shared-memory segment (ipcmk) and holds it; peer across the \(layer.rawValue) boundary counts the segments in /proc/sysvipc/shm.") { ctx in
            // The peer counts once the owner holds its segment, and the owner holds it until the
            // peer has counted (gates, not fixed sleeps of 1 s and 1.6 s).
            let held = ctx.gate(after: "o_shm", "ipc-held"), counted = ctx.gate(after: "p_shm", "ipc-counted")
            let owner = BenchWorkload(name: "owner", script: "id=$(ipcmk -M 4096 | awk '{print $NF}'); echo \"BH o_shm=$id\"; \(BenchGate.shell(counted.path)); ipcrm -m $id")
            let peer = BenchWorkload(name: "peer", script: "\(BenchGate.shell(held.path)); echo \"BH p_shm=$(tail -n +2 /proc/sysvipc/shm | wc -l)\"")
            let v = try ctx.runPods(BenchPlacement(layer), [owner, peer], gates: [held, counted]).values
            let created = !(v["o_shm"] ?? "").isEmpty
            let summary = "owner created segment \(v["o_shm"] ?? "none"); the peer sees \(v["p_shm"] ?? "?") segment(s)"
            let verdict = shared ? BenchVerdict.judgeObserved(created && (Int(v["p_shm"] ?? "") ?? 0) >= 1, .cannot, summary)
                                 : BenchVerdict.judgeObserved(created && v["p_shm"] == "0", .can, summary)
            return BenchOutcome(verdict: verdict, keyFigure: "peer sees \(v["p_shm"] ?? "?") segment(s)")
        }
    }

    static func identity(_ layer: BenchLayer) -> BenchExperiment {
        let shared = layer == .container
        let claim: String
        switch layer {
        case .container: claim = "every container of a pod reads the pod's identity token (the service account is shared)"
        case .pod: claim = "a pod's token is its own: another pod reads a different one"
        default: claim = "tenants hold their own identities: different tokens, and distinct host uid ranges"
        }
        return BenchExperiment(.identity, layer, expect: shared ? .cannot : .can, claim: claim,
            method: "Both sides print a hash of /run/secrets/kubernetes.io/serviceaccount/token and the host range of their uid map.") { ctx in
            func reader(_ k: String) -> BenchWorkload {
                BenchWorkload(name: k == "a" ? "first" : "second", script: """
                    echo "BH \(k)_token=$(sha256sum < /run/secrets/kubernetes.io/serviceaccount/token | cut -c1-16) \(k)_hostuid=$(awk 'NR==1{print $2}' /proc/self/uid_map)"
                    """)
            }
            let v = try ctx.runPods(BenchPlacement(layer), [reader("a"), reader("b")]).values
            let a = v["a_token"] ?? "", b = v["b_token"] ?? ""
            let present = a.count == 16 && b.count == 16
            let summary = "tokens \(a.isEmpty ? "?" : a) and \(b.isEmpty ? "?" : b); host uids \(v["a_hostuid"] ?? "?") and \(v["b_hostuid"] ?? "?")"
            let verdict: BenchVerdict
            switch layer {
            case .container: verdict = BenchVerdict.judgeObserved(present && a == b, .cannot, summary)
            case .pod: verdict = BenchVerdict.judgeObserved(present && a != b, .can, summary)
            default: verdict = BenchVerdict.judgeObserved(present && a != b && v["a_hostuid"] != v["b_hostuid"], .can, summary)
            }
            return BenchOutcome(verdict: verdict, keyFigure: present ? (a == b ? "same token" : "different tokens") : "no token")
        }
    }

    /// x86_64 numbers; each call's arguments are chosen so that a call that is *not* denied
    /// fails harmlessly (bad pointer, bad fd, bad magic) rather than acting.
    static let syscallProbe = """
        python3 -c 'import ctypes,errno,platform
        libc=ctypes.CDLL(None,use_errno=True)
        calls={"mount":(165,b"none",b"/nonexistent-bh",b"tmpfs",0,0),"unshare":(272,0x00020000),"setns":(308,-1,0),"bpf":(321,5,0,0),
         "perf_event_open":(298,0,0,-1,-1,0),"kexec_load":(246,0,0,0,0),"init_module":(175,0,0,b""),"reboot":(169,0,0,0,0),
         "keyctl":(250,0,-3,0),"userfaultfd":(323,0),"io_uring_setup":(425,1,0),"open_by_handle_at":(304,-1,0,0)}
        denied=[]; allowed=[]
        for name,args in calls.items():
            r=libc.syscall(*args); e=ctypes.get_errno()
            if r<0 and e in (errno.EPERM,errno.ENOSYS,errno.EACCES): denied.append(name)
            else: allowed.append("%s:%s" % (name, errno.errorcode.get(e,"?") if r<0 else "ok"))
        print("BH arch=%s denied=%d allowed=%s" % (platform.machine(), len(denied), ",".join(allowed) or "none"), flush=True)'
        """

    static func privilegedSyscalls(_ layer: BenchLayer) -> BenchExperiment {
        BenchExperiment(.privilegedSyscalls, layer, expect: .can,
            claim: "capabilities dropped and the seccomp filter deny the privileged system calls to every workload, whatever its layer",
            method: "A workload in a pod (\(layer.rawValue) column: the same controls apply) calls mount, unshare, setns, bpf, perf_event_open, kexec_load, init_module, reboot, keyctl, userfaultfd, io_uring_setup and open_by_handle_at with harmless arguments; each must fail with EPERM, EACCES or ENOSYS. The full list with TIOCSTI and clock_settime: docs/security-probes.md.") { ctx in
            let v = try ctx.runPods(BenchPlacement(layer), [BenchWorkload(name: "probe", script: syscallProbe)]).values
            guard let arch = v["arch"] else {
                return BenchOutcome(verdict: BenchVerdict(.notObserved, "the probe reported nothing"), keyFigure: "no result")
            }
            guard arch == "x86_64" else {
                return BenchOutcome(verdict: BenchVerdict(.skipped, "the probe's system call numbers are x86_64's; this is \(arch)"), keyFigure: "skipped")
            }
            let denied = Int(v["denied"] ?? "") ?? 0
            var o = BenchOutcome(verdict: BenchVerdict.judgeObserved(denied == 12, .can, "\(denied) of 12 denied; not denied: \(v["allowed"] ?? "?")"),
                                 keyFigure: "\(denied)/12 denied")
            o.measurements = [BenchMeasurement("privileged calls denied", .contained, Double(denied), "of 12")]
            return o
        }
    }

    static func processes(_ layer: BenchLayer) -> BenchExperiment {
        BenchExperiment(.processVisibility, layer, expect: .can,
            claim: "every container has its own PID namespace: a neighbour's processes are invisible and cannot be signalled",
            method: "Owner: runs `sleep 8.414` and checks it sees it in /proc (the control); peer across the \(layer.rawValue) boundary then looks for it in /proc and counts the processes it sees; the owner ends its sleep once the peer has looked.") { ctx in
            let find = "for p in /proc/[0-9]*; do tr '\\0' ' ' < $p/cmdline 2>/dev/null; echo; done | grep -c '^sleep 8.414'"
            // The owner looks until it sees its sleep (at most 1 s), the peer looks once the owner
            // has, and the owner ends its sleep once the peer has looked (gates, not fixed sleeps
            // of 0.3 s, 0.6 s and 1.414 s).
            let seen = ctx.gate(after: "o_sees", "processes-seen"), looked = ctx.gate(after: "p_sees", "processes-looked")
            let owner = BenchWorkload(name: "owner", script: """
                sleep 8.414 & s=$!; i=0; while [ "$(\(find))" -lt 1 ] && [ $i -lt 50 ]; do sleep 0.02; i=$((i+1)); done
                echo "BH o_sees=$(\(find))"; \(BenchGate.shell(looked.path)); kill $s; wait $s; exit 0
                """)
            let peer = BenchWorkload(name: "peer", script: "\(BenchGate.shell(seen.path)); echo \"BH p_sees=$(\(find)) p_procs=$(ls -d /proc/[0-9]* | wc -l)\"")
            let v = try ctx.runPods(BenchPlacement(layer), [owner, peer], gates: [seen, looked]).values
            let ok = v["o_sees"] == "1" && v["p_sees"] == "0"
            return BenchOutcome(verdict: BenchVerdict.judgeObserved(ok, .can, "the owner sees its sleep \(v["o_sees"] ?? "?") time(s); the peer \(v["p_sees"] ?? "?") time(s), among \(v["p_procs"] ?? "?") processes it can see"),
                                keyFigure: "peer sees \(v["p_procs"] ?? "?") processes")
        }
    }

    static func procSys() -> BenchExperiment {
        BenchExperiment(.procSys, .container, expect: .can,
            claim: "masked and read-only paths hide the host's sensitive /proc and /sys files (can); /proc/meminfo still shows the host's memory, not the container's limit (cannot)",
            method: "A container with limits.memory 64Mi reads /proc/kcore and /proc/keys, writes to /sys/kernel/mm, and reads MemTotal from /proc/meminfo.") { ctx in
            let script = """
                k=$(wc -c < /proc/kcore 2>/dev/null || echo denied); keys=$(wc -c < /proc/keys 2>/dev/null || echo denied)
                if echo x > /sys/kernel/mm/bh-probe 2>/dev/null; then sys=writable; else sys=denied; fi
                echo "BH kcore=$k keys=$keys sys=$sys memtotal_kib=$(awk '/MemTotal/{print $2}' /proc/meminfo)"
                """
            let v = try ctx.runPods(.samePod, [BenchWorkload(name: "probe", script: script, limits: ["memory": "64Mi"])]).values
            let masked = (v["kcore"] == "0" || v["kcore"] == "denied") && (v["keys"] == "0" || v["keys"] == "denied") && v["sys"] == "denied"
            let mem = (Double(v["memtotal_kib"] ?? "") ?? 0) / 1_048_576
            let hostView = mem > 0.0625 * 2
            var o = BenchOutcome(verdict: BenchVerdict.judgeObserved(masked, .can, "/proc/kcore: \(v["kcore"] ?? "?") bytes, /proc/keys: \(v["keys"] ?? "?"), /sys write: \(v["sys"] ?? "?"); /proc/meminfo shows \(BenchFormat.value(mem, "GiB")) under a 64 MiB limit\(hostView ? " (the host's: cannot)" : "")"),
                                 keyFigure: "masked; meminfo \(BenchFormat.value(mem, "GiB"))")
            o.measurements = [BenchMeasurement("MemTotal seen under a 64 MiB limit", .evidence, mem, "GiB")]
            return o
        }
    }
}
