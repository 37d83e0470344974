import BulkheadLaunch
import BulkheadModel
import BulkheadSystem
import Foundation
import Glibc

/// One sandbox of the warm pool, from its preparation to the end of the one run it serves.
/// Its thread runs a `Supervisor` (cgroup, clone3, id maps, release); once the init waits for
/// its request, `handOver` puts the slot in the pool's ready queue and blocks until the pool
/// assigns a client's request (or stops). A slot is assigned at most once: the queue hands
/// each slot out once and `assign` refuses a second request. `assign` sends the request to the
/// init itself, on the thread that accepted the client: the slot's thread learns of it after,
/// off the launch's path (one wake-up of another thread fewer before the workload starts).
final class PoolSlot: PoolHandOver, @unchecked Sendable {
    let serial: Int
    /// The pool's end of the channel to the init (SOCK_SEQPACKET); the init's end is `initEnd`.
    let channel: Int32
    let initEnd: Int32
    unowned let pool: WarmPool

    private let lock = NSCondition()
    private var assignment: Assignment?
    /// Whether `assign` got the request to the init (nil: not yet tried), and when.
    private var sendResult: Bool?
    private var sentAt = 0.0
    private var cancelled = false
    private var initEndClosed = false
    /// Set at the hand-over: the init (to kill it when the pool stops).
    private(set) var child: SandboxInit?
    /// The exit status and the message went to the client (`sendStatus`): the reply is then
    /// the report alone.
    private(set) var statusSent = false

    struct Assignment {
        var handoff: PoolHandoff
        var fds: [Int32]
        var connection: Int32
    }

    init(serial: Int, channel: Int32, initEnd: Int32, pool: WarmPool) {
        self.serial = serial; self.channel = channel; self.initEnd = initEnd; self.pool = pool
    }

    var isAssigned: Bool { lock.withLock { assignment != nil } }
    /// The init reached its wait (`handOver` was called).
    var wasReady: Bool { lock.withLock { child != nil } }
    var connection: Int32? { lock.withLock { assignment?.connection } }

    func closeInitEnd() {
        lock.withLock {
            if !initEndClosed { close(initEnd); initEndClosed = true }
        }
    }

    /// The pool gives this slot a client's request (once) and sends it to the waiting init, with
    /// the client's fds (the slot's thread closes the pool's copies). False when the slot was
    /// cancelled or has a request: the caller still owns the fds then.
    func assign(_ a: Assignment) -> Bool {
        let taken: Bool = lock.withLock {
            guard assignment == nil, !cancelled else { return false }
            assignment = a
            return true
        }
        guard taken else { return false }
        var sent = false
        if let bytes = try? a.handoff.request.encode(fdCount: a.fds.count), (try? PoolSocket.send(channel, bytes, fds: a.fds)) != nil {
            sent = true
        }
        let at = Monotonic.now()
        lock.withLock {
            sendResult = sent
            sentAt = at
            lock.broadcast()
        }
        return true
    }

    /// The pool stops: a slot still waiting gets no request (its init is killed).
    func cancel() {
        lock.withLock {
            cancelled = true
            lock.broadcast()
        }
        if let c = lock.withLock({ child }) { try? c.kill(SIGKILL) }
    }

    /// Called on the supervisor's thread when the init waits for its request.
    func handOver(_ child: SandboxInit) -> PoolHandoff? {
        closeInitEnd()
        lock.withLock { self.child = child }
        guard pool.slotReady(self) else { return nil }
        // An assigned request is waited for even when the pool stops meanwhile: its fds are
        // this thread's to close.
        let (a, sent, at): (Assignment?, Bool, Double) = lock.withLock {
            while sendResult == nil && !(cancelled && assignment == nil) { lock.wait() }
            return (assignment, sendResult ?? false, sentAt)
        }
        guard let a else { return nil }
        // The init has its copies of the client's fds (or none came through); the pool keeps none.
        for fd in a.fds { close(fd) }
        guard sent else { return nil }
        var h = a.handoff
        h.sentAt = at
        // The supervisor's loop watches the client from here (the signals it forwards, its
        // hang-up): no thread of its own, none started on the launch's path.
        h.connection = a.connection
        return h
    }

    /// Once the workload was reaped (before the cgroup's statistics and removal and the
    /// report's encoding): the exit status and the message, to the client this slot serves.
    func sendStatus(_ report: RunReport) {
        guard let conn = connection, !statusSent else { return }
        statusSent = true
        pool.replyStatus(conn, report: report)
        // The served request is answered: its replacement no longer competes with it for a CPU.
        pool.refill()
    }
}

