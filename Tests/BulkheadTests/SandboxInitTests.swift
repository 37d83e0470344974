@testable import Bulkhead
import BulkheadModel
import BulkheadSystem
import Glibc
import Testing

/// `SandboxInit` owns the init's descriptors (pidfd, message pipe, release pipe): it closes
/// them, once, and signals only through the pidfd. In-process, on a real init (a pod holder's
/// plan: a user namespace, ids mapped, privileges dropped, then pause).
@Suite(.enabled(if: Gate.root, Gate.rootReason), .serialized)
struct SandboxInitTests {
    /// This process's open descriptors and what each is (/proc/self/fd links: `pipe:[inode]`,
    /// `pidfd:[inode]`, ...).
    static func openDescriptors() -> [Int32: String] {
        var r: [Int32: String] = [:]
        for name in FileIO.listDirectory("/proc/self/fd") {
            guard let fd = Int32(name) else { continue }
            var buf = [CChar](repeating: 0, count: 256)
            let n = readlink("/proc/self/fd/\(name)", &buf, buf.count - 1)
            if n > 0 { r[fd] = String(decoding: buf[0..<n].map { UInt8(bitPattern: $0) }, as: UTF8.self) }
        }
        return r
    }

    /// What `kill` failed with; nil when the signal was sent.
    static func killErrno(_ child: SandboxInit, _ sig: Int32) -> Errno? {
        do throws(SystemError) { try child.kill(sig); return nil } catch { return error.errno }
    }

    static func holderPlan() -> LaunchPlan {
        let range = EffectiveProfile.defaultHostIDRange
        let context = LaunchContext(callerUID: geteuid(), callerGID: getegid(), privileged: true,
                                    defaultHostIDRange: range, hasSeccomp: false)
        return LaunchPlanner.holderPlan(namespaces: [.user], hostIDRange: range, context: context)
    }

    @Test("SandboxInit: after close the launcher holds none of the init's descriptors, a second close touches nothing, a kill after the reap is ESRCH")
    func ownership() throws {
        let plan = Self.holderPlan()
        let before = Self.openDescriptors()
        let child = try ChildSpawner.spawn(plan: plan, seccompProgram: nil, cgroupFD: nil)
        // The init's three descriptors: its pidfd, the message pipe's read end, the release
        // channel's end (a unix socket: the v1 `tasks` files are sent over it after clone3).
        // Known by what they are (links name the inode), not by their numbers.
        let theirs = Self.openDescriptors().filter { before[$0.key] != $0.value }
        #expect(theirs.count == 3, "\(theirs)")
        #expect(theirs[child.exitPollFD.fd]?.contains("pidfd") == true, "\(theirs)")
        #expect(theirs[child.messagesPollFD().fd]?.hasPrefix("pipe:") == true, "\(theirs)")
        #expect(theirs.values.filter { $0.hasPrefix("pipe:") }.count == 1, "\(theirs)")
        #expect(theirs.values.filter { $0.hasPrefix("socket:") }.count == 1, "\(theirs)")

        // The start every init gets: id maps, release, then its message (the holder's pause).
        try child.writeIDMaps(plan)
        child.release()
        let first = try child.nextMessage()
        guard case .execSucceeded = first else {
            Issue.record("the init did not reach its pause: \(String(describing: first))")
            child.abandon(); child.close()
            return
        }
        #expect(FileIO.read("/proc/\(child.pid)/uid_map")?.contains("2000000000") == true)

        try child.kill(SIGKILL)
        let (status, _) = child.reap()
        #expect(status & 0x7f == SIGKILL, "wait status \(status)")
        // The init is gone and reaped: its pid may belong to anyone now. A kill goes through the
        // pidfd, which still names the dead init: ESRCH, no signal to whoever took the pid.
        #expect(Self.killErrno(child, SIGTERM) == Errno(ESRCH))

        child.close()
        #expect(child.isClosed)
        let after = Self.openDescriptors()
        // By number (nothing opened since) and, for the pipes, by inode wherever they are.
        let left = after.filter { fd, link in theirs[fd] == link || (link.hasPrefix("pipe:") && theirs.values.contains(link)) }
        #expect(left.isEmpty, "the init's descriptors are still open in the launcher: \(left)")

        // Closed once: descriptors that take the numbers back are not closed again. (open(2)
        // takes the lowest free numbers; the spawn freed a few below the init's too.)
        let fresh = (0..<16).map { _ in open("/dev/null", O_RDONLY | O_CLOEXEC) }
        defer { for fd in fresh where fd >= 0 { close(fd) } }
        #expect(!Set(fresh).isDisjoint(with: theirs.keys), "\(fresh) reuse none of \(theirs.keys.sorted())")
        child.close()
        let closedAgain = fresh.filter { fcntl($0, F_GETFD) < 0 }
        #expect(closedAgain.isEmpty, "a second close closed \(closedAgain), which are not the init's")
        // And after the close, still ESRCH: no descriptor left to signal through, no pid fallback.
        #expect(Self.killErrno(child, SIGTERM) == Errno(ESRCH))
    }

