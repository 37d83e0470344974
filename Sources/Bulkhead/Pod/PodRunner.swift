import BulkheadModel
import BulkheadSystem
import CShims
import Foundation
import Glibc

/// One container of a pod, ready to run: its profile, its own settings as the top layer, the
/// command.
public struct PodContainerRequest: Sendable {
    public var name: String
    public var profile: String
    public var overrides: ProfileLayer
    public var command: [String]
    /// emptyDir volumes mounted into this container: (volume name, mount path, read-only).
    public var volumeMounts: [(volume: String, path: String, readOnly: Bool)]

    public init(name: String, profile: String, overrides: ProfileLayer, command: [String],
                volumeMounts: [(volume: String, path: String, readOnly: Bool)] = []) {
        self.name = name; self.profile = profile; self.overrides = overrides; self.command = command
        self.volumeMounts = volumeMounts
    }
}

/// A pod, ready to run: what the manifest says, resolved to bulkhead's terms.
public struct PodRequest: Sendable {
    public enum RestartPolicy: String, Sendable { case never = "Never", onFailure = "OnFailure" }

    /// Pods of the default tenant: the range after the one plain `bulkhead run` sandboxes use,
    /// so that no plain sandbox shares a uid (and so a file or a per-uid budget) with a pod.
    public static let defaultTenantRange = IDRange(hostStart: 2_000_065_536, count: 65536)

    public var name: String
    public var tenant: String
    public var containers: [PodContainerRequest]
    public var shareProcessNamespace: Bool
    /// emptyDir volumes: name and size limit (a tmpfs of that size; ENOSPC past it).
    public var volumes: [(name: String, sizeBytes: UInt64)]
    /// The pod cgroup's limits, bounding the sum of its containers.
    public var podLimits: ResourceSpec
    /// The host range of the pod's user namespace (per tenant).
    public var hostIDRange: IDRange
    public var restartPolicy: RestartPolicy
    /// Restarts per container at most (OnFailure).
    public var maxRestarts: Int
    public var timeoutSeconds: Double?
    /// Mount the pod's identity token (`automountServiceAccountToken`, default true).
    public var mountToken = true
    /// Manifest fields accepted but meaningless on one machine, for the report.
    public var ignoredFields: [String] = []
    public var notes: [String] = []

    public init(name: String, tenant: String = "default", containers: [PodContainerRequest], shareProcessNamespace: Bool = false,
                volumes: [(name: String, sizeBytes: UInt64)] = [], podLimits: ResourceSpec = ResourceSpec(),
                hostIDRange: IDRange = PodRequest.defaultTenantRange, restartPolicy: RestartPolicy = .never,
                maxRestarts: Int = 3, timeoutSeconds: Double? = nil) {
        self.name = name; self.tenant = tenant; self.containers = containers
        self.shareProcessNamespace = shareProcessNamespace; self.volumes = volumes; self.podLimits = podLimits
        self.hostIDRange = hostIDRange; self.restartPolicy = restartPolicy; self.maxRestarts = maxRestarts
        self.timeoutSeconds = timeoutSeconds
    }
}

/// The result of a pod run: one report per container and the pod's own facts.
public struct PodReport: Codable, Sendable {
    public struct Container: Codable, Sendable {
        public var name: String
        public var restarts: Int
        public var report: RunReport
    }
    public var pod: String
    public var tenant: String
    /// 0 when every container exited 0; else the first failing container's status.
    public var exitCode: Int32
    public var phase: String
    public var error: String?
    public var sharedNamespaces: [String]
    public var uidMap: String
    public var volumes: [String: String]
    public var tokenPath: String?
    public var podCgroup: CgroupReport?
    public var podLimits: LimitsReport?
    public var containers: [Container]
    public var wallTimeMs: Double
    public var signalsForwarded: [String]
    public var ignoredFields: [String] = []
    public var notes: [String] = []
}

public enum PodRunner {
    /// Where pods keep their emptyDir volumes and identity token: /run/bulkhead/pods/<tenant>_<pod>_<owner>.
    public static let stateRoot = "/run/bulkhead/pods"
    /// Inside every container of a pod: the pod's identity token (the service-account analogue).
    public static let tokenMountPath = "/run/secrets/kubernetes.io/serviceaccount/token"