/// `bulkhead pool start`: N sandboxes prepared from one profile, each handed to one client of
/// the unix socket and never reused; the pool refills in the background.
///
/// Who may use it: the socket is created 0600 (0660 with a group) in a directory checked as
/// every path root uses (`PoolSocket.listen`), and every connection's peer is checked again
/// with SO_PEERCRED: the pool's own uid, root, or (with a group) a process whose gid is the
/// group's. A request is hostile input: bounded (`PoolRequest`, CShims/include/bh_pool.h),
/// its environment put through the profile's rules, its working directory resolved inside the
/// sandbox's root by the init; a refused request is answered with an error and takes no sandbox.
///
/// Limits in aggregate: with limits, every sandbox's leaf lives under one parent cgroup whose
/// limits are the size times the profile's (memory, swap, pids, CPU quota), so waiting and
/// running sandboxes together never hold more than N sandboxes' worth.
public final class WarmPool: @unchecked Sendable {
    public struct Options: Sendable {
        public var size: Int
        public var socketPath: String
        /// The socket's group (mode 0660); nil: 0600, the pool's uid (and root) only.
        public var group: UInt32?
        public var layers: [ProfileLayer]
        public var profileName: String
        /// How long a client's request may wait for a sandbox when none is ready.
        public var takeTimeoutSeconds: Double = 30
        public init(size: Int, socketPath: String, group: UInt32?, layers: [ProfileLayer], profileName: String) {
            self.size = size; self.socketPath = socketPath; self.group = group; self.layers = layers; self.profileName = profileName
        }
    }

    public static let maxSize = 64

    let options: Options
    /// The launch every sandbox of the pool shares (its request fd is each slot's own).
    let prepared: PreparedLaunch
    /// Encodes a report as the CLI writes it (`ReportJSON`).
    let encode: @Sendable (RunReport) -> String
    private var parentCgroup: SandboxCgroup?
    private var parentPath: [String]?

    private let lock = NSCondition()
    private var ready: [PoolSlot] = []
    private var preparing = 0
    private var running: [PoolSlot] = []
    private var live = 0
    private var served = 0
    /// Requests served whose workload never started (the report's error: a step after the
    /// hand-over failed, or the command could not be executed). Counted apart from `failed`
    /// and from the refill's back-off: a client's own mistake is not the pool's failure.
    private var failedRequests = 0
    private var failed = 0
    private var consecutiveFailures = 0
    /// Why the last sandbox failed before it was ready (`lastErrorText` decides who sees what).
    private var lastError: LaunchErrorReport?
    private var serial = 0
    private var stopping = false
    private var listenFD: Int32 = -1
    /// The acceptor: one thread at a time waits for a connection (`acceptLoop`); written at
    /// teardown (never read: it stays readable), it ends the one waiting.
    private var acceptStop: [Int32] = [-1, -1]
    /// Threads that poll or accept on `listenFD` (teardown closes it once none does).
    private var acceptors = 0
    /// Connections being served (`handle`), at most `maxHandlers`.
    private var handlers = 0
    static let maxHandlers = 256
    private var socketIdentity: (device: UInt64, inode: UInt64) = (0, 0)
    private var wake: [Int32] = [-1, -1]
    /// The deferred refill's deadline (a timerfd, CLOCK_MONOTONIC), armed by `take`.
    private var refillTimer: Int32 = -1
    private var refillArmed = false
    /// How long a taken sandbox's replacement waits at most for the request to be answered.
    static let replaceAfterSeconds = 0.1
    private var stopWaiters: [Int32] = []
    /// Set by teardown (under `lock`) when it closes the wake pipe and answers `stopWaiters`.
    private var wakeClosed = false

    /// Prepares the profile once (every check; no sandbox yet). Throws as `run` would.
    public init(_ options: Options, encode: @escaping @Sendable (RunReport) -> String) throws(LaunchError) {
        guard (1...Self.maxSize).contains(options.size) else {
            throw LaunchError(ConfigError(file: FieldRules.commandLine, field: "--size", message: "expected 1 to \(Self.maxSize), got \(options.size)"))
        }
        self.options = options
        self.encode = encode
        var request = RunRequest(layers: options.layers, command: ["/bin/true"])
        request.seccompNotify = .report
        // A placeholder fd: each slot's plan gets its own channel's number.
        prepared = try Sandbox.prepare(request, store: .standard(), poolRequestFD: 0)
    }

    // MARK: Serving

