import BulkheadModel
import BulkheadSystem
import CShims
import Glibc

/// What a container of a pod needs from its pod: the holder's namespaces to join, the pod's
/// cgroup to live under, and the pod's signal router.
struct PodAttachment: @unchecked Sendable {
    /// (fd, namespace), the user namespace first; the fds belong to the pod runner.
    var join: [(fd: Int32, namespace: Namespace)]
    /// [tenant, pod]: the container's cgroup is bulkhead/<tenant>/<pod>/<leaf>.
    var cgroupPath: [String]
    var signals: SignalRouter
}

/// Forwards the signals the pod runner receives to every running container's init.
final class SignalRouter: @unchecked Sendable {
    private var lock = pthread_mutex_t()
    private var pidfds: Set<Int32> = []
    private(set) var forwarded: [String] = []

    init() { pthread_mutex_init(&lock, nil) }
    deinit { pthread_mutex_destroy(&lock) }

    func register(_ fd: Int32) { pthread_mutex_lock(&lock); pidfds.insert(fd); pthread_mutex_unlock(&lock) }
    func unregister(_ fd: Int32) { pthread_mutex_lock(&lock); pidfds.remove(fd); pthread_mutex_unlock(&lock) }

    func forward(_ sig: Int32) {
        pthread_mutex_lock(&lock)
        for fd in pidfds { _ = bh_pidfd_send_signal(fd, sig) }
        forwarded.append(SignalName.name(sig))
        pthread_mutex_unlock(&lock)
    }
}
