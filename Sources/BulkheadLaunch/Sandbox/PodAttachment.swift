import BulkheadModel
import BulkheadSystem
import Glibc
import Synchronization

/// What a container of a pod needs from its pod: the holder's namespaces to join, the pod's
/// cgroup to live under, and the pod's signal router. One value, copied to every container's
/// supervisor thread.
package struct PodAttachment: Sendable {
    /// (fd, namespace), the user namespace first. The fds belong to the pod runner (its
    /// `PodHolder`), which closes them after every container thread is done; the threads only
    /// read the numbers (setns in the trampoline).
    package var join: [(fd: Int32, namespace: Namespace)]
    /// [tenant, pod]: the container's cgroup is bulkhead/<tenant>/<pod>/<leaf>.
    package var cgroupPath: [String]
    package var signals: SignalRouter

    package init(join: [(fd: Int32, namespace: Namespace)], cgroupPath: [String], signals: SignalRouter) {
        self.join = join; self.cgroupPath = cgroupPath; self.signals = signals
    }
}

/// Forwards the signals the pod runner receives to every running container's init. Shared by
/// the pod runner's thread (`forward`) and every container's supervisor thread (`register`,
/// `unregister`): the set of inits and the names forwarded are under one `Mutex`. A supervisor
/// unregisters its init before it closes it, and `SandboxInit.kill` after a close reports
/// ESRCH, so a signal never reaches a descriptor or pid that is no longer the init's.
package final class SignalRouter: Sendable {
    private struct State {
        var inits: [ObjectIdentifier: SandboxInit] = [:]
        var forwarded: [String] = []
    }
    private let state = Mutex(State())

    package init() {}

    package func register(_ init_: SandboxInit) { state.withLock { $0.inits[ObjectIdentifier(init_)] = init_ } }
    package func unregister(_ init_: SandboxInit) { state.withLock { _ = $0.inits.removeValue(forKey: ObjectIdentifier(init_)) } }

    /// The signals forwarded so far, by name, in order.
    package var forwarded: [String] { state.withLock { $0.forwarded } }

    package func forward(_ sig: Int32) {
        state.withLock { s in
            for i in s.inits.values { try? i.kill(sig) }
            s.forwarded.append(SignalName.name(sig))
        }
    }
}