    /// Creates the parent cgroup and the socket, fills the pool and serves until `pool stop` or
    /// SIGTERM/SIGINT/SIGHUP; then tears everything down. `onReady` is called once the socket
    /// accepts connections.
    public func serve(onListening: () -> Void = {}) throws(LaunchError) {
        // Signals are taken on this thread only, from a signalfd; every thread made from here on
        // inherits the blocked mask, and the sandboxes' inits reset it.
        let signals: SignalFD
        do { signals = try SignalFD.blockSupervisorSignals() } catch { throw LaunchError(error) }
        defer { signals.close() }
        try makeParentCgroup()
        do {
            let l = try PoolSocket.listen(path: options.socketPath, mode: options.group == nil ? 0o600 : 0o660, group: options.group)
            listenFD = l.fd
            socketIdentity = (l.device, l.inode)
        } catch {
            removeParentCgroup()
            throw LaunchError("create the pool's socket", wrapping: error)
        }
        do {
            wake = try PoolSocket.pipe()
            acceptStop = try PoolSocket.pipe()
            // `stop` writes a byte under the pool's lock: never blocked by a full pipe.
            _ = fcntl(wake[1], F_SETFL, fcntl(wake[1], F_GETFL) | O_NONBLOCK)
        } catch {
            teardown()
            throw LaunchError(error)
        }
        do { refillTimer = try PoolSocket.timer() } catch {
            teardown()
            throw LaunchError(error)
        }
        refill()
        lock.withLock { acceptors += 1 }
        if let e = Self.startThread({ [self] in acceptLoop() }) {
            lock.withLock { acceptors -= 1 }
            teardown()
            throw LaunchError(operation: "start the pool's acceptor thread", errno: e)
        }
        onListening()
        var fds = [signals.pollFD, pollfd(fd: wake[0], events: Int16(POLLIN), revents: 0), pollfd(fd: refillTimer, events: Int16(POLLIN), revents: 0)]
        loop: while true {
            for i in fds.indices { fds[i].revents = 0 }
            let n = poll(&fds, nfds_t(fds.count), -1)
            if n < 0 { if errno == EINTR { continue }; break }
            if fds[0].revents != 0 {
                while let sig = signals.next() {
                    if sig == SIGTERM || sig == SIGINT || sig == SIGHUP || sig == SIGQUIT { break loop }
                }
            }
            if fds[1].revents != 0 { break loop }
            if fds[2].revents != 0 {
                PoolSocket.drain(refillTimer)
                lock.withLock { refillArmed = false }
                refill()
            }
        }
        teardown()
    }

    /// Waits for a connection and serves it on this thread: a client's request is read, checked
    /// and sent to a waiting init by the thread the kernel woke for the connection (`handle`,
    /// `PoolSlot.assign`). When the request is there and a sandbox ready, nothing waits and this
    /// thread goes back to the socket after the hand-over; else it starts the next waiter first
    /// and then serves what may wait. The request is not handed to another thread on the way
    /// (each hand-off a wake-up, on a virtual machine often of an idle vCPU: BENCHMARKS.md session
    /// 16). One thread at a time polls the socket, so a connection wakes one thread. When no
    /// next waiter can be started (a threads or pids limit), this thread serves the connection and
    /// goes on waiting: the pool keeps serving, one connection at a time. At most `maxHandlers`
    /// connections are served at once (a client that connects and never sends holds one for
    /// up to 10 s): past that a connection gets status 125 and a message at once, so that silent
    /// connections cannot use up the threads the pool's sandboxes need.
    private func acceptLoop() {
        while true {
            var fds = [pollfd(fd: listenFD, events: Int16(POLLIN), revents: 0), pollfd(fd: acceptStop[0], events: Int16(POLLIN), revents: 0)]
            var conn: Int32?
            while conn == nil {
                fds[0].revents = 0
                fds[1].revents = 0
                if poll(&fds, 2, -1) < 0 {
                    if errno == EINTR { continue }
                    break
                }
                if fds[1].revents != 0 { break }
                guard fds[0].revents != 0 else { continue }
                conn = PoolSocket.accept(listenFD)
                // An accept that keeps failing (no fd left: EMFILE) must not spin a CPU.
                if conn == nil { usleep(1000) }
            }
            guard let conn else {
                lock.withLock { acceptors -= 1; lock.broadcast() }
                return
            }
            let serve: Bool = lock.withLock {
                guard handlers < Self.maxHandlers else { return false }
                handlers += 1
                return true
            }
            guard serve else {
                // The status alone (one small message, no report to encode), then the end.
                replyStatus(conn, report: .failedBeforeLaunch(command: [], profile: options.profileName, error: LaunchError(operation: "")),
                            message: "cannot start the sandbox: the pool at \(options.socketPath) is serving \(Self.maxHandlers) connections; try again")
                close(conn)
                continue
            }
            // The common case first: the request came right after the connection and a sandbox
            // is ready. Nothing of that waits (no poll of the client, no wait for a sandbox, no
            // control word, whose `stop` waits for the acceptors, no refusal, whose closes of the
            // client's fds may wait on them), so this thread serves it and goes back to the
            // socket: no thread is started on the client's path.
            let started: WaitingRequest?
            switch handle(conn, quick: true) {
            case .done:
                let stop: Bool = lock.withLock {
                    handlers -= 1
                    if stopping { acceptors -= 1; lock.broadcast() }
                    return stopping
                }
                if stop { return }
                continue
            case .waiting(let request): started = request
            }
            // The next waiter is counted before it starts, so teardown never sees none while one
            // is about to poll the socket.
            let next: Bool = lock.withLock {
                if !stopping { acceptors += 1; return true }
                return false
            }
            if next, Self.startThread({ [self] in acceptLoop() }) == nil {
                lock.withLock { acceptors -= 1; lock.broadcast() } // this thread no longer polls the socket
                _ = handle(conn, quick: false, received: started)
                lock.withLock { handlers -= 1 }
                return
            }
            // No next waiter (the pool stops, or no thread could be started): this thread serves
            // the connection and, unless the pool stops, waits for the next one itself.
            if next { lock.withLock { acceptors -= 1 } }
            _ = handle(conn, quick: false, received: started)
            let stop: Bool = lock.withLock {
                handlers -= 1
                if stopping { acceptors -= 1; lock.broadcast() }
                return stopping
            }
            if stop { return }
        }
    }

