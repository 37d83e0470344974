import BulkheadModel
import CShims
import Glibc

/// What the launcher does with a call the policy refuses (bh_seccomp_notify.h).
public enum SeccompNotifyMode: Sendable, Equatable {
    /// `bulkhead run`: calls the policy refuses with an errno are answered with that errno and
    /// counted; kill, trap and trace actions stay the kernel's own.
    case report
    /// `bulkhead seccomp verify`: every call the policy would refuse is counted and then runs.
    case verify
}

/// The notifying variant of a compiled program: the same instructions, with the refusing RETs
/// made `SECCOMP_RET_USER_NOTIF`. An allowed call walks the same instructions to the same RET
/// ALLOW, so it costs what it cost.
public enum SeccompNotifyProgram {
    static let retK: UInt16 = 0x06          // BPF_RET | BPF_K
    static let retA: UInt16 = 0x16          // BPF_RET | BPF_A
    static let userNotif: UInt32 = 0x7fc0_0000

    /// Nil when the program returns a computed value (BPF_RET | BPF_A; libseccomp never emits
    /// it) or is not a whole number of instructions: no variant, nothing reported.
    public static func variant(of plain: [UInt8], mode: SeccompNotifyMode) -> [UInt8]? {
        guard !plain.isEmpty, plain.count % 8 == 0 else { return nil }
        var out = plain
        for at in stride(from: 0, to: plain.count, by: 8) {
            let code = UInt16(plain[at]) | UInt16(plain[at + 1]) << 8
            if code == retA { return nil }
            guard code == retK else { continue }
            let k = UInt32(plain[at + 4]) | UInt32(plain[at + 5]) << 8 | UInt32(plain[at + 6]) << 16 | UInt32(plain[at + 7]) << 24
            let refuses = mode == .report ? SeccompReturn(k).isErrno : SeccompReturn(k).refuses
            guard refuses else { continue }
            withUnsafeBytes(of: userNotif.littleEndian) { for i in 0..<4 { out[at + 4 + i] = $0[i] } }
        }
        return out
    }

    /// What `plain` returns for a call: the kernel's own interpreter's answer (bh_bpf_run).
    public static func evaluate(_ plain: [UInt8], _ data: bh_seccomp_data) -> SeccompReturn {
        var d = data
        return SeccompReturn(plain.withUnsafeBufferPointer { bh_bpf_run($0.baseAddress!, UInt32(clamping: $0.count), &d) })
    }
}

/// A `SECCOMP_RET_*` value.
public struct SeccompReturn: Equatable, Sendable {
    public let raw: UInt32
    public init(_ raw: UInt32) { self.raw = raw }
    var action: UInt32 { raw & 0xffff_0000 }
    var data: UInt32 { raw & 0xffff }
    public var isErrno: Bool { action == 0x0005_0000 }
    /// Anything but ALLOW, LOG and USER_NOTIF stops the call.
    public var refuses: Bool { ![0x7fff_0000, 0x7ffc_0000, 0x7fc0_0000].contains(action) }
    /// The errno an ERRNO action returns (the kernel caps it at MAX_ERRNO, 4095).
    public var errno: Int32 { Int32(min(data, 4095)) }
    /// As a policy spells it: `SCMP_ACT_ERRNO(EPERM)`, `SCMP_ACT_KILL_PROCESS` …
    public var policySpelling: String {
        switch action {
        case 0x8000_0000: return "SCMP_ACT_KILL_PROCESS"
        case 0x0000_0000: return "SCMP_ACT_KILL_THREAD"
        case 0x0003_0000: return "SCMP_ACT_TRAP"
        case 0x0005_0000: return "SCMP_ACT_ERRNO(\(Errno(errno).name))"
        case 0x7ff0_0000: return "SCMP_ACT_TRACE(\(data))"
        case 0x7fc0_0000: return "SCMP_ACT_NOTIFY"
        case 0x7ffc_0000: return "SCMP_ACT_LOG"
        case 0x7fff_0000: return "SCMP_ACT_ALLOW"
        default: return "0x" + String(raw, radix: 16)
        }
    }
}