    /// Runs the pod to completion. Never throws: a failure is a report with phase Failed.
    public static func run(_ request: PodRequest) -> PodReport {
        let start = Monotonic.now()
        var report = PodReport(pod: request.name, tenant: request.tenant, exitCode: 0, phase: "Pending", error: nil,
                               sharedNamespaces: [], uidMap: "", volumes: [:], tokenPath: nil, podCgroup: nil, podLimits: nil,
                               containers: [], wallTimeMs: 0, signalsForwarded: [])
        report.ignoredFields = request.ignoredFields
        report.notes = request.notes
        func fail(_ e: LaunchError) -> PodReport {
            report.phase = "Failed"; report.error = e.description; report.exitCode = ExitStatus.launchFailed
            report.wallTimeMs = (Monotonic.now() - start) * 1000
            return report
        }
        do { try ChildSpawner.becomeSubreaper() } catch { return fail(LaunchError(error)) }
        let sigfd = bh_block_supervisor_signals()
        guard sigfd >= 0 else { return fail(LaunchError(operation: "signalfd", errno: .current)) }
        defer { close(sigfd) }

        // 1. The pod's directory: emptyDir volumes (size-limited tmpfs) and the identity token.
        let state: PodState
        do { state = try PodState.create(request) } catch { return fail(error) }
        defer { state.remove() }
        report.volumes = state.volumeDirectories
        report.tokenPath = request.mountToken ? tokenMountPath : nil

        // 2. The pod's cgroup, bounding the sum of its containers.
        let cgroupName = state.directoryName
        var podCgroup: SandboxCgroup?
        if !request.podLimits.isEmpty {
            var p = EffectiveProfile.defaults
            p.limits = request.podLimits
            let wanted = CgroupSetup.limits(p)
            do {
                let host = try CgroupHost.detect()
                podCgroup = try SandboxCgroup.create(host: host, path: [request.tenant, cgroupName], limits: wanted, bestEffort: false)
                report.podLimits = CgroupSetup.report(p, podCgroup, notEnforcedAll: nil, reason: nil)
            } catch {
                return fail(LaunchError(operation: "set up the pod's cgroup: \(error)"))
            }
        }
        defer {
            if let cg = podCgroup {
                _ = cg.killAll()
                try? cg.remove()
            }
        }

        // 3. The holder: the pod's user, network and IPC namespaces (and PID when shared).
        var shared: Set<Namespace> = [.user, .network, .ipc]
        if request.shareProcessNamespace { shared.insert(.pid) }
        let holder: PodHolder
        do { holder = try PodHolder.start(namespaces: shared, hostIDRange: request.hostIDRange) } catch { return fail(error) }
        defer { holder.stop() }
        report.sharedNamespaces = shared.sorted().map(\.rawValue)
        report.uidMap = "0 \(request.hostIDRange.hostStart) \(request.hostIDRange.count)"

        // 4. The containers, each a sandbox of its profile joining the holder's namespaces.
        let router = SignalRouter()
        let attachment = PodAttachment(join: holder.namespaceFDs, cgroupPath: [request.tenant, cgroupName], signals: router)
        var prepared: [(PodContainerRequest, PreparedLaunch)] = []
        for c in request.containers {
            var overrides = c.overrides
            var binds = overrides.binds ?? []
            for m in c.volumeMounts {
                guard let dir = state.volumeDirectories[m.volume] else {
                    return fail(LaunchError(operation: "container \(c.name): volumeMount names no volume \"\(m.volume)\""))
                }
                binds.append(BindMount(source: dir, destination: m.path, readOnly: m.readOnly))
            }
            if request.mountToken { binds.append(BindMount(source: state.tokenFile, destination: tokenMountPath, readOnly: true, sourceIsFile: true)) }
            overrides.binds = binds
            if overrides.hostname == nil { overrides.hostname = request.name }
            var r = RunRequest(profile: c.profile, overrides: overrides, command: c.command, timeoutSeconds: request.timeoutSeconds)
            r.joinNamespaces = shared
            do {
                // A fresh /run in every container, on top of the profile's own tmpfs mounts: the
                // token's mount point lives there, and the host's /run (runtime sockets, other
                // pods' state) is not visible.
                let base = try Sandbox.prepare(r)
                r.overrides.tmpfs = base.profile.tmpfs.filter { $0.path != "/run" } + [TmpfsMount(path: "/run", sizeBytes: 1 << 20)]
                let p = try Sandbox.prepare(r)
                prepared.append((c, p))
            } catch {
                return fail(LaunchError(operation: "container \(c.name): \(error)"))
            }
        }

        report.phase = "Running"
        let results = ContainerResults(count: prepared.count)
        let done = DispatchGroup()
        for (i, (c, p)) in prepared.enumerated() {
            done.enter()
            let policy = request.restartPolicy, maxRestarts = request.maxRestarts
            Thread.detachNewThread {
                var restarts = 0
                var r = Sandbox.run(p, pod: attachment)
                while policy == .onFailure && r.exitCode != 0 && r.reason != .launchFailed && restarts < maxRestarts {
                    restarts += 1
                    usleep(useconds_t(100_000 * restarts))
                    r = Sandbox.run(p, pod: attachment)
                }
                results.set(i, PodReport.Container(name: c.name, restarts: restarts, report: r))
                done.leave()
            }
        }
        // The launcher's own signals go to every container's init.
        while done.wait(timeout: .now() + .milliseconds(50)) == .timedOut {
            while true {
                let sig = bh_read_signalfd(sigfd)
                if sig <= 0 { break }
                if sig != SIGCHLD { router.forward(sig) }
            }
        }
        report.containers = results.all()
        report.signalsForwarded = router.forwarded
        let failing = report.containers.first { $0.report.exitCode != 0 }
        report.exitCode = failing?.report.exitCode ?? 0
        report.phase = failing == nil ? "Succeeded" : "Failed"
        if let cg = podCgroup {
            let s = cg.stats()
            report.podCgroup = CgroupReport(path: "bulkhead/" + cg.path.joined(separator: "/"), directories: cg.directories,
                                            stats: CgroupUsage(memoryPeakBytes: s.memoryPeakBytes, cpuUsageMicros: s.cpuUsageMicros,
                                                               cpuPeriods: s.cpuPeriods, cpuThrottledPeriods: s.cpuThrottledPeriods,
                                                               cpuThrottledMicros: s.cpuThrottledMicros, oomKills: s.oomKills,
                                                               pidsMaxHits: s.pidsMaxHits), note: nil)
        }
        report.wallTimeMs = (Monotonic.now() - start) * 1000
        return report
    }
}