    /// Starts `body` on a detached thread of its own: nil, or the errno when none could be made
    /// (a threads or pids limit: EAGAIN). Foundation's `Thread` gives no such answer, and a thread
    /// that never started would leave the pool's counts (its acceptor, a preparing sandbox)
    /// waiting for it forever, `pool stop` included.
    static func startThread(_ body: @escaping @Sendable () -> Void) -> Errno? {
        final class Body: @unchecked Sendable {
            let run: @Sendable () -> Void
            init(_ run: @escaping @Sendable () -> Void) { self.run = run }
        }
        let box = Unmanaged.passRetained(Body(body))
        var attr = pthread_attr_t()
        pthread_attr_init(&attr)
        defer { pthread_attr_destroy(&attr) }
        pthread_attr_setdetachstate(&attr, Int32(PTHREAD_CREATE_DETACHED))
        var thread = pthread_t()
        let rc = pthread_create(&thread, &attr, { p in
            Unmanaged<Body>.fromOpaque(p!).takeRetainedValue().run()
            return nil
        }, box.toOpaque())
        guard rc == 0 else {
            box.release()
            return Errno(rc)
        }
        return nil
    }

    /// Ends every sandbox (waiting or running), waits for their threads, removes the parent
    /// cgroup and the socket (only if the name still is this pool's socket).
    private func teardown() {
        let (waiting, busy): ([PoolSlot], [PoolSlot]) = lock.withLock {
            stopping = true
            lock.broadcast()
            return (ready, running)
        }
        for s in waiting + busy { s.cancel() }
        if acceptStop[1] >= 0 {
            var one: UInt8 = 1
            _ = write(acceptStop[1], &one, 1)
        }
        lock.withLock {
            // Preparing slots find `stopping` when they become ready; every thread ends.
            while live > 0 {
                for s in ready + running { s.cancel() }
                lock.wait(until: Date().addingTimeInterval(0.2))
            }
        }
        // The socket is closed once no thread polls it (its number could be another fd's after).
        lock.withLock {
            while acceptors > 0 { lock.wait(until: Date().addingTimeInterval(0.2)) }
        }
        if listenFD >= 0 {
            PoolSocket.remove(path: options.socketPath, device: socketIdentity.device, inode: socketIdentity.inode)
            close(listenFD)
            listenFD = -1
        }
        removeParentCgroup()
        // A `stop` served from here on (a handler thread still reading its request) answers at
        // once (everything is torn down) instead of writing to a wake pipe that is closed, whose
        // number could be another fd's by then, or waiting in a list no one answers.
        let waiters: [Int32] = lock.withLock {
            wakeClosed = true
            for fd in wake + acceptStop where fd >= 0 { close(fd) }
            wake = [-1, -1]
            acceptStop = [-1, -1]
            if refillTimer >= 0 { close(refillTimer); refillTimer = -1 }
            defer { stopWaiters = [] }
            return stopWaiters
        }
        for c in waiters {
            try? PoolSocket.send(c, Array("stopped".utf8))
            close(c)
        }
    }