/// The launcher's side of a sandbox's listener: the channel the workload sends it over, then the
/// listener itself, answered from the supervisor's poll loop. Owns both fds; `close` once.
///
/// Safety: the answer to a notification is what the plain program returns for the same call
/// (`SeccompNotifyProgram.evaluate`), so the workload sees exactly the policy's errno. If the
/// launcher dies, the listener closes and the kernel answers every refused call with ENOSYS
/// (seccomp_do_user_notification): still refused, never run.
public final class SeccompNotifier {
    public let mode: SeccompNotifyMode
    let plain: [UInt8]
    /// The notifying variant (bh_seccomp_notify_config).
    public let notifying: [UInt8]
    private var channel: Int32
    /// The workload's end, for bh_spawn_config; closed by `spawned()`.
    public private(set) var sandboxEnd: Int32
    private var listener: Int32 = -1
    /// Why nothing is reported, once known (the channel closed without a listener).
    public private(set) var unavailable: String?
    private var counts: [Key: Int] = [:]
    /// (audit arch, number) → (architecture, name): the table lookup is a scan, once per call kind.
    private var names: [UInt64: (String, String)] = [:]
    private var order: [Key] = []
    /// The answers' CPU budget: the share of one CPU the sandbox's cpu.max gives it (quota over
    /// period), when that is less than one CPU. The launcher answers on its own CPU, outside the
    /// sandbox's cgroup; after each batch it pauses its answers (the callers wait in the kernel,
    /// spending nothing) long enough that its answering never takes more than this share.
    /// Nil: no CPU limit, or one of a CPU or more (one launcher thread never exceeds that).
    public var cpuShare: Double? {
        didSet { if let s = cpuShare, !(s > 0 && s < 1) { cpuShare = nil } }
    }
    /// The launcher's own CPU spent answering, and how long it paused its answers for the budget.
    public private(set) var answerCPUSeconds: Double = 0
    public private(set) var pausedSeconds: Double = 0
    /// Monotonic time before which the listener is not polled (the budget's pause).
    private var resumeAt: Double = 0

    struct Key: Hashable {
        var arch: String, number: Int32, name: String, errno: String?, action: String?, executable: String?
    }

    /// Nil when the program has no notifying variant.
    public init?(program: [UInt8], mode: SeccompNotifyMode) throws(SystemError) {
        guard let v = SeccompNotifyProgram.variant(of: program, mode: mode) else { return nil }
        var l: Int32 = -1, s: Int32 = -1
        let rc = bh_terminal_channel(&l, &s)
        guard rc == 0 else { throw SystemError("open the channel for the seccomp listener", errno: Errno(rc)) }
        self.mode = mode
        plain = program
        notifying = v
        channel = l
        sandboxEnd = s
    }

    /// After bh_spawn: the launcher's copy of the sandbox's end goes, so that the channel reads
    /// EOF once the workload has closed its own.
    public func spawned() {
        if sandboxEnd >= 0 { Glibc.close(sandboxEnd); sandboxEnd = -1 }
    }

    /// The fds to poll: the channel until the listener came, then the listener.
    public var pollFDs: [pollfd] {
        if listener >= 0, Monotonic.now() < resumeAt { return [pollfd(fd: -1, events: 0, revents: 0)] }
        if listener >= 0 { return [pollfd(fd: listener, events: Int16(POLLIN), revents: 0)] }
        if channel >= 0 { return [pollfd(fd: channel, events: Int16(POLLIN), revents: 0)] }
        return [pollfd(fd: -1, events: 0, revents: 0)]
    }

    /// When the budget's pause ends (monotonic seconds), for the supervisor's poll timeout; nil
    /// when the listener is not paused.
    public var wakeAt: Double? {
        listener >= 0 && resumeAt > Monotonic.now() ? resumeAt : nil
    }

    /// Handles what poll found on `pollFDs`.
    public func handle(_ fds: ArraySlice<pollfd>) {
        guard let p = fds.first, p.revents != 0 else { return }
        if p.fd == channel { takeListener(); return }
        guard p.fd == listener else { return }
        if p.revents & Int16(POLLIN) != 0 {
            // A bounded batch, so that signals and the deadline keep their turn under a flood.
            let cpu0 = Self.threadCPU()
            answerOne()
            for _ in 0..<63 {
                var one = pollfd(fd: listener, events: Int16(POLLIN), revents: 0)
                guard poll(&one, 1, 0) == 1, one.revents & Int16(POLLIN) != 0 else { break }
                answerOne()
            }
            let used = max(0, Self.threadCPU() - cpu0)
            answerCPUSeconds += used
            if let share = cpuShare {
                // used / (used + pause) = share: the launcher's answering stays within the
                // sandbox's own CPU limit, however the workload floods it.
                let pause = used * (1 / share - 1)
                pausedSeconds += pause
                resumeAt = Monotonic.now() + pause
            }
        } else if p.revents & Int16(POLLHUP | POLLERR | POLLNVAL) != 0 {
            // No task uses the filter any more.
            Glibc.close(listener); listener = -1
        }
    }

    /// After the sandbox ended: answers what is still pending, then closes everything.
    public func finish() {
        if channel >= 0, listener < 0 { takeListener() }
        while listener >= 0 {
            var one = pollfd(fd: listener, events: Int16(POLLIN), revents: 0)
            guard poll(&one, 1, 0) == 1, one.revents & Int16(POLLIN) != 0 else { break }
            answerOne()
        }
        close()
    }

    public func close() {
        spawned()
        if channel >= 0 { Glibc.close(channel); channel = -1 }
        if listener >= 0 { Glibc.close(listener); listener = -1 }
    }

    deinit { close() }

    /// "reported", or why not.
    public var status: String {
        unavailable.map { "not reported: \($0)" } ?? "reported"
    }