/// Results of the container threads.
final class ContainerResults: @unchecked Sendable {
    private var lock = pthread_mutex_t()
    private var items: [PodReport.Container?]
    init(count: Int) { items = Array(repeating: nil, count: count); pthread_mutex_init(&lock, nil) }
    func set(_ i: Int, _ c: PodReport.Container) { pthread_mutex_lock(&lock); items[i] = c; pthread_mutex_unlock(&lock) }
    func all() -> [PodReport.Container] { pthread_mutex_lock(&lock); defer { pthread_mutex_unlock(&lock) }; return items.compactMap { $0 } }
}

/// The pod's directory on the host: emptyDir volumes as size-limited tmpfs mounts, and the
/// identity token. Every container of the pod gets them bound in; no other pod can see them
/// (each container's /run is its own tmpfs, and the directory is private to the pod's uid range).
struct PodState {
    let directory: String
    let directoryName: String
    let tokenFile: String
    let volumeDirectories: [String: String]

    static func create(_ r: PodRequest) throws(LaunchError) -> PodState {
        guard let owner = CgroupLeafName.forCurrentProcess(sequence: 0) else { throw LaunchError(operation: "read /proc/self/stat") }
        let dir = path(tenant: r.tenant, pod: r.name)
        for d in ["/run/bulkhead", PodRunner.stateRoot] where mkdir(d, 0o711) != 0 && errno != EEXIST {
            throw LaunchError(operation: "mkdir \(d)", errno: .current, hint: "pods need root (tmpfs volumes are mounted on the host)")
        }
        guard mkdir(dir, 0o711) == 0 else { throw LaunchError(operation: "mkdir \(dir)", errno: .current) }
        var state = PodState(directory: dir, directoryName: "\(r.name)-\(owner.launcherPID)", tokenFile: "\(dir)/token", volumeDirectories: [:])
        do throws(LaunchError) {
            // The token: 32 random bytes, readable by the pod's uid 0 only.
            var rng = SystemRandomNumberGenerator() // getrandom(2)
            let bytes = (0..<32).map { _ in UInt8.random(in: 0...255, using: &rng) }
            let token = bytes.map { ($0 < 16 ? "0" : "") + String($0, radix: 16) }.joined() + "\n"
            try writeFile(state.tokenFile, token, mode: 0o400, owner: r.hostIDRange.hostStart)
            mkdir("\(dir)/volumes", 0o711)
            var vols: [String: String] = [:]
            for v in r.volumes {
                let path = "\(dir)/volumes/\(v.name)"
                guard mkdir(path, 0o700) == 0 else { throw LaunchError(operation: "mkdir \(path)", errno: .current) }
                vols[v.name] = path
                // A tmpfs of the volume's size: writing past sizeLimit gives ENOSPC, as the
                // kubelet's sizeLimit promises (and enforces only by eviction).
                let opts = "size=\(v.sizeBytes),mode=1777,uid=\(r.hostIDRange.hostStart),gid=\(r.hostIDRange.hostStart)"
                guard mount("bulkhead-emptydir", path, "tmpfs", UInt(MS_NOSUID | MS_NODEV), opts) == 0 else {
                    throw LaunchError(operation: "mount the tmpfs of emptyDir \(v.name)", errno: .current)
                }
            }
            state = PodState(directory: dir, directoryName: state.directoryName, tokenFile: state.tokenFile, volumeDirectories: vols)
        } catch {
            state.remove()
            throw error
        }
        return state
    }