    private func makeParentCgroup() throws(LaunchError) {
        let limits = prepared.cgroupLimits
        guard !limits.requested.isEmpty else { return }
        guard let leaf = CgroupLeafName.forCurrentProcess(sequence: 0) else {
            throw LaunchError(operation: "name the pool's cgroup (read /proc/self/stat)")
        }
        let path = ["pool", leaf.description]
        do {
            let host = try CgroupHost.detect()
            parentCgroup = try SandboxCgroup.create(host: host, path: path, limits: limits.pooled(size: options.size),
                                                    bestEffort: prepared.profile.enforcement == .bestEffort)
            parentPath = path
        } catch {
            throw LaunchError("set up the pool's cgroup", wrapping: error, hint: "run `bulkhead doctor`")
        }
    }

    private func removeParentCgroup() {
        guard let cg = parentCgroup else { return }
        _ = cg.killAll()
        try? cg.remove(pruneAncestors: false)
        parentCgroup = nil
    }

    /// Starts sandboxes until `size` are ready or on their way. Called when a sandbox ended or
    /// failed, when a served client got its status, when the refill timer fires and when a
    /// request finds no sandbox ready (`take`).
    func refill() {
        var start: [(Int, Int)] = [] // (serial, delay ms)
        lock.withLock {
            while !stopping && ready.count + preparing < options.size {
                preparing += 1
                live += 1
                serial += 1
                // After failures, wait before the next attempt (0.1 s doubling to 2 s).
                let delay = consecutiveFailures == 0 ? 0 : min(2000, 100 << min(consecutiveFailures, 5))
                start.append((serial, delay))
            }
        }
        for (n, delay) in start {
            guard let e = Self.startThread({ [self] in
                if delay > 0 { usleep(UInt32(delay) * 1000) }
                runSlot(serial: n)
            }) else { continue }
            // No thread for it (a threads or pids limit): not preparing after all; a failure, and
            // the refill timer tries again after the back-off.
            lock.withLock {
                preparing -= 1
                live -= 1
                failed += 1
                consecutiveFailures += 1
                lastError = LaunchErrorReport(step: nil, operation: "start a thread for the sandbox", errno: e.name,
                                              message: "start a thread for the sandbox: \(e)")
                if refillTimer >= 0, !stopping {
                    refillArmed = PoolSocket.arm(refillTimer, seconds: Double(min(2000, 100 << min(consecutiveFailures, 5))) / 1000)
                }
                lock.broadcast()
            }
        }
    }

    /// One slot's whole life, on its own thread (the init's parent thread: PDEATHSIG follows it).
    private func runSlot(serial n: Int) {
        var pair: [Int32] = [-1, -1]
        guard socketpair(AF_UNIX, Int32(SOCK_SEQPACKET.rawValue) | Int32(SOCK_CLOEXEC.rawValue), 0, &pair) == 0 else {
            let e = Errno.current
            slotEnded(nil, error: LaunchErrorReport(step: nil, operation: "socketpair", errno: e.name, message: "socketpair: \(e)"))
            return
        }
        let slot = PoolSlot(serial: n, channel: pair[0], initEnd: pair[1], pool: self)
        var mine = prepared
        mine.plan.steps = mine.plan.steps.map { if case .waitPoolRequest = $0 { return .waitPoolRequest(fd: pair[1]) }; return $0 }
        let report = Supervisor(prepared: mine, poolSlot: slot, cgroupParent: parentPath).run()
        slot.closeInitEnd()
        close(pair[0])
        if let conn = slot.connection {
            if slot.statusSent { replyReport(conn, report: report) } else { reply(conn, report: report) }
            close(conn)
        }
        slotEnded(slot, error: slot.isAssigned ? report.error : (report.error ?? LaunchErrorReport(step: nil, operation: "prepare the sandbox", errno: nil,
                                                                                                   message: "the sandbox ended before it was ready")))
    }

    /// The init waits for its request: into the ready queue, unless the pool stops.
    func slotReady(_ slot: PoolSlot) -> Bool {
        lock.withLock {
            preparing -= 1
            guard !stopping else { return false }
            consecutiveFailures = 0
            ready.append(slot)
            lock.broadcast()
            return true
        }
    }

    private func slotEnded(_ slot: PoolSlot?, error: LaunchErrorReport?) {
        let wasReady = slot?.wasReady ?? false
        lock.withLock {
            // `slotReady` took it off `preparing` when it became ready; else it is taken off here.
            if !wasReady { preparing -= 1 }
            if let slot, slot.isAssigned {
                running.removeAll { $0 === slot }
                served += 1
                if error != nil { failedRequests += 1 }
            } else if let slot, wasReady {
                ready.removeAll { $0 === slot } // cancelled while waiting
            } else if !stopping {
                failed += 1
                consecutiveFailures += 1
                lastError = error
            }
            live -= 1
            lock.broadcast()
        }
        refill()
    }