    @Test("SandboxInit.abandon: an init that was never released is killed and reaped; nothing of the plan ran")
    func abandonBeforeRelease() throws {
        let plan = Self.holderPlan()
        let child = try ChildSpawner.spawn(plan: plan, seccompProgram: nil, cgroupFD: nil)
        defer { child.close() }
        child.abandon()
        let (status, _) = child.reap()
        #expect(status & 0x7f == SIGKILL, "wait status \(status)")
        // Killed at its first step: it wrote no message.
        #expect(try child.nextMessage() == nil)
    }

    @Test("The shared start (Supervisor and PodHolder): a failed id-map write abandons the init and keeps its errno")
    func mapIDsAndReleaseFailure() throws {
        let plan = Self.holderPlan()
        let child = try ChildSpawner.spawn(plan: plan, seccompProgram: nil, cgroupFD: nil)
        defer { child.close() }
        var caught: LaunchError?
        do throws(LaunchError) {
            try child.mapIDsAndRelease(plan, fault: LaunchError(operation: "write the id maps", errno: Errno(ECANCELED)))
        } catch { caught = error }
        #expect(caught?.errno == Errno(ECANCELED))
        #expect(caught?.report.errno == "ECANCELED")
        // Abandoned: killed at its first step and reaped; no message, no signal reaches it.
        var exit = child.exitPollFD
        let ended = poll(&exit, 1, 2000) == 1
        #expect(ended, "the init still waits at its first step after a failed start")
        if !ended { child.abandon() }
        #expect(child.reap().status & 0x7f == SIGKILL)
        #expect(try child.nextMessage() == nil)
        #expect(Self.killErrno(child, SIGTERM) == Errno(ESRCH))
    }

    @Test("A step the init reports as failed reads the same for a sandbox and a pod's holder: index, summary, errno, hint")
    func stepFailureSummary() throws {
        let plan = Self.holderPlan()
        let uid = try #require(plan.steps.firstIndex { if case .setUID = $0 { return true }; return false })
        let e = LaunchError(stepFailed: uid, errno: Errno(EPERM), in: plan)
        #expect(e.step == uid)
        #expect(e.operation == plan.steps[uid].summary)
        #expect(e.errno == Errno(EPERM))
        #expect(e.hint == StepHints.hint(plan.steps[uid], Errno(EPERM)) && e.hint != nil)
        // The holder wraps it: the text keeps the step and the hint, the report its errno.
        let holder = LaunchError("the pod's holder", wrapping: e)
        #expect(holder.report.errno == "EPERM")
        #expect(holder.description.contains("step \(uid) (") && holder.description.contains(e.hint!), "\(holder)")
        // An index outside the plan (the init's own fd-closing, -1) still names what failed.
        #expect(LaunchError(stepFailed: -1, errno: Errno(EBADF), in: plan).operation.contains("file descriptors"))
    }
}