    public var violations: [SeccompViolation] {
        SeccompViolation.ordered(order.map { k in
            SeccompViolation(name: k.name, arch: k.arch, number: k.number, count: counts[k] ?? 0,
                             errno: k.errno, action: k.action, executable: k.executable)
        })
    }

    private func takeListener() {
        var fd: Int32 = -1
        let rc = bh_seccomp_receive_listener(channel, &fd)
        if rc == 0, fd < 0 { return }
        Glibc.close(channel); channel = -1
        if rc == 0 {
            listener = fd
        } else if rc == EPIPE {
            unavailable = "no seccomp listener came from the workload (it could not start its hand-over thread: "
                + "RLIMIT_NPROC or the pids limit; or the launch ended before); the kernel enforces the policy all the same"
        } else {
            unavailable = "the seccomp listener did not arrive (\(Errno(rc).name))"
        }
    }

    private func answerOne() {
        var n = bh_seccomp_notification()
        guard bh_seccomp_notify_receive(listener, &n) == 0 else { return }  // ENOENT: the caller went away
        let verdict = SeccompNotifyProgram.evaluate(plain, n.data)
        // The workload picks the numbers: the name cache and the records are bounded (kindLimit).
        // Every recorded kind's name is cached, so a full cache without this call's means a new
        // kind past the bound: counted as more kinds, without looking its name up.
        let nameKey = UInt64(n.data.arch) << 32 | UInt64(UInt32(bitPattern: n.data.nr))
        let pastBound = names[nameKey] == nil && names.count >= SeccompViolation.kindLimit
        var key = Self.moreKinds
        if !pastBound {
            let (arch, name) = names[nameKey] ?? Self.describe(n.data)
            names[nameKey] = (arch, name)
            key = Key(arch: arch, number: n.data.nr, name: name, errno: nil, action: nil, executable: nil)
        }
        switch mode {
        case .report:
            // Only ERRNO RETs notify in this mode, so the plain program says ERRNO; anything else
            // would be a bug and is refused all the same (ENOSYS, as with no listener).
            let e: Int32 = verdict.isErrno ? verdict.errno : ENOSYS
            if !pastBound { key.errno = e == 0 ? "0 (no error)" : Errno(e).name }
            _ = bh_seccomp_notify_respond(listener, n.id, e, 0)
        case .verify:
            if !pastBound {
                key.action = verdict.policySpelling
                key.executable = Self.executable(pid: n.pid)
                // The exe was read while this caller still waited: it is the caller's.
                if bh_seccomp_notify_id_valid(listener, n.id) == 0 { key.executable = nil }
            }
            _ = bh_seccomp_notify_respond(listener, n.id, 0, 1)
        }
        if counts[key] == nil, order.count >= SeccompViolation.kindLimit { key = Self.moreKinds }
        if counts[key] == nil { order.append(key) }
        counts[key, default: 0] += 1
    }

    /// This thread's CPU time in seconds (CLOCK_THREAD_CPUTIME_ID).
    static func threadCPU() -> Double {
        var t = timespec()
        clock_gettime(CLOCK_THREAD_CPUTIME_ID, &t)
        return Double(t.tv_sec) + Double(t.tv_nsec) / 1e9
    }

    /// The record of the calls past `SeccompViolation.kindLimit`.
    static let moreKinds = Key(arch: "*", number: -1, name: SeccompViolation.moreKindsName, errno: nil, action: nil, executable: nil)

    static func executable(pid: UInt32) -> String? {
        var buf = [CChar](repeating: 0, count: Int(PATH_MAX) + 1)
        let n = readlink("/proc/\(pid)/exe", &buf, buf.count - 1)
        guard n > 0 else { return nil }
        // The workload names its files: nothing a terminal acts on (C0 and C1 controls, format
        // characters such as bidirectional overrides, line and paragraph separators) reaches a
        // terminal or a report; each becomes '?'.
        let acted: Set<Unicode.GeneralCategory> = [.control, .format, .lineSeparator, .paragraphSeparator]
        let text = String(decoding: buf[0..<n].map { UInt8(bitPattern: $0) }, as: UTF8.self)
        return String(String.UnicodeScalarView(text.unicodeScalars.map { acted.contains($0.properties.generalCategory) ? "?" : $0 }))
    }

    /// The architecture's policy spelling and the call's name there.
    static func describe(_ d: bh_seccomp_data) -> (String, String) {
        let arch: SeccompArch?
        switch d.arch {
        case 0xC000_003E: arch = d.nr & SyscallTable.x32SyscallBit != 0 ? .x32 : .x86_64
        case 0x4000_0003: arch = .x86
        case 0xC000_00B7: arch = .aarch64
        case 0x4000_0028: arch = .arm
        default: arch = nil
        }
        guard let arch else { return ("AUDIT_ARCH_0x" + String(d.arch, radix: 16), "#\(d.nr)") }
        return (arch.rawValue, SyscallTable.name(of: d.nr, on: arch) ?? "#\(d.nr)")
    }
}
