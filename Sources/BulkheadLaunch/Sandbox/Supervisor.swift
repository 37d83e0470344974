import BulkheadModel
import BulkheadSystem
import Glibc

/// The launcher's side of a running sandbox: creates the init, writes the id maps, releases
/// it, forwards signals, enforces the deadline, reaps the init and writes the report.
/// Synchronous, on the calling thread: one poll(2) loop over the init's message pipe, a
/// signalfd and the init's pidfd (`SandboxInit`, owned and closed here).
///
/// A `run` has one Supervisor; a pod runs one per container, each on a thread of its own.
/// Nothing of a Supervisor is shared but its `PodAttachment`: the holder's namespace fds (read
/// only; the pod runner closes them after every container thread is done) and the pod's
/// `SignalRouter`, through which the pod runner's thread signals this Supervisor's init (the
/// router's set is under a `Mutex`, and `SandboxInit.kill` and `close` serialize on the
/// init's own). The cgroup leaf names' sequence is an `Atomic` (`LeafSequence`).
package final class Supervisor {
    /// A pooled sandbox's request replaces the command (and the plan's argv) at the hand-over.
    package private(set) var prepared: PreparedLaunch
    package let pod: PodAttachment?
    /// The warm pool (`WarmPool`): the slot that hands this sandbox to a client once its init
    /// waits for its request; the report's times start at the hand-over. nil: an ordinary launch.
    package let poolSlot: (any PoolHandOver)?
    /// The warm pool's parent cgroup (the leaf goes under it, as a pod's under the pod's).
    package let cgroupParent: [String]?
    package private(set) var start: Double
    /// Phase boundaries for the report: (name, end time).
    private var marks: [(String, Double)] = []
    /// The pooled client's connection, once its request was handed over (`handOver`).
    private var poolClient: Int32?

    /// Called with the init's pid once it is released (`run --name` records it).
    package let onStarted: ((Int32) -> Void)?

    package init(prepared: PreparedLaunch, pod: PodAttachment? = nil, onStarted: ((Int32) -> Void)? = nil,
         poolSlot: (any PoolHandOver)? = nil, cgroupParent: [String]? = nil) {
        self.prepared = prepared
        self.pod = pod
        self.poolSlot = poolSlot
        self.cgroupParent = cgroupParent
        self.onStarted = onStarted
        self.start = prepared.preparedFrom > 0 ? prepared.preparedFrom : Monotonic.now()
        if prepared.preparedAt > 0 { marks.append(("prepare (profile, plan, seccomp)", prepared.preparedAt)) }
    }

    private func mark(_ phase: String) { marks.append((phase, Monotonic.now())) }

    private var phases: [PhaseTiming] {
        var last = start
        return marks.map { name, t in defer { last = t }; return PhaseTiming(phase: name, ms: ((t - last) * 1e6).rounded() / 1000) }
    }

    private var plan: LaunchPlan { prepared.plan }

    package func run() -> RunReport {
        // A child that fails early closes its end of the release pipe: the launcher must get
        // EPIPE there, not die of SIGPIPE. (The child resets every disposition to the default,
        // so the workload's own SIGPIPE is unaffected.)
        signal(SIGPIPE, SIG_IGN)
        // Signals are blocked before clone3, so the child starts with them blocked (its C code
        // resets them) and the launcher takes them synchronously from the signalfd.
        // In a pod the pod runner owns the signals (one signalfd for the process) and forwards
        // them to every container's init.
        var signals: SignalFD?
        if pod == nil && poolSlot == nil { // the pool's main thread owns its signals
            do { signals = try SignalFD.blockSupervisorSignals() } catch { return failure(LaunchError(error)) }
        }
        defer { signals?.close() }

        // The cgroup2 leaf exists before the child: it is born inside it (CLONE_INTO_CGROUP).
        // The v1 leaves come after clone3 (`joinCgroupsV1`).
        var cgroup: CgroupSetup
        do throws(LaunchError) {
            if prepared.request.injectFault == .cgroupCreate {
                throw LaunchError(operation: "set up the sandbox's cgroup", errno: Errno(ECANCELED), hint: "fault injected for testing")
            }
            // The stale-leaf collection waits until the init is released (`launch`): the launcher
            // has nothing else to do while the init mounts.
            cgroup = try CgroupSetup.create(prepared, pod: pod?.cgroupPath ?? cgroupParent, deferV1: true,
                                            deferStaleCollection: true)
        } catch {
            return failure(error)
        }
        mark("cgroup create and limits")
        var report = launch(signals: signals, cgroup: &cgroup)
        // A pooled launch: the client has its exit status now (a client without --report
        // exits on it); the cgroup's statistics and removal and the report follow. Only when the
        // sandbox's init was PID 1 of a namespace of its own: its reaping ended every process
        // of the sandbox. In the host's PID namespace a process the workload left behind runs
        // until `finish()` kills the cgroup, so the status waits for that, as a cold run's does.
        if plan.namespaces.contains(.pid) && !plan.joinedNamespaces.contains(.pid) { poolSlot?.sendStatus(report) }
        // A launch that failed before the init was released collects here, as does one whose
        // walk beside the workload stopped waiting for a stuck leaf (else a no-op).
        cgroup.collectStale()
        // Every path ends here: measure, kill what is left, remove the cgroup.
        report.limits = cgroup.limits
        report.cgroup = cgroup.finish()
        mark("cgroup stats, kill, remove")
        report.phasesMs = phases
        report.pool = poolReport
        if report.reason == .exited || report.reason == .signaled {
            if let s = report.cgroup?.stats, (s.oomKills ?? 0) > 0 {
                report.reason = .oomKilled
            } else if let s = report.cgroup?.stats, (s.pidsMaxHits ?? 0) > 0 {
                report.reason = .pidsLimit
            }
        }
        return report
    }

    /// cgroup v1 (cgroup v2 needs nothing: the child is born in its cgroup): the `tasks` files
    /// through which the init joins the v1 hierarchies itself, before it forks the workload.
    private func cgroupJoinFiles(_ cgroup: CgroupSetup) throws(LaunchError) -> [Int32] {
        guard let cg = cgroup.cgroup, cg.needsAttach else { return [] }
        do throws(CgroupError) {
            if prepared.request.injectFault == .cgroupAttach {
                throw CgroupError(code: .attachFailed, operation: "attach (fault injected for testing)", path: "tasks", errno: Errno(ECANCELED), fix: "")
            }
            return try cg.openJoinFiles()
        } catch {
            throw LaunchError("move the sandbox into its cgroups", wrapping: error)
        }
    }

    /// After clone3 and the release, while the kernel has built the namespaces and the init
    /// mounts: the cgroup v1 leaves, their limits, then their `tasks` files sent to the init,
    /// which waits for them at its `.joinCgroups` step (before it forks the workload) and moves
    /// itself in. On a throw the caller kills the init (it never passes that step) and
    /// `CgroupSetup.finish()` removes every leaf. An init that already failed a step (EPIPE on
    /// the send) is not an error here: its own message says why.
    private func joinCgroupsV1(_ child: SandboxInit, _ cgroup: inout CgroupSetup) throws(LaunchError) {
        guard cgroup.deferredV1Count > 0 else { return }
        try cgroup.createDeferredV1(fault: prepared.request.injectFault)
        let fds = try cgroupJoinFiles(cgroup)
        defer { for fd in fds { close(fd) } }
        do { try child.sendCgroupJoinFiles(fds) } catch {
            if error.errno?.rawValue == EPIPE { return }
            throw LaunchError(error)
        }
    }

    private func launch(signals: SignalFD?, cgroup: inout CgroupSetup) -> RunReport {
        // Which call was refused: a listener for the refusing RETs (SeccompNotifier), not in
        // record mode (the recorder traces every call itself).
        // Only in a PID namespace of the sandbox's own: its init is PID 1, and its exit ends every
        // process that has the filter before the listener closes. A process left behind (the
        // host's PID namespace, or a pod's shared one) would outlive the listener; with the chain
        // then listener-less it could install a filter with a listener of its own, whose
        // USER_NOTIF ties with the rewritten RETs (the newest filter wins a tie) and answer the
        // refused calls itself with CONTINUE. The plain program is loaded there instead.
        var notifier: SeccompNotifier?
        let ownPIDNamespace = plan.namespaces.contains(.pid) && !plan.joinedNamespaces.contains(.pid)
        if let program = prepared.seccomp?.program, prepared.recorder == nil, ownPIDNamespace,
           let mode = prepared.request.seccompNotify {
            do { notifier = try SeccompNotifier(program: program, mode: mode) } catch {
                return failure(LaunchError(error))
            }
            // Its answers spend the launcher's CPU, outside the sandbox's cgroup: at most the
            // sandbox's own CPU limit (RedTeamSeccompNotifyTests.answersStayWithinTheCPULimit).
            let l = prepared.cgroupLimits
            if let q = l.cpuQuotaMicros, let p = l.cpuPeriodMicros, p > 0 { notifier?.cpuShare = Double(q) / Double(p) }
        }
        defer { notifier?.close() }
        let child: SandboxInit
        do {
            defer { notifier?.spawned() }
            child = try ChildSpawner.spawn(plan: plan, seccompProgram: prepared.seccomp?.program,
                                           cgroupFD: cgroup.cgroup?.cloneIntoFD, fault: prepared.request.injectFault,
                                           recordTable: prepared.recorder, join: pod?.join ?? [],
                                           cgroupJoinCount: cgroup.deferredV1Count, seccompNotifier: notifier)
        } catch {
            return failure(LaunchError(error))
        }
        mark("clone3")
        prepared.terminal?.childStarted()
        defer { prepared.terminal?.restoreTerminal() }
        pod?.signals.register(child)
        // Every path from here closes the init's descriptors once, after it was reaped.
        defer { pod?.signals.unregister(child); child.close() }

        // Fault injection covers the launcher's own steps too.
        var idMapFault: LaunchError?
        if prepared.request.injectFault == .idMaps {
            idMapFault = LaunchError(operation: "write the id maps", errno: Errno(ECANCELED), hint: "fault injected for testing")
        }
        // Record mode (eBPF): follow the init before it is released, so the workload it forks is
        // followed from its birth; a failure ends the launch as a failed id-map write would.
        if idMapFault == nil, let fast = prepared.fastRecorder {
            do throws(SystemError) { try fast.follow(child.pid) } catch { idMapFault = LaunchError(error) }
        }
        // The id maps, then the release: the init sets up its mounts, cgroups and identity. On
        // failure the init (still waiting at its first step) is killed and reaped.
        do throws(LaunchError) {
            try child.mapIDsAndRelease(plan, fault: idMapFault)
        } catch {
            mark("id maps")
            return failure(error)
        }
        mark("id maps")
        // The v1 leaves, while the init mounts; the init waits for them before it forks.
        let hasV1 = cgroup.deferredV1Count > 0
        do throws(LaunchError) { try joinCgroupsV1(child, &cgroup) } catch {
            child.abandon()
            mark("cgroup v1 leaves and limits")
            return failure(error)
        }
        if hasV1 { mark("cgroup v1 leaves and limits") }
        // The leaves of dead launchers, while the init sets itself up and the workload starts
        // (on a host with cgroups of many other sandboxes, the walk is hundreds of system calls).
        // The launcher does not poll meanwhile: a wait for a stuck leaf (members SIGKILL does not
        // end, 3 s a hierarchy) stops at the workload's deadline, a signal or terminal input,
        // and the rest waits until the workload ended (`run`).
        let deadline = prepared.request.timeoutSeconds.map { start + $0 }
        cgroup.collectStale(stop: { [self] in
            if let deadline, Monotonic.now() >= deadline { return true }
            var fds = [signals?.pollFD].compactMap { $0 } + (prepared.terminal?.pollFDs ?? [])
            return !fds.isEmpty && poll(&fds, nfds_t(fds.count), 0) > 0
        })
        onStarted?(child.pid)
        var report = supervise(child, signals: signals, notifier: notifier)
        if let notifier {
            notifier.finish()
            let v = notifier.violations
            report.seccompViolations = v.isEmpty ? nil : v
            report.controls.seccomp?.violations = notifier.status
            report.controls.seccomp?.answerCPUMs = notifier.answerCPUSeconds * 1000
            report.controls.seccomp?.answerPausedMs = notifier.pausedSeconds * 1000
        } else if report.controls.seccomp != nil {
            report.controls.seccomp?.violations = "not reported: " + (prepared.recorder != nil ? "record mode"
                : prepared.request.seccompNotify == nil ? "not asked"
                : "the sandbox has no PID namespace of its own (a process left behind could answer refused calls itself); the kernel enforces the policy")
        }
        return report
    }

    private func supervise(_ child: SandboxInit, signals: SignalFD?, notifier: SeccompNotifier?) -> RunReport {
        var deadline = prepared.request.timeoutSeconds.map { start + $0 }
        var timeoutSignals: [String] = []
        var stepFailure: (step: Int, errno: Errno)?
        var execAt: Double?
        var exitStatus: Int32?
        var timedOut = false
        var forwarded: [String] = []
        var messagesOpen = true
        var initExited = false
        // A pooled launch's client (after the hand-over): the signal numbers it forwards, and
        // its hang-up, which ends the sandbox.
        var clientOpen = true

        while !initExited {
            let client = clientOpen ? poolClient : nil
            var fds = [
                child.messagesPollFD(open: messagesOpen),
                signals?.pollFD ?? pollfd(fd: -1, events: 0, revents: 0), // none in a pod: ignored
                child.exitPollFD,
            ] + (notifier?.pollFDs ?? [pollfd(fd: -1, events: 0, revents: 0)])
              + [pollfd(fd: client ?? -1, events: Int16(POLLIN), revents: 0)] + (prepared.terminal?.pollFDs ?? [])
            var timeoutMs: Int32 = -1
            // The earlier of the deadline and the end of the seccomp answers' CPU-budget pause.
            let wake = [timedOut ? nil : deadline, notifier?.wakeAt].compactMap { $0 }.min()
            if let wake {
                timeoutMs = Int32(max(0, min(Double(Int32.max), ((wake - Monotonic.now()) * 1000).rounded(.up))))
            }
            let n = poll(&fds, nfds_t(fds.count), timeoutMs)
            if n < 0 {
                if errno == EINTR { continue }
                break
            }
            // The deadline wins on every iteration, not only when poll times out: a flood of
            // ready fds (a relay under input pressure) must not keep it from firing.
            if let d = deadline, !timedOut, Monotonic.now() >= d {
                if timeoutSignals.isEmpty, let sig = prepared.request.stopSignal, sig != SIGKILL {
                    // --stop-signal: the init passes it to the workload; SIGKILL comes at the
                    // second deadline, --stop-timeout later, unless the init exits first.
                    try? child.kill(sig)
                    timeoutSignals.append(SignalName.name(sig))
                    deadline = Monotonic.now() + prepared.request.stopTimeoutSeconds
                    continue
                }
                // The deadline: SIGKILL to the init tears down the whole PID namespace.
                timedOut = true
                try? child.kill(SIGKILL)
                timeoutSignals.append("SIGKILL")
                continue
            }
            if fds[0].revents != 0 {
                switch readMessage(child) {
                case .some(.stepFailed(let step, let e)): stepFailure = (step, e)
                case .some(.execSucceeded): execAt = Monotonic.now(); mark("child setup to execve")
                case .some(.exited(let ws, let last)):
                    exitStatus = ws
                    if last, stepFailure == nil, !timedOut, timeoutSignals.isEmpty, earlyStatus(ws, notifier: notifier) {
                        // The client has its answer; the deadline has nothing left to end.
                        deadline = nil
                    }
                case .some(.created): break
                case .some(.poolReady): handOver(child, deadline: &deadline)
                case .none: messagesOpen = false
                }
            }
            if fds[1].revents != 0, let signals {
                while let sig = signals.next() {
                    if sig == SIGWINCH, let t = prepared.terminal {
                        t.resize() // the pty tells the workload itself
                    } else if sig != SIGCHLD {
                        try? child.kill(sig)
                        forwarded.append(SignalName.name(sig))
                    }
                }
            }
            if fds[2].revents != 0 { initExited = true }
            notifier?.handle(fds[3...3])
            if fds[4].revents != 0, let client {
                switch Self.clientRequest(client) {
                case .signal(let sig):
                    try? child.kill(sig)
                    forwarded.append(SignalName.name(sig))
                case .gone:
                    // The client is gone: so is its sandbox.
                    try? child.kill(SIGKILL)
                    clientOpen = false
                case .nothing: break
                }
            }
            if let t = prepared.terminal { t.handle(fds[5...]) }
        }
        prepared.terminal?.drain()
        // The init has exited: whatever it wrote is in the pipe.
        while messagesOpen {
            switch readMessage(child) {
            case .some(.stepFailed(let step, let e)): stepFailure = (step, e)
            case .some(.execSucceeded): execAt = execAt ?? Monotonic.now()
            case .some(.exited(let ws, let last)):
                exitStatus = ws
                // The init was quicker than this loop: the status still goes before the reap.
                if last, stepFailure == nil, !timedOut, timeoutSignals.isEmpty { _ = earlyStatus(ws, notifier: notifier) }
            case .some(.created), .some(.poolReady): break
            case .none: messagesOpen = false
            }
        }
        let (initStatus, usage) = child.reap()
        mark("workload run, reap")
        let end = Monotonic.now()

        var report = baseReport(end: end)
        report.launchTimeMs = execAt.map { ($0 - start) * 1000 }
        report.cpuUserMs = Double(usage.ru_utime.tv_sec) * 1000 + Double(usage.ru_utime.tv_usec) / 1000
        report.cpuSystemMs = Double(usage.ru_stime.tv_sec) * 1000 + Double(usage.ru_stime.tv_usec) / 1000
        report.maxRssKiB = usage.ru_maxrss
        report.signalsForwarded = forwarded
        report.timeoutSignals = timeoutSignals.isEmpty ? nil : timeoutSignals

        if let f = stepFailure {
            report.error = LaunchError(stepFailed: f.step, errno: f.errno, in: plan).report
            if case .exec? = plan.step(at: f.step) {
                report.reason = .execFailed
                report.exitCode = f.errno.rawValue == ENOENT ? ExitStatus.notFound : ExitStatus.notExecutable
            } else {
                report.reason = .launchFailed
                report.exitCode = ExitStatus.launchFailed
            }
        } else if timedOut || !timeoutSignals.isEmpty {
            // A workload that ended on the stop signal (or exited on it) timed out all the
            // same; `signal` says what ended it, `timeoutSignals` what was sent.
            if !timedOut, let ws = exitStatus { apply(waitStatus: ws, to: &report) }
            report.reason = .timeout
            report.exitCode = ExitStatus.timeout
            if timedOut { report.signal = "SIGKILL" }
        } else if let ws = exitStatus {
            apply(waitStatus: ws, to: &report)
        } else {
            // The init died without reporting (killed from outside): its own status is the answer.
            apply(waitStatus: initStatus, to: &report)
            if execAt == nil {
                report.reason = .launchFailed
                report.exitCode = ExitStatus.launchFailed
                report.error = LaunchErrorReport(step: nil, operation: "sandbox init", errno: nil,
                                                 message: "the sandbox's init ended before the workload started (status \(initStatus))")
            }
        }
        return report
    }

    /// A pooled launch whose init reported the workload's end with no other process of the
    /// sandbox left (`.exited(last: true)`): the client gets its exit status and message now,
    /// before the init's own exit (its copy of the pool's address space, the namespaces) is
    /// torn down and reaped. Only with a PID namespace of the sandbox's own, as `run()`'s
    /// status after the reap: then every process of the sandbox descends from the init, and
    /// an init without children is the last one. The status is the one the report will give
    /// (no step failed, no deadline passed: `supervise`'s end computes the same); the report
    /// follows after the cgroup's statistics and removal. False when not sent.
    private func earlyStatus(_ ws: Int32, notifier: SeccompNotifier?) -> Bool {
        guard let slot = poolSlot, plan.namespaces.contains(.pid), !plan.joinedNamespaces.contains(.pid) else { return false }
        // Only what the status carries (the exit code, the refused calls for the message): the
        // whole report, its controls built from the profile, follows after the removal.
        var report = RunReport(command: prepared.request.command, profile: prepared.profile.name, profileChain: [], exitCode: 0,
                               signal: nil, reason: .exited, error: nil, wallTimeMs: (Monotonic.now() - start) * 1000, launchTimeMs: nil,
                               cpuUserMs: nil, cpuSystemMs: nil, maxRssKiB: nil, signalsForwarded: [], controls: .nothingApplied)
        apply(waitStatus: ws, to: &report)
        if let v = notifier?.violations, !v.isEmpty { report.seccompViolations = v }
        slot.sendStatus(report)
        mark(Self.earlyStatusPhase)
        return true
    }

    /// The phase that ends when a pooled client got its status before the init's exit
    /// (`earlyStatus`); the next one, "workload run, reap", is then the init's exit alone.
    package static let earlyStatusPhase = "workload run (status to the client: no process of the sandbox left)"


    /// OCI `mounts[type=cgroup]`: the hierarchies the container has its own cgroup in, named in
    /// the plan's `mountCgroups` step once they exist ("cgroup2" alone on a cgroup v2 host).
    package static func fillCgroupMounts(_ plan: LaunchPlan, _ cg: SandboxCgroup?) throws(LaunchError) -> LaunchPlan {
        guard let i = plan.steps.firstIndex(where: { if case .mountCgroups = $0 { true } else { false } }),
              case let .mountCgroups(_, ro, temporary) = plan.steps[i] else { return plan }
        guard let cg, !cg.leaves.isEmpty || !cg.v1Hierarchies.isEmpty else {
            throw LaunchError(operation: "mount the container's cgroups (mounts[type=cgroup]): the container has no cgroup (ENOENT)",
                              hint: "without root, delegate a cgroup to this user (systemd-run --user --scope -p Delegate=yes) or remove the cgroup mount from config.json; run `bulkhead doctor`")
        }
        let v1 = cg.v1Hierarchies
        // "rw": the workload is uid 0 (or holds CAP_DAC_OVERRIDE) over its own cgroup's files, the
        // root of what it sees. Only cgroup2 mounted with nsdelegate, seen from a cgroup namespace
        // of the container's own, keeps those files (its limits, its freezer) out of its reach.
        if !ro {
            let unified = cg.leaves.first(where: \.isUnified)?.target.mountPoint
            guard v1.isEmpty, !temporary, let unified, CgroupHost.hasNamespaceDelegation(mountPoint: unified) else {
                throw LaunchError(operation: "mount the container's cgroups (mounts[type=cgroup] with \"rw\"): the workload could raise its own limits "
                                  + "through its cgroup's files (cgroup v1, no cgroup namespace of its own, or cgroup2 without nsdelegate) (EPERM)",
                                  hint: "mount it read-only (\"ro\"); \"rw\" needs a cgroup2-only host whose cgroup2 is mounted with nsdelegate and linux.namespaces with cgroup")
            }
        }
        let names = v1.isEmpty ? ["cgroup2"] : v1 + (cg.unifiedDirectory == nil ? [] : ["unified"])
        var p = plan
        p.steps[i] = .mountCgroups(hierarchies: names, readOnly: ro, temporaryNamespace: temporary)
        return p
    }

    fileprivate func apply(waitStatus ws: Int32, to report: inout RunReport) {
        let termsig = ws & 0x7f
        if termsig == 0 {
            report.reason = .exited
            report.exitCode = (ws >> 8) & 0xff
        } else {
            report.reason = termsig == SIGSYS ? .seccompViolation : .signaled
            report.signal = SignalName.name(termsig)
            report.exitCode = 128 + termsig
        }
    }

    /// OCI `create`: the same cgroup, clone3, id maps and release as `run`, then waits until the
    /// init reports that every setup step succeeded and it waits on the exec fifo
    /// (`PlanStep.waitExecFifo`). On success the init is left running (this process exits and
    /// the caller, a subreaper, adopts it) with its cgroup; on any failure the init is killed
    /// and reaped and the cgroup removed: nothing is left.
    /// `rootlessOptional`: see `CgroupSetup.create` (an OCI create without root).
    package func create(cgroupPath: [String], fromHierarchyRoot: Bool = false, rootlessOptional: Bool = false, join: [(fd: Int32, namespace: Namespace)] = [],
                oomScoreAdj: Int32? = nil, beforeRelease: ((Int32) -> LaunchError?)? = nil) -> Result<OCICreated, LaunchError> {
        signal(SIGPIPE, SIG_IGN)
        var cgroup: CgroupSetup
        do throws(LaunchError) {
            if prepared.request.injectFault == .cgroupCreate {
                throw LaunchError(operation: "set up the container's cgroup", errno: Errno(ECANCELED), hint: "fault injected for testing")
            }
            cgroup = try CgroupSetup.create(prepared, fixedPath: cgroupPath, fromHierarchyRoot: fromHierarchyRoot, deferV1: true,
                                            rootlessOptional: rootlessOptional)
        } catch {
            return .failure(error)
        }
        func fail(_ e: LaunchError) -> Result<OCICreated, LaunchError> {
            _ = cgroup.finish()
            return .failure(e)
        }
        let plan: LaunchPlan
        do throws(LaunchError) { plan = try Self.fillCgroupMounts(self.plan, cgroup.cgroup) } catch { return fail(error) }
        let child: SandboxInit
        do {
            child = try ChildSpawner.spawn(plan: plan, seccompProgram: prepared.seccomp?.program,
                                           cgroupFD: cgroup.cgroup?.cloneIntoFD, fault: prepared.request.injectFault,
                                           join: join, cgroupJoinCount: cgroup.deferredV1Count)
        } catch {
            return fail(LaunchError(error))
        }
        var idMapFault: LaunchError?
        if prepared.request.injectFault == .idMaps {
            idMapFault = LaunchError(operation: "write the id maps", errno: Errno(ECANCELED), hint: "fault injected for testing")
        }
        if let adj = oomScoreAdj {
            // Before the release: the workload inherits it (process.oomScoreAdj).
            do { try FileIO.write("\(adj)", to: "/proc/\(child.pid)/oom_score_adj") } catch {
                child.abandon(); child.close()
                return fail(LaunchError("process.oomScoreAdj", wrapping: error))
            }
        }
        // OCI: the hooks' state (the init's pid) and the prestart/createRuntime hooks, with the
        // init's namespaces made and nothing of its setup run yet.
        if let e = beforeRelease?(child.pid) {
            child.abandon(); child.close()
            return fail(e)
        }
        do throws(LaunchError) { try child.mapIDsAndRelease(plan, fault: idMapFault) } catch {
            child.close()
            return fail(error)
        }
        do throws(LaunchError) { try joinCgroupsV1(child, &cgroup) } catch {
            child.abandon(); child.close()
            return fail(error)
        }
        var failure: LaunchError?
        loop: while true {
            switch readMessage(child) {
            case .some(.created): break loop
            case .some(.stepFailed(let step, let e)): failure = LaunchError(stepFailed: step, errno: e, in: plan); break loop
            case .some(.execSucceeded), .some(.exited), .some(.poolReady): continue
            case .none:
                failure = LaunchError(operation: "the container's init ended before it was created (status \(child.reap().status))")
                break loop
            }
        }
        if let failure {
            try? child.kill(SIGKILL)
            _ = child.reap()
            child.close()
            return fail(failure)
        }
        let pid = child.pid
        child.close()
        return .success(OCICreated(pid: pid, cgroupDirectories: cgroup.cgroup?.directories ?? []))
    }

    /// What the report says of the pool (`RunReport.pool`), set at the hand-over.
    private var poolReport: PoolRunReport?

    /// The warm pool: the init waits for its request. The slot blocks until a client's request
    /// is assigned and sends it to the init; from then on this is that client's launch (its
    /// command, its timeout, times from the hand-over). No request (the pool stops): SIGKILL.
    private func handOver(_ child: SandboxInit, deadline: inout Double?) {
        let readyAt = Monotonic.now()
        guard let slot = poolSlot, let h = slot.handOver(child) else { try? child.kill(SIGKILL); return }
        var r = h.report
        r.preparedMs = ((readyAt - start) * 1e6).rounded() / 1000
        r.waitedMs = ((h.receivedAt - readyAt) * 1e6).rounded() / 1000
        poolReport = r
        poolClient = h.connection
        prepared.request.command = h.request.argv
        prepared.request.timeoutSeconds = h.timeoutSeconds
        prepared.plan.argv = h.request.argv
        prepared.plan.execPaths = h.request.execPaths
        prepared.plan.environment = h.request.environment
        start = h.receivedAt
        marks = [("pool hand-over (request checked, sent to the waiting init)", h.sentAt ?? Monotonic.now())]
        deadline = h.timeoutSeconds.map { start + $0 }
    }

    /// What a pooled client sent while its workload runs: a signal number `run` forwards (the stop
    /// signals and SIGWINCH; any other number is ignored), or its end (the connection closed or
    /// broken).
    enum ClientRequest: Equatable { case signal(Int32), gone, nothing }

    static func clientRequest(_ connection: Int32) -> ClientRequest {
        var sig: Int32 = 0
        let got = recv(connection, &sig, 4, Int32(MSG_DONTWAIT))
        if got == 4 {
            return FieldRules.stopSignals.contains(where: { $0.number == sig }) || sig == SIGWINCH ? .signal(sig) : .nothing
        }
        if got == 0 || (got < 0 && errno != EAGAIN && errno != EINTR) { return .gone }
        return .nothing
    }

    private func readMessage(_ child: SandboxInit) -> InitMessage? {
        (try? child.nextMessage()) ?? nil
    }

    private func failure(_ e: LaunchError) -> RunReport {
        var r = baseReport(end: Monotonic.now())
        r.reason = .launchFailed
        r.exitCode = ExitStatus.launchFailed
        r.error = e.report
        return r
    }

    private func baseReport(end: Double) -> RunReport {
        let p = prepared.profile
        let shared = Namespace.allCases.filter { !plan.namespaces.contains($0) && !prepared.request.joinNamespaces.contains($0) }
        var controls = AppliedControls(
            namespaces: plan.namespaces.sorted().map(\.rawValue),
            uidMap: IDMapEntry.reportText(plan.uidMap),
            gidMap: IDMapEntry.reportText(plan.gidMap),
            runAsUser: p.runAsUser, runAsGroup: p.runAsGroup,
            capabilities: p.capabilities.members.map(\.name),
            noNewPrivs: p.noNewPrivs,
            seccomp: prepared.seccomp?.control,
            rootFilesystem: { if case .directory(let d) = p.root { return d }; return "host" }(),
            readOnlyRootFilesystem: p.readOnlyRootFilesystem,
            maskedPaths: p.maskedPaths, readonlyPaths: p.readonlyPaths,
            tmpfs: p.tmpfs.map { TmpfsControl(path: $0.path, sizeBytes: p.tmpfsSize($0)) },
            binds: p.binds.map { "\($0.source):\($0.destination):\($0.readOnly ? "ro" : "rw")" },
            network: p.network.rawValue,
            hostname: p.namespaces.contains(.uts) ? p.hostname : nil,
            rlimits: Dictionary(uniqueKeysWithValues: p.rlimits.map { r, l in
                (r.rawValue, "\(l.soft == Rlimit.unlimited ? "unlimited" : String(l.soft))/\(l.hard == Rlimit.unlimited ? "unlimited" : String(l.hard))")
            })
        )
        if !prepared.supplementaryGroupsKept.isEmpty { controls.supplementaryGroupsKept = prepared.supplementaryGroupsKept }
        controls.hostNamespaces = shared.map(\.rawValue)
        if let l = p.landlock, let abi = prepared.landlockABI {
            controls.landlock = LandlockControl(abi: abi, readOnly: l.readOnly, readWrite: l.readWrite, bindTCP: l.bindTCP, connectTCP: l.connectTCP)
        }
        return RunReport(
            command: prepared.request.command, profile: p.name, profileChain: p.chain,
            exitCode: 0, signal: nil, reason: .exited, error: nil,
            wallTimeMs: (end - start) * 1000, launchTimeMs: nil, cpuUserMs: nil, cpuSystemMs: nil,
            maxRssKiB: nil, signalsForwarded: [], controls: controls
        )
    }
}

