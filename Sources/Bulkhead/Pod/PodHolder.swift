import BulkheadLaunch
import BulkheadModel
import BulkheadSystem
import Glibc

/// A pod's holder, the pause container's analogue: a process that owns the pod's user and IPC
/// namespaces (and the PID namespace when the pod shares it), so that the pod's containers can
/// join them and the namespaces outlive any one container.
///
/// The pod's network namespace is not the holder's: the launcher creates it as root (owned by
/// the initial user namespace, `NetworkNamespace.createAnonymous`) and the holder joins it
/// before it creates its user namespace, as a CNI runtime creates the netns and the pause
/// container joins it by path. Capabilities inside the pod's user namespace, NET_ADMIN
/// included, then count for nothing there: the kernel checks them against the network
/// namespace's owner, so no container can change its qdiscs, addresses, routes or neighbours.
///
/// Owned by the pod runner's thread: the container threads get only copies of the
/// `namespaceFDs` numbers (`PodAttachment`), which `stop` closes after every container is done.
final class PodHolder {
    /// The holder's process (its pidfd and pipes), closed by `stop`.
    private let process: SandboxInit
    /// The namespaces the pod's containers join, as open fds, in the order setns needs: the
    /// network namespace first (joined while the container's trampoline is still root in the
    /// initial user namespace, the only one with CAP_SYS_ADMIN over it), then the user
    /// namespace (which grants what joining the rest needs), IPC and PID.
    private(set) var namespaceFDs: [(fd: Int32, namespace: Namespace)] = []
    private var stopped = false

    private init(process: SandboxInit) { self.process = process }

    /// Starts the holder inside `network` (when given; loopback is the caller's to bring up)
    /// and waits until its namespaces are ready (ids mapped, privileges dropped). Signals must
    /// already be blocked by the caller.
    static func start(namespaces requested: Set<Namespace>, hostIDRange: IDRange, network: NetworkNamespace?) throws(LaunchError) -> PodHolder {
        // With a network namespace given, the holder joins it rather than creating its own.
        let namespaces = network == nil ? requested : requested.subtracting([.network])
        var join: [(fd: Int32, namespace: Namespace)] = []
        if let network {
            guard let fd = network.fileDescriptor else { throw LaunchError(operation: "join the pod's network namespace: it is closed") }
            // The holder's own copy: `stop` closes every fd of namespaceFDs.
            let copy = fcntl(fd, F_DUPFD_CLOEXEC, 0)
            guard copy >= 0 else { throw LaunchError(operation: "duplicate the pod's network namespace fd", errno: .current) }
            join = [(copy, .network)]
        }
        let identity = HostIdentity.current()
        let context = LaunchContext(callerUID: identity.uid, callerGID: identity.gid, privileged: identity.privileged,
                                    defaultHostIDRange: hostIDRange, hasSeccomp: false)
        let plan = LaunchPlanner.holderPlan(namespaces: namespaces, hostIDRange: hostIDRange, context: context)
        // The pod's user namespace is owned by the tenant range's uid in the owner band, which no
        // range maps (IDRange): not root, so per-user kernel budgets inside it are the range's
        // block's, and no process of any pod is the owner (holderPlan's userNamespaceOwner).
        let child: SandboxInit
        do {
            child = try ChildSpawner.spawn(plan: plan, seccompProgram: nil, cgroupFD: nil, join: join)
        } catch {
            for (fd, _) in join { close(fd) }
            throw LaunchError("start the pod's holder", wrapping: error)
        }
        let holder = PodHolder(process: child)
        holder.namespaceFDs = join
        do throws(LaunchError) {
            // The id maps and the release, then the holder's one message: as every init's.
            do throws(LaunchError) { try child.mapIDsAndRelease(plan) } catch { throw LaunchError("the pod's holder", wrapping: error) }
            switch try? child.nextMessage() {
            case .some(.execSucceeded): break
            case .some(.stepFailed(let step, let e)):
                throw LaunchError("the pod's holder", wrapping: LaunchError(stepFailed: step, errno: e, in: plan))
            default:
                throw LaunchError(operation: "the pod's holder ended before its namespaces were ready")
            }
            // After the network namespace, the user namespace: joining it grants what joining
            // the others needs.
            for ns in [Namespace.user, .network, .ipc, .pid] where plan.namespaces.contains(ns) {
                let name = ["user": "user", "network": "net", "ipc": "ipc", "pid": "pid"][ns.rawValue]!
                let fd = open("/proc/\(child.pid)/ns/\(name)", O_RDONLY | O_CLOEXEC)
                guard fd >= 0 else { throw LaunchError(operation: "open the pod's \(name) namespace", errno: .current) }
                holder.namespaceFDs.append((fd, ns))
            }
        } catch {
            holder.stop()
            throw error
        }
        return holder
    }

    /// Kills the holder (its namespaces go with it once no container is left in them) and reaps it.
    func stop() {
        guard !stopped else { return }
        stopped = true
        try? process.kill(SIGKILL)
        _ = process.reap()
        for (fd, _) in namespaceFDs { close(fd) }
        namespaceFDs = []
        process.close()
    }
}