    /// Takes the first ready slot (waiting up to the take timeout); nil when none came.
    ///
    /// The slot's replacement is not started here: a refill prepares a whole sandbox (its
    /// cgroup, clone3, the init's mounts: about 10 ms of CPU), and started beside the request it
    /// took the CPU the request's own hand-over, workload start and reply were waiting for (on
    /// 2 cores, 6.4 against 4.1 ms per warm launch, BENCHMARKS.md session 16). It starts once
    /// a served client got its status (`PoolSlot.sendStatus`) or its sandbox ended, or
    /// `replaceAfterSeconds` after the take at the latest (a long-running workload must not keep
    /// the pool short), and at once when a request finds no sandbox ready.
    /// A ready sandbox, waited for up to the take timeout (`wait`), else only when one is ready now.
    private func take(wait: Bool = true) -> PoolSlot? {
        let deadline = Date().addingTimeInterval(options.takeTimeoutSeconds)
        if wait, lock.withLock({ ready.isEmpty }) { refill() }
        let slot: PoolSlot? = lock.withLock {
            while wait && ready.isEmpty && !stopping {
                if !lock.wait(until: deadline) { break }
            }
            guard !stopping, !ready.isEmpty else { return nil }
            let s = ready.removeFirst()
            running.append(s)
            if !refillArmed, refillTimer >= 0 { refillArmed = PoolSocket.arm(refillTimer, seconds: Self.replaceAfterSeconds) }
            return s
        }
        if slot != nil && !lock.withLock({ refillArmed }) { refill() } // no timer: at once, as before
        return slot
    }

    // MARK: One connection

    /// Whom the socket serves (SO_PEERCRED): root, the pool's own uid, or the socket's group.
    func allowed(_ peer: PoolSocket.Peer) -> Bool {
        peer.uid == 0 || peer.uid == getuid() || (options.group.map { $0 == peer.gid } ?? false)
    }

    /// A request read by a quick `handle` that would then have had to wait, or be refused.
    struct WaitingRequest {
        var bytes: [UInt8]
        var fds: [Int32]
        var receivedAt: Double
        /// Why it is refused, when the quick `handle` found out: the refusal closes the client's
        /// fds and connection, and a close may wait (a FUSE file's FLUSH waits for its server,
        /// a socket's SO_LINGER for its peer), so it is never made on the acceptor.
        var refusal: LaunchError? = nil
    }

    enum Handled {
        case done
        /// `quick` only: nothing was answered; the request, when it was read already.
        case waiting(WaitingRequest?)
    }

    /// Serves one connection: answers it, or hands it to a sandbox's slot. `quick`: only when
    /// nothing would wait (the request is there, a sandbox is ready, it is not a control word,
    /// it is not refused: a refusal closes what the client sent, and a close may wait); else
    /// `.waiting` with what was read, for a call that may wait (`received`).
    private func handle(_ conn: Int32, quick: Bool, received: WaitingRequest? = nil) -> Handled {
        let receivedAt = received?.receivedAt ?? Monotonic.now()
        if let received, let refusal = received.refusal {
            refuse(conn, received.fds, refusal)
            return .done
        }
        guard let peer = PoolSocket.peer(conn), allowed(peer) else {
            // Closing the connection drops what it still carries (fds in unread messages).
            if quick { return .waiting(nil) }
            let uid = PoolSocket.peer(conn).map { String($0.uid) } ?? "?"
            refuse(conn, received?.fds ?? [], LaunchError(operation: "the pool at \(options.socketPath) serves only uid \(getuid())\(options.group.map { " and gid \($0)" } ?? "") (and root); uid \(uid) was refused",
                                                        errno: Errno(EACCES)))
            return .done
        }
        let message: (bytes: [UInt8], fds: [Int32])
        if let received {
            message = (received.bytes, received.fds)
        } else {
            // The request: one message, within 10 s, bounded (bh_pool_receive refuses more).
            var p = pollfd(fd: conn, events: Int16(POLLIN), revents: 0)
            while poll(&p, 1, quick ? 0 : 10_000) < 0 && errno == EINTR {}
            if quick && p.revents == 0 { return .waiting(nil) }
            // A refused message's fds are closed after the answer, off the acceptor (`refuse`).
            switch PoolSocket.receiveKeeping(conn, nonblocking: true) {
            case .success(let m): message = m
            case .failure(let refused):
                let refusal = LaunchError("read the request", wrapping: refused.error)
                if quick { return .waiting(WaitingRequest(bytes: [], fds: refused.fds, receivedAt: receivedAt, refusal: refusal)) }
                refuse(conn, refused.fds, refusal)
                return .done
            }
        }
        if message.fds.isEmpty, let control = String(bytes: message.bytes, encoding: .utf8), ["status", "stop"].contains(control) {
            if quick { return .waiting(WaitingRequest(bytes: message.bytes, fds: message.fds, receivedAt: receivedAt)) }
            control == "status" ? status(conn, peer: peer) : stop(conn, peer: peer)
            return .done
        }
        let handoff: PoolHandoff
        do throws(LaunchError) {
            let asked: PoolRequest
            do { asked = try PoolRequest.decode(message.bytes, fdCount: message.fds.count) } catch { throw LaunchError("check the request", wrapping: error) }
            do { try PoolSocket.checkPassed(fds: message.fds) } catch { throw LaunchError("check the request's fds", wrapping: error) }
            handoff = PoolHandoff(request: try checked(asked), timeoutSeconds: nil, receivedAt: receivedAt,
                                  report: PoolRunReport(socket: options.socketPath, sandbox: 0, poolPID: getpid()))
        } catch {
            if quick { return .waiting(WaitingRequest(bytes: message.bytes, fds: message.fds, receivedAt: receivedAt, refusal: error)) }
            refuse(conn, message.fds, error)
            return .done
        }
        guard let slot = take(wait: !quick) else {
            if quick { return .waiting(WaitingRequest(bytes: message.bytes, fds: message.fds, receivedAt: receivedAt)) }
            let why = lastErrorText(for: peer).map { "; the last sandbox failed: \($0)" } ?? ""
            refuse(conn, message.fds, LaunchError(operation: "no sandbox of the pool was ready within \(Int(options.takeTimeoutSeconds)) s\(why)", errno: Errno(EAGAIN)))
            return .done
        }
        var h = handoff
        h.report.sandbox = slot.serial
        if !slot.assign(PoolSlot.Assignment(handoff: h, fds: message.fds, connection: conn)) {
            let refusal = LaunchError(operation: "the pool is stopping", errno: Errno(ESHUTDOWN))
            if quick { return .waiting(WaitingRequest(bytes: message.bytes, fds: message.fds, receivedAt: receivedAt, refusal: refusal)) }
            refuse(conn, message.fds, refusal)
        }
        // From here the slot's thread owns the connection and replies with the report.
        return .done
    }