/// What to do about a failed step: the fix a user can act on.
package enum StepHints {
    package static func hint(_ step: PlanStep?, _ e: Errno) -> String? {
        if e.rawValue == ECANCELED { return "fault injected for testing (--inject-fault)" }
        guard let step else { return nil }
        switch (step, e.rawValue) {
        case (.waitForRelease, _):
            return "the launcher went away before releasing the sandbox"
        case (.joinCgroups, _):
            return "the kernel refused to move the sandbox into its cgroup v1 hierarchies; run `bulkhead doctor`"
        case (.refuseSymlinks(let p, _), ELOOP):
            return "\(p.replacingPrefix(LaunchPlanner.newRoot)) crosses a symlink; bulkhead never mounts through symlinks in a root filesystem (CVE-2019-19921, CVE-2023-27561)"
        case (.refuseSymlinks(let p, _), ENOENT):
            let inside = p.replacingPrefix(LaunchPlanner.newRoot)
            if let tree = LaunchPlanner.noMountPointsUnder.first(where: { inside == $0 || inside.hasPrefix($0 + "/") }) {
                return "\(inside) does not exist; bulkhead makes no mount points under \(tree) (the kernel's own tree): name a path that exists there, or mount elsewhere"
            }
            return "\(inside) does not exist in the root filesystem; create it"
        case (.makeMountPoint(let p, _), ELOOP):
            return "\(p.replacingPrefix(LaunchPlanner.newRoot)) crosses a symlink in the root filesystem; bulkhead makes mount points only through real directories (a symlink could lead out of the root)"
        case (.makeMountPoint(let p, _), ENOTDIR):
            return "a component of \(p.replacingPrefix(LaunchPlanner.newRoot)) exists in the root filesystem but is not a directory (a directory bind or tmpfs needs one); choose another target"
        case (.makeMountPoint(let p, _), EISDIR):
            return "\(p.replacingPrefix(LaunchPlanner.newRoot)) is a directory in the root filesystem, but the bind's source is a file; bind a file onto a file"
        case (.makeMountPoint(let p, _), EINVAL):
            return "\(p.replacingPrefix(LaunchPlanner.newRoot)) is not a plain path inside the root (\".\" or \"..\")"
        case (.mask(let p, _), ELOOP), (.makeReadOnly(let p), ELOOP), (.mount(_, let p, _, _, _), ELOOP), (.mountIfPresent(_, let p, _, _, _), ELOOP):
            return "\(p.replacingPrefix(LaunchPlanner.newRoot)) crosses a symlink; mount targets, masked and read-only paths are opened without following any (a symlink could be swapped in between a check and the mount)"
        case (.enterWorkingDirectory(let p), ELOOP):
            return "\(p) leads through a /proc magic link (such as /proc/self/fd/N) or too many symlinks; the working directory is resolved inside the sandbox's root without magic links (CVE-2024-21626)"
        case (.enterWorkingDirectory(let p), EXDEV):
            return "\(p) resolved to a directory outside the sandbox's root"
        case (.mount(_, _, "proc", _, _), EPERM):
            return "mounting proc needs a PID namespace and a fully visible /proc on the host (no over-mounted /proc paths)"
        case (.mount(_, _, "sysfs", _, _), EPERM):
            return "mounting sysfs needs a network namespace owned by the sandbox's user namespace"
        case (.mount, EACCES):
            return "the sandbox's uid cannot reach the mount source; the host path must be searchable by others (o+x)"
        case (.setMountAttributes, ENOSYS):
            return "mount_setattr(2) needs Linux 5.12"
        case (.setRlimit, EPERM):
            return "raising a hard limit needs CAP_SYS_RESOURCE on the host"
        case (.setUID, _), (.setGID, _):
            return "the uid/gid must be inside the mapped range"
        case (.loadSeccomp, EINVAL):
            return "the kernel rejected the filter program; check the profile with `bulkhead profile lint`"
        case (.loadSeccomp, EACCES):
            return "loading a filter without no_new_privs needs CAP_SYS_ADMIN"
        case (.runHook(let h), ECHILD):
            return "the \(h.kind) hook \(h.path) exited with a non-zero status or was killed (its output went to the container's stderr); fix it or remove it from config.json hooks.\(h.kind)"
        case (.runHook(let h), ETIMEDOUT):
            return "the \(h.kind) hook \(h.path) ran longer than its timeout (\(h.timeoutMs / 1000) s) and was killed"
        case (.runHook(let h), ENOENT), (.runHook(let h), EACCES):
            return "\(h.path) cannot be executed \(h.root == nil ? "inside the container's root (startContainer hooks resolve there)" : "(createContainer hooks resolve in the runtime's file system)")"
        case (.pivotRoot, EINVAL):
            return "pivot_root needs the new root to be a mount point on a non-shared mount"
        default:
            return nil
        }
    }
}

extension String {
    package func replacingPrefix(_ prefix: String) -> String {
        hasPrefix(prefix) ? (dropFirst(prefix.count).isEmpty ? "/" : String(dropFirst(prefix.count))) : self
    }
}