    /// The pod's directory for this launcher: /run/bulkhead/pods/<tenant>_<pod>_<pid>-<starttime>.
    static func path(tenant: String, pod: String) -> String {
        let owner = CgroupLeafName.forCurrentProcess(sequence: 0)
        return "\(PodRunner.stateRoot)/\(tenant)_\(pod)_\(owner?.launcherPID ?? getpid())-\(owner?.launcherStartTime ?? 0)"
    }

    static func writeFile(_ path: String, _ text: String, mode: mode_t, owner: UInt32) throws(LaunchError) {
        let fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC | O_NOFOLLOW, mode)
        guard fd >= 0 else { throw LaunchError(operation: "create \(path)", errno: .current) }
        defer { close(fd) }
        var b = Array(text.utf8)
        guard Glibc.write(fd, &b, b.count) == b.count, fchown(fd, owner, owner) == 0 else {
            throw LaunchError(operation: "write \(path)", errno: .current)
        }
    }

    /// Unmounts the volumes and removes the directory; idempotent.
    func remove() {
        for (_, v) in volumeDirectories { umount2(v, Int32(MNT_DETACH)); rmdir(v) }
        for entry in FileIO.listDirectory("\(directory)/volumes") { umount2("\(directory)/volumes/\(entry)", Int32(MNT_DETACH)); rmdir("\(directory)/volumes/\(entry)") }
        rmdir("\(directory)/volumes")
        unlink(tokenFile)
        rmdir(directory)
    }

    /// Pod directories whose launcher is gone: unmount and remove them (`bulkhead gc`).
    static func collectStale() -> [String] {
        var removed: [String] = []
        for name in FileIO.listDirectory(PodRunner.stateRoot) {
            guard let owner = name.split(separator: "_").last, case let f = owner.split(separator: "-"), f.count == 2,
                  let pid = Int32(f[0]), let st = UInt64(f[1]) else { continue }
            if CgroupLeafName(launcherPID: pid, launcherStartTime: st, sequence: 0).launcherIsAlive { continue }
            let dir = "\(PodRunner.stateRoot)/\(name)"
            PodState(directory: dir, directoryName: name, tokenFile: "\(dir)/token", volumeDirectories: [:]).remove()
            removed.append(dir)
        }
        return removed
    }
}