    /// The profile's rules over a client's request: each variable a valid name (FieldRules),
    /// over the profile's environment; PATH search as `run` does it; the working directory
    /// absolute (the init resolves it inside the root), else the profile's.
    func checked(_ r: PoolRequest) throws(LaunchError) -> PoolRequest {
        // An empty command name finds nothing to run: refused here, before a sandbox is taken.
        guard let name = r.argv.first, !name.isEmpty else {
            throw LaunchError(ConfigError(file: FieldRules.commandLine, field: "command", message: "the command's name (argv[0]) is empty"))
        }
        var env = prepared.plan.environment
        for e in r.environment {
            guard let eq = e.firstIndex(of: "="), case .success(let name) = FieldRules.envName(String(e[..<eq])) else {
                throw LaunchError(ConfigError(file: FieldRules.commandLine, field: "--env", message: "expected NAME=VALUE with a valid name"))
            }
            env.removeAll { $0.hasPrefix(name + "=") }
            env.append(e)
        }
        var cwd = r.workingDirectory
        if cwd.isEmpty { cwd = prepared.profile.workingDir }
        guard cwd.hasPrefix("/"), cwd.utf8.count < Int(PATH_MAX) else {
            throw LaunchError(ConfigError(file: FieldRules.commandLine, field: "--workdir", message: "expected an absolute path"))
        }
        let path = env.last { $0.hasPrefix("PATH=") }.map { String($0.dropFirst(5)) }
        return PoolRequest(argv: r.argv, environment: env, execPaths: LaunchPlanner.execPaths(r.argv[0], path: path), workingDirectory: cwd)
    }

    // MARK: Replies

    /// The reply: one message with the exit status (4 bytes) and what to print on stderr, then
    /// the report's JSON in messages of at most 32 KiB, then the end of the connection. A
    /// served sandbox sends the first as soon as its workload was reaped (`PoolSlot.sendStatus`)
    /// and the rest after the cgroup's statistics and removal: a client without --report exits
    /// on the status.
    func reply(_ conn: Int32, report: RunReport, message: String? = nil) {
        replyStatus(conn, report: report, message: message)
        replyReport(conn, report: report)
    }

    func replyStatus(_ conn: Int32, report: RunReport, message: String? = nil) {
        var text = message ?? ""
        if message == nil, let e = report.error {
            text = report.reason == .execFailed ? e.message : "cannot start the sandbox: \(e.message)"
        }
        if message == nil, let refused = report.seccompViolations {
            for v in refused { text += (text.isEmpty ? "" : "\n") + "seccomp: \(v.line)" }
        }
        var status = report.exitCode
        var head = withUnsafeBytes(of: &status) { Array($0) } + Array(text.utf8.prefix(16_384))
        if head.isEmpty { head = [0] }
        try? PoolSocket.send(conn, head)
    }

    func replyReport(_ conn: Int32, report: RunReport) {
        let json = Array((encode(report) + "\n").utf8)
        var at = 0
        while at < json.count {
            let end = min(json.count, at + 32_768)
            guard (try? PoolSocket.send(conn, Array(json[at..<end]))) != nil else { break }
            at = end
        }
    }

    /// The answer goes first: a close of a client's fd may wait on its filesystem (a FUSE
    /// file's FLUSH waits for its server), and the client must not wait for that.
    private func refuse(_ conn: Int32, _ fds: [Int32], _ error: LaunchError) {
        reply(conn, report: .failedBeforeLaunch(command: [], profile: options.profileName, error: error), message: "cannot start the sandbox: \(error)")
        close(conn)
        for fd in fds { close(fd) }
    }

    /// `pool status`: what the pool holds, as JSON.
    private func status(_ conn: Int32, peer: PoolSocket.Peer) {
        let lastError = lastErrorText(for: peer)
        let s: PoolStatus = lock.withLock {
            PoolStatus(socket: options.socketPath, pid: getpid(), profile: options.profileName, size: options.size, ready: ready.count,
                       preparing: preparing, running: running.count, served: served, failedRequests: failedRequests, failed: failed, lastError: lastError,
                       cgroup: parentPath.map { "bulkhead/" + $0.joined(separator: "/") })
        }
        let data = (try? JSONEncoder().encode(s)) ?? Data()
        try? PoolSocket.send(conn, Array(data))
        close(conn)
    }

    /// Why the last sandbox failed, for `pool status` and a refused request: the whole message
    /// for the pool's own uid and root; for anyone else the socket serves (its group), the step
    /// and the errno only. The message may name paths and values of the profile or the host
    /// (a mount source, a cgroup directory) that are the pool owner's business.
    func lastErrorText(for peer: PoolSocket.Peer) -> String? {
        guard let e = lock.withLock({ lastError }) else { return nil }
        if peer.uid == 0 || peer.uid == getuid() { return e.message }
        return (e.step.map { "step \($0)" } ?? "before the launch steps") + ", errno " + (e.errno ?? "none")
    }

    /// `pool stop`: only the pool's own uid or root; the reply comes after the teardown.
    private func stop(_ conn: Int32, peer: PoolSocket.Peer) {
        guard peer.uid == 0 || peer.uid == getuid() else {
            try? PoolSocket.send(conn, Array("refused: only uid \(getuid()) or root stops this pool".utf8))
            close(conn)
            return
        }
        // Under the lock teardown closes the wake pipe with: queued and woken, or answered now.
        let queued: Bool = lock.withLock {
            guard !wakeClosed else { return false }
            stopWaiters.append(conn)
            var one: UInt8 = 1
            _ = write(wake[1], &one, 1) // non-blocking: a full pipe already wakes the main loop
            return true
        }
        if !queued {
            try? PoolSocket.send(conn, Array("stopped".utf8))
            close(conn)
        }
    }
}

/// `bulkhead pool status`.
public struct PoolStatus: Codable, Sendable, Equatable {
    public var socket: String
    public var pid: Int32
    public var profile: String
    public var size: Int
    public var ready: Int
    public var preparing: Int
    public var running: Int
    /// Requests handed a sandbox.
    public var served: Int
    /// Of those, the requests whose workload never started (the client's report says why).
    public var failedRequests: Int
    /// Sandboxes that failed before they were ready (`lastError` says why).
    public var failed: Int
    public var lastError: String?
    public var cgroup: String?
}

extension CgroupLimits {
    /// The warm pool's parent cgroup: `size` times each bound that adds up (memory, swap,
    /// pids, CPU quota over the same period); weights, cpuset and io.max stay per sandbox, on
    /// each leaf. A product that overflows is no bound at the parent (each leaf keeps its own).
    func pooled(size: Int) -> CgroupLimits {
        var l = self
        let n = UInt64(size)
        func times(_ v: UInt64?) -> UInt64? {
            guard let v else { return nil }
            let (p, o) = v.multipliedReportingOverflow(by: n)
            return o ? nil : p
        }
        l.memoryMax = times(memoryMax)
        l.memoryHigh = times(memoryHigh)
        l.memorySwapMax = times(memorySwapMax)
        l.pidsMax = times(pidsMax)
        l.cpuQuotaMicros = times(cpuQuotaMicros)
        l.ioWeight = nil
        l.ioMax = []
        l.cpuWeight = nil
        return l
    }
}
