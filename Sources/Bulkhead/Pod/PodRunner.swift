import BulkheadConfig
import BulkheadLaunch
import BulkheadModel
import BulkheadSystem
import Foundation
import Glibc
import Synchronization

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
    /// Why the pod could not be started (a container's own failure is in its report).
    public var error: LaunchErrorReport?
    public var sharedNamespaces: [String]
    public var uidMap: String
    public var volumes: [String: String]
    public var tokenPath: String?
    /// The pod's address on the node bridge, its node-side veth and its bandwidth limits.
    public var network: PodNetworkReport?
    /// The tenant's cgroup and the quota limits on it.
    public var tenantLimits: LimitsReport?
    public var podCgroup: CgroupReport?
    public var podLimits: LimitsReport?
    public var containers: [Container]
    public var wallTimeMs: Double
    /// Milliseconds from the start of `run` at which each setup phase ended, in order:
    /// state, cgroups, holder, network, prepare (the containers' plans), running (the last
    /// container ended).
    public var phasesMs: [String: Double] = [:]
    public var signalsForwarded: [String]
    public var ignoredFields: [String] = []
    public var notes: [String] = []
}

extension PodReport {
    /// A pod refused before anything was set up (its manifests, its tenant, its admission):
    /// phase Failed, the error (every error of the manifests: `LaunchErrorReport.errors`),
    /// exit status 125. The pod's name is not known when its manifest did not parse.
    public static func failedBeforeLaunch(_ error: LaunchError) -> PodReport {
        PodReport(pod: "", tenant: "", exitCode: ExitStatus.launchFailed, phase: "Failed", error: error.report,
                  sharedNamespaces: [], uidMap: "", volumes: [:], tokenPath: nil, podCgroup: nil, podLimits: nil,
                  containers: [], wallTimeMs: 0, signalsForwarded: [])
    }
}

public struct PodNetworkReport: Codable, Sendable {
    public var ip: String
    public var gateway: String
    public var nodeNamespace: String
    public var veth: String
    public var ingressBitsPerSecond: UInt64?
    public var egressBitsPerSecond: UInt64?
}

public enum PodRunner {
    /// Where pods keep their emptyDir volumes and identity token: /run/bulkhead/pods/<tenant>_<pod>_<owner>.
    public static let stateRoot = "/run/bulkhead/pods"
    /// Inside every container of a pod: the pod's identity token (the service-account analogue).
    public static let tokenMountPath = "/run/secrets/kubernetes.io/serviceaccount/token"
    /// Inside every container of a pod on the node network: the pod's address.
    public static let podIPVariable = "BULKHEAD_POD_IP"
    /// Restarts per container at most (restartPolicy OnFailure).
    static let maxRestarts = 3

    /// Runs the pod to completion. Never throws: a failure is a report with phase Failed.
    ///
    /// Each container launches on the layers admission read (`ContainerLaunchSpec`): no
    /// profile is read again, so what runs is what was admitted, with the pod's own additions
    /// (its token, /sys, /run, its address) on top.
    public static func run(_ pod: PodLoader.Loaded) -> PodReport {
        let start = Monotonic.now()
        let (spec, admission) = (pod.spec, pod.admission)
        var report = PodReport(pod: spec.name, tenant: spec.namespace, exitCode: 0, phase: "Pending", error: nil,
                               sharedNamespaces: [], uidMap: "", volumes: [:], tokenPath: nil, podCgroup: nil, podLimits: nil,
                               containers: [], wallTimeMs: 0, signalsForwarded: [])
        report.ignoredFields = spec.ignoredFields.map { "\($0)" }
        report.notes = pod.notes
        func fail(_ e: LaunchError) -> PodReport {
            report.phase = "Failed"; report.error = e.report; report.exitCode = ExitStatus.launchFailed
            report.wallTimeMs = (Monotonic.now() - start) * 1000
            return report
        }
        do { try ChildSpawner.becomeSubreaper() } catch { return fail(LaunchError(error)) }
        let signals: SignalFD
        do { signals = try SignalFD.blockSupervisorSignals() } catch { return fail(LaunchError(error)) }
        defer { signals.close() }

        // 1. The pod's directory: emptyDir volumes (size-limited tmpfs) and the identity token.
        let state: PodState
        do { state = try PodState.create(pod) } catch { return fail(error) }
        defer { state.remove() }
        // The range check and this pod's info.json, in one step under the node lock: checked
        // only at admission (PodLoader, no lock), two launchers each past its check before the
        // other's info.json existed would both run, one tenant's ids on the other's host ids.
        do throws(LaunchError) {
            let lock = try NodeNetwork.lock()
            defer { lock.unlock() }
            let own = { (namespace: String, r: IDRange) in namespace == spec.namespace && r == admission.hostIDRange }
            if let other = runningRanges(excluding: own).first(where: { $0.range.overlaps(admission.hostIDRange) }) {
                throw LaunchError(operation: "tenant \(spec.namespace): spec.hostIDRange: host ids \(admission.hostIDRange) overlap \(other.name) (\(other.range))",
                                  hint: "give the tenant ids of its own, or run it when that pod has ended")
            }
            try state.writeInfo(pod, launcher: getpid(), ip: nil)
        } catch { return fail(error) }
        report.volumes = state.volumeDirectories
        report.tokenPath = spec.mountsIdentityToken ? tokenMountPath : nil

        report.phasesMs["state"] = (Monotonic.now() - start) * 1000
        // 2. The tenant's cgroup with its quota, and the pod's, bounding the sum of its
        // containers. Under the node lock: another launcher's pod of the same tenant may be
        // leaving, and pruning the tenant's cgroup, at this moment.
        let cgroupName = state.directoryName
        var podCgroup: SandboxCgroup?
        var tenantCgroup: SandboxCgroup?
        do throws(LaunchError) {
            let lock = try NodeNetwork.lock()
            defer { lock.unlock() }
            let host: CgroupHost
            do { host = try CgroupHost.detect() } catch { throw LaunchError("detect the host's cgroups", wrapping: error) }
            let boundSwap = CgroupSetup.hostHasActiveSwap
            if !admission.tenantLimits.isEmpty {
                let limits = CgroupLimits(limits: admission.tenantLimits, boundSwap: boundSwap)
                do {
                    tenantCgroup = try SandboxCgroup.create(host: host, path: [spec.namespace], limits: limits,
                                                            bestEffort: false, shared: true)
                } catch { throw LaunchError("set up tenant \(spec.namespace)'s cgroup", wrapping: error) }
                report.tenantLimits = CgroupSetup.report(.strict, tenantCgroup, notEnforcedAll: nil, reason: nil)
            }
            // The pod's cgroup, with or without limits: the pod owns the directory its
            // containers' leaves go in, and removes it. Made here under the lock, so a
            // tenant's cgroup is never empty (and so never pruned) while this pod runs.
            do {
                let limits = CgroupLimits(limits: spec.podLimits, requests: spec.podRequests, boundSwap: boundSwap)
                do {
                    podCgroup = try SandboxCgroup.create(host: host, path: [spec.namespace, cgroupName], limits: limits, bestEffort: false)
                } catch { throw LaunchError("set up the pod's cgroup", wrapping: error) }
                if !spec.podLimits.isEmpty || spec.podRequests.cpuMilli != nil {
                    report.podLimits = CgroupSetup.report(.strict, podCgroup, notEnforcedAll: nil, reason: nil)
                }
            }
        } catch {
            if let t = tenantCgroup { t.removeIfUnused() }
            return fail(error)
        }
        defer {
            if let cg = podCgroup {
                _ = cg.killAll()
                // Under the lock, the tenant's cgroup goes with its last pod (pruned when empty).
                let lock = try? NodeNetwork.lock()
                try? cg.remove()
                lock?.unlock()
            }
        }

        report.phasesMs["cgroups"] = (Monotonic.now() - start) * 1000
        // 3. The pod's network namespace, the launcher's (owned by the initial user namespace:
        // no capability of the pod's changes it), with loopback up and a sysfs of it for the
        // containers' /sys; then the holder: the pod's user and IPC namespaces (and PID when
        // shared), inside that network namespace.
        var shared: Set<Namespace> = [.user, .network, .ipc]
        if spec.shareProcessNamespace { shared.insert(.pid) }
        let network: NetworkNamespace
        do { network = try createNetworkNamespace(spec) } catch { return fail(error) }
        defer { network.close() }
        do { try state.mountSysfs(of: network) } catch { return fail(error) }
        let holder: PodHolder
        do { holder = try PodHolder.start(namespaces: shared, hostIDRange: admission.hostIDRange, network: network) } catch { return fail(error) }
        defer { holder.stop() }
        report.sharedNamespaces = shared.sorted().map(\.rawValue)
        report.uidMap = String(admission.hostIDRange.idMap.line.dropLast())

        report.phasesMs["holder"] = (Monotonic.now() - start) * 1000
        // 3b. The pod on the node network: a veth and an address on the node bridge.
        var nodeEntry: NodeNetwork.Entry?
        if spec.nodeNetwork {
            let entry = NodeNetwork.PodSpec(pod: spec.name, namespace: spec.namespace, labels: spec.labels,
                                            namespaceLabels: admission.namespaceLabels,
                                            ingressBitsPerSecond: spec.ingressBitsPerSecond, egressBitsPerSecond: spec.egressBitsPerSecond)
            do { nodeEntry = try NodeNetwork.attach(entry, podNamespace: network) } catch { return fail(error) }
            report.network = PodNetworkReport(ip: nodeEntry!.ip, gateway: NodeNetwork.gateway.address.description,
                                              nodeNamespace: NodeNetwork.namespacePath, veth: nodeEntry!.veth,
                                              ingressBitsPerSecond: spec.ingressBitsPerSecond, egressBitsPerSecond: spec.egressBitsPerSecond)
        }
        defer { if let e = nodeEntry { NodeNetwork.detach(e) } }
        do { try state.writeInfo(pod, launcher: getpid(), ip: nodeEntry?.ip) } catch { return fail(error) }

        report.phasesMs["network"] = (Monotonic.now() - start) * 1000
        // 4. The containers, each a sandbox of its profile joining the holder's namespaces.
        let router = SignalRouter()
        let attachment = PodAttachment(join: holder.namespaceFDs, cgroupPath: [spec.namespace, cgroupName], signals: router)
        var prepared: [(ContainerLaunchSpec, PreparedLaunch)] = []
        // For the seccomp policy files; the profiles themselves were read once, by PodLoader.
        let store = ProfileStore.standard()
        let timeout = spec.activeDeadlineSeconds.map { Double($0) }   // not map(Double.init): that picks init(bitPattern:)
        for c in spec.containers {
            // The admitted binds (the profile's, then the container's volumes: see
            // PodManifest.launchSpec), then the pod's own: its token and its network's sysfs
            // (the container cannot mount one of a namespace it does not own; see
            // LaunchPlanner.appendFilesystem).
            var launcherBinds: [BindMount] = []
            if spec.mountsIdentityToken { launcherBinds.append(BindMount(source: state.tokenFile, destination: tokenMountPath, readOnly: true, sourceIsFile: true)) }
            launcherBinds.append(BindMount(source: state.sysDirectory, destination: "/sys", readOnly: true))
            var overrides = c.containerLayer
            overrides.binds = c.effective.binds + launcherBinds
            if let e = nodeEntry { overrides.env.append(EnvVar(name: podIPVariable, value: e.ip)) }
            // A fresh /run in every container, on top of the profile's own tmpfs mounts: the
            // token's mount point lives there, and the host's /run (runtime sockets, other
            // pods' state) is not visible.
            overrides.tmpfs = c.effective.tmpfs.filter { $0.path != "/run" } + [TmpfsMount(path: "/run", sizeBytes: 1 << 20)]
            var r = RunRequest(layers: c.profileLayers, overrides: overrides, command: c.argv, timeoutSeconds: timeout)
            r.joinNamespaces = shared
            do {
                let p = try Sandbox.prepare(r, store: store)
                // What launches is what was admitted, but for the pod's own binds: checked, so
                // that nothing the pod adds can loosen a control admission decided on.
                if PodSecurityControls(p.profile, launcherBinds: launcherBinds) != PodSecurityControls(c.effective) {
                    throw LaunchError(operation: "its launch differs from what admission saw of profile \(c.profileName); nothing of the pod was started with it")
                }
                prepared.append((c, p))
            } catch {
                return fail(LaunchError("container \(c.name)", wrapping: error))
            }
        }

        report.phasesMs["prepare"] = (Monotonic.now() - start) * 1000
        report.phase = "Running"
        let results = ContainerResults(count: prepared.count)
        let done = DispatchGroup()
        for (i, (c, p)) in prepared.enumerated() {
            done.enter()
            let policy = spec.restartPolicy, maxRestarts = Self.maxRestarts
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
            while let sig = signals.next() {
                if sig != SIGCHLD { router.forward(sig) }
            }
        }
        report.phasesMs["running"] = (Monotonic.now() - start) * 1000
        report.containers = results.all()
        report.signalsForwarded = router.forwarded
        let failing = report.containers.first { $0.report.exitCode != 0 }
        report.exitCode = failing?.report.exitCode ?? 0
        report.phase = failing == nil ? "Succeeded" : "Failed"
        if let cg = podCgroup {
            report.podCgroup = CgroupReport(path: "bulkhead/" + cg.path.joined(separator: "/"), directories: cg.directories,
                                            stats: cg.stats(), note: nil)
        }
        report.wallTimeMs = (Monotonic.now() - start) * 1000
        return report
    }
}

extension PodRunner {
    /// The pod's network namespace: created by the launcher as root, so owned by the initial
    /// user namespace (see PodHolder), kept alive by the returned handle and the pod's
    /// processes only (no bind mount: a killed launcher leaves nothing), loopback up.
    static func createNetworkNamespace(_ spec: PodLaunchSpec) throws(LaunchError) -> NetworkNamespace {
        var made: NetworkNamespace?
        do throws(LaunchError) {
            try NodeNetwork.step("create the pod's network namespace") { () throws(NetworkError) in
                let ns = try NetworkNamespace.createAnonymous(label: "pod \(spec.namespace)/\(spec.name)")
                made = ns
                let r = try ns.routeSocket()
                defer { r.close() }
                try r.setUp(try r.linkIndex(named: "lo"))
                // NET_RAW in the pod no longer opens raw sockets here (the namespace is not the
                // pod's): ping works through ICMP echo sockets instead, for every group, as
                // container runtimes set it.
                try ns.writeSysctl("/proc/sys/net/ipv4/ping_group_range", "0 2147483647")
            }
        } catch {
            made?.close()
            throw error
        }
        return made!
    }
}

/// Results of the container threads: each sets its own slot, the pod runner's thread reads
/// them all; under a `Mutex`.
final class ContainerResults: Sendable {
    private let items: Mutex<[PodReport.Container?]>
    init(count: Int) { items = Mutex(Array(repeating: nil, count: count)) }
    func set(_ i: Int, _ c: PodReport.Container) { items.withLock { $0[i] = c } }
    func all() -> [PodReport.Container] { items.withLock { $0.compactMap { $0 } } }
}

/// The pod's directory on the host: emptyDir volumes as size-limited tmpfs mounts, the
/// identity token and a sysfs of the pod's network. Every container of the pod gets them bound
/// in; no other pod can see them (each container's /run is its own tmpfs).
///
/// Who reaches what: the directory is root's, mode 0710, group the pod's mapped root group
/// (the host gid its gid 0 maps to): root and the pod's own ids can pass through it (a
/// container's mount steps run as the pod's root, which must reach the bind sources), no
/// other local user can list, read or write anything below it. Inside, an emptyDir's tmpfs is
/// mode 1777 as Kubernetes' emptyDir is world-writable: any uid of the pod may use it, and
/// that is safe only because nothing outside the pod reaches it through the 0710 directory. A
/// secret volume is filled in `staging` (0700 root: no one but root sees it), made read-only,
/// and only then bound to its place under `volumes`.
struct PodState {
    let directory: String
    let directoryName: String
    let tokenFile: String
    let volumeDirectories: [String: String]
    /// Where the pod network's sysfs is mounted (`mountSysfs`).
    var sysDirectory: String { directory + "/sys" }
    var stagingDirectory: String { directory + "/staging" }

    static func create(_ pod: PodLoader.Loaded) throws(LaunchError) -> PodState {
        let (r, range) = (pod.spec, pod.admission.hostIDRange)
        guard let owner = CgroupLeafName.forCurrentProcess(sequence: 0) else { throw LaunchError(operation: "read /proc/self/stat") }
        let dir = path(tenant: r.namespace, pod: r.name)
        for d in ["/run/bulkhead", PodRunner.stateRoot] where mkdir(d, 0o711) != 0 && errno != EEXIST {
            throw LaunchError(operation: "mkdir \(d)", errno: .current, hint: "pods need root (tmpfs volumes are mounted on the host)")
        }
        // 0700 until its group is the pod's, then 0710 (see the type's comment).
        let group = range.mappedRoot
        guard mkdir(dir, 0o700) == 0 else { throw LaunchError(operation: "mkdir \(dir)", errno: .current) }
        var state = PodState(directory: dir, directoryName: owner.podDirectoryName(r.name), tokenFile: "\(dir)/token", volumeDirectories: [:])
        do throws(LaunchError) {
            try makePrivate(dir, group: group)
            mkdir("\(dir)/volumes", 0o700)
            try makePrivate("\(dir)/volumes", group: group)
            guard mkdir(state.sysDirectory, 0o700) == 0, mkdir(state.stagingDirectory, 0o700) == 0 else {
                throw LaunchError(operation: "mkdir in \(dir)", errno: .current)
            }
            // The token: 32 random bytes, readable by the pod's uid 0 only.
            var rng = SystemRandomNumberGenerator() // getrandom(2)
            let bytes = (0..<32).map { _ in UInt8.random(in: 0...255, using: &rng) }
            let token = bytes.map { ($0 < 16 ? "0" : "") + String($0, radix: 16) }.joined() + "\n"
            try writeFile(state.tokenFile, token, mode: 0o400, owner: range.mappedRoot)
            var vols: [String: String] = [:]
            for v in r.volumes {
                let path = "\(dir)/volumes/\(v.name)"
                guard mkdir(path, 0o700) == 0 else { throw LaunchError(operation: "mkdir \(path)", errno: .current) }
                vols[v.name] = path
                state = PodState(directory: dir, directoryName: state.directoryName, tokenFile: state.tokenFile, volumeDirectories: vols)
                // A tmpfs of the volume's size: writing past sizeLimit gives ENOSPC, as the
                // kubelet's sizeLimit promises (and enforces only by eviction).
                let sizeBytes = v.sizeLimitBytes ?? EffectiveProfile.defaultTmpfsBytes
                guard let source = pod.admission.secretSources[v.name] else {
                    let opts = "size=\(sizeBytes),mode=1777,uid=\(range.mappedRoot),gid=\(range.mappedRoot)"
                    guard mount("bulkhead-emptydir", path, "tmpfs", UInt(MS_NOSUID | MS_NODEV), opts) == 0 else {
                        throw LaunchError(operation: "mount the tmpfs of emptyDir \(v.name)", errno: .current)
                    }
                    continue
                }
                // A secret: filled and made read-only in the private staging directory, then
                // bound into place. Its root is root's and 0555 (the pod reads, no one writes).
                let staging = "\(state.stagingDirectory)/\(v.name)"
                guard mkdir(staging, 0o700) == 0 else { throw LaunchError(operation: "mkdir \(staging)", errno: .current) }
                guard mount("bulkhead-secret", staging, "tmpfs", UInt(MS_NOSUID | MS_NODEV), "size=\(sizeBytes),mode=0555,uid=0,gid=0") == 0 else {
                    throw LaunchError(operation: "mount the tmpfs of secret volume \(v.name)", errno: .current)
                }
                try copySecret(from: source, to: staging, owner: range.mappedRoot, volume: v.name)
                var st = statvfs()
                guard statvfs(staging, &st) == 0, st.f_flag & 1 != 0 else { // ST_RDONLY
                    throw LaunchError(operation: "secret volume \(v.name): its tmpfs is not read-only", errno: .current)
                }
                guard mount(staging, path, nil, UInt(MS_BIND), nil) == 0 else {
                    throw LaunchError(operation: "secret volume \(v.name): bind it into \(path)", errno: .current)
                }
                umount2(staging, Int32(MNT_DETACH))
                rmdir(staging)
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

    /// A secret volume: the regular files of the tenant's secret directory copied into the
    /// volume's tmpfs, mode 0400 and owned by the pod's root, then the tmpfs made read-only.
    /// As the kubelet does with a Secret's data: the pod never sees the tenant's directory.
    ///
    /// The directory is opened through `TrustedFile` (it and every directory above it owned by
    /// root or the caller, not writable by others) and each file is opened relative to that fd,
    /// `O_NOFOLLOW|O_NONBLOCK`: a regular file owned by root or the caller, readable by its owner
    /// only, at most 1 MiB. Anything else in the directory (a link, a FIFO, a subdirectory) is
    /// refused, not skipped; no error shows a byte of a secret.
    static func copySecret(from source: String, to volume: String, owner: UInt32, volume name: String) throws(LaunchError) {
        let dir: (fd: Int32, path: String)
        do { dir = try TrustedFile.openDirectory(source, what: "secret directory") } catch {
            throw LaunchError("secret volume \(name)", wrapping: error,
                              hint: error.hint == nil ? "create the secret as a directory of files in the tenant's secretsDirectory" : nil)
        }
        defer { close(dir.fd) }
        for file in TrustedFile.list(dir.fd) {
            let c: TrustedFile.Contents
            do {
                c = try TrustedFile.read(in: dir.fd, directory: dir.path, name: file, what: "secret file",
                                         limit: Int(PodVolume.secretSizeLimit))
            } catch {
                throw LaunchError("secret volume \(name)", wrapping: error)
            }
            // Sandboxes on the host's root see the host's files read-only: a secret readable
            // by others would be readable by every such sandbox.
            guard c.mode & 0o077 == 0 else {
                throw LaunchError(operation: "secret volume \(name): \(c.path) has mode \(String(c.mode, radix: 8))",
                                  hint: "make it readable by its owner only (chmod 600): sandboxes on the host's root would see it")
            }
            try writeFile("\(volume)/\(file)", bytes: c.bytes, mode: 0o400, owner: owner)
        }
        guard mount("", volume, "", UInt(MS_REMOUNT | MS_RDONLY | MS_NOSUID | MS_NODEV), nil) == 0 else {
            throw LaunchError(operation: "secret volume \(name): make its tmpfs read-only", errno: .current)
        }
    }

    /// Root's, mode 0710, group `group` (the pod's mapped root group): chown before chmod, so
    /// the directory is never open to a group it does not belong to.
    static func makePrivate(_ path: String, group: UInt32) throws(LaunchError) {
        guard chown(path, 0, group) == 0, chmod(path, 0o710) == 0 else {
            throw LaunchError(operation: "make \(path) private to root and the pod (0710)", errno: .current)
        }
    }

    /// Mounts a read-only sysfs of the pod's network namespace on `sysDirectory`, which every
    /// container binds onto its /sys. Unmounted by `remove` (it holds the namespace alive).
    func mountSysfs(of network: NetworkNamespace) throws(LaunchError) {
        do { try network.mountSysfs(at: sysDirectory) } catch { throw LaunchError(wrapping: error) }
    }

    /// `info.json`: what `bulkhead pod ls` shows of this pod.
    func writeInfo(_ pod: PodLoader.Loaded, launcher: Int32, ip: String?) throws(LaunchError) {
        let (r, range) = (pod.spec, pod.admission.hostIDRange)
        let info = PodInfo(pod: r.name, namespace: r.namespace, ip: ip, launcherPID: launcher,
                           containers: r.containers.map(\.name), started: Date().timeIntervalSince1970,
                           limitsCPUMilli: r.podLimits.cpuMilli, limitsMemoryBytes: r.podLimits.memoryBytes,
                           hostIDStart: range.hostStart, hostIDCount: range.count)
        guard let data = try? JSONEncoder.sorted.encode(info),
              FileManager.default.createFile(atPath: directory + "/info.json", contents: data) else {
            throw LaunchError(operation: "write \(directory)/info.json", errno: .current)
        }
    }

    static func writeFile(_ path: String, _ text: String, mode: mode_t, owner: UInt32) throws(LaunchError) {
        try writeFile(path, bytes: Array(text.utf8), mode: mode, owner: owner)
    }

    static func writeFile(_ path: String, bytes: [UInt8], mode: mode_t, owner: UInt32) throws(LaunchError) {
        let fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC | O_NOFOLLOW, mode)
        guard fd >= 0 else { throw LaunchError(operation: "create \(path)", errno: .current) }
        defer { close(fd) }
        var b = bytes
        guard b.isEmpty || Glibc.write(fd, &b, b.count) == b.count, fchown(fd, owner, owner) == 0 else {
            throw LaunchError(operation: "write \(path)", errno: .current)
        }
    }

    /// Unmounts the volumes, the staging mounts and the sysfs, and removes the directory;
    /// idempotent.
    func remove() {
        for (_, v) in volumeDirectories { umount2(v, Int32(MNT_DETACH)); rmdir(v) }
        for sub in ["volumes", "staging"] {
            for entry in FileIO.listDirectory("\(directory)/\(sub)") { umount2("\(directory)/\(sub)/\(entry)", Int32(MNT_DETACH)); rmdir("\(directory)/\(sub)/\(entry)") }
            rmdir("\(directory)/\(sub)")
        }
        umount2(sysDirectory, Int32(MNT_DETACH))
        rmdir(sysDirectory)
        unlink(tokenFile)
        unlink(directory + "/info.json")
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

/// A running pod as `bulkhead pod ls` shows it (`info.json` in the pod's directory).
public struct PodInfo: Codable, Sendable {
    public var pod: String
    public var namespace: String
    public var ip: String?
    public var launcherPID: Int32
    public var containers: [String]
    /// Seconds since the epoch.
    public var started: Double
    /// The pod's limits, charged against its tenant's quota at the next pod's admission.
    public var limitsCPUMilli: UInt64?
    public var limitsMemoryBytes: UInt64?
    /// The host id range of the pod's user namespace (its tenant's): another tenant's range
    /// may not overlap it while the pod runs (PodLoader).
    public var hostIDStart: UInt32?
    public var hostIDCount: UInt32?
    /// The launcher's start time (/proc/PID/stat field 22), from the pod's directory name (as
    /// `launcherPID` is): `stop` signals it only through a pidfd checked against it.
    public var launcherStartTime: UInt64?

    public var hostIDRange: IDRange? {
        guard let hostIDStart, let hostIDCount else { return nil }
        return IDRange(hostStart: hostIDStart, count: hostIDCount)
    }
}

extension PodRunner {
    /// The pods whose launcher runs, from their directories.
    public static func list() -> [PodInfo] {
        FileIO.listDirectory(stateRoot).compactMap { name in
            guard let owner = name.split(separator: "_").last, case let f = owner.split(separator: "-"), f.count == 2,
                  let pid = Int32(f[0]), let st = UInt64(f[1]),
                  CgroupLeafName(launcherPID: pid, launcherStartTime: st, sequence: 0).launcherIsAlive,
                  let text = FileIO.read("\(stateRoot)/\(name)/info.json"),
                  var info = try? JSONDecoder().decode(PodInfo.self, from: Data(text.utf8)) else { return nil }
            // The launcher is the one the directory names (pid and start time), whatever the file says.
            (info.launcherPID, info.launcherStartTime) = (pid, st)
            return info
        }.sorted { ($0.namespace, $0.pod) < ($1.namespace, $1.pod) }
    }

    /// The host id ranges of the pods that run, named for errors, but those `excluding`
    /// (namespace, range) says are the launching tenant's own: a tenant's range may overlap no
    /// running pod's but its own pods' on the same range (PodLoader, and PodRunner.run under the
    /// node lock).
    static func runningRanges(excluding own: (String, IDRange) -> Bool) -> [(name: String, range: IDRange)] {
        list().compactMap { p in
            guard let r = p.hostIDRange, !own(p.namespace, r) else { return nil }
            return ("running pod \(p.namespace)/\(p.pod) of tenant \(p.namespace)", r)
        }
    }

    /// Stops the pod: SIGTERM to its launcher, which forwards it to every container and
    /// removes what it made; SIGKILL to the launcher after `grace` seconds, and the
    /// leftovers collected. Returns the pods stopped.
    public static func stop(pod: String, namespace: String, grace: Double) throws(LaunchError) -> [PodInfo] {
        let matching = list().filter { $0.pod == pod && $0.namespace == namespace }
        guard !matching.isEmpty else {
            throw LaunchError(operation: "stop pod \(namespace)/\(pod)", errno: Errno(ESRCH),
                              hint: "no such pod is running; `bulkhead pod ls` lists them")
        }
        for p in matching {
            // Through a pidfd of the launcher the pod's directory names (pid and start time):
            // a pid reused since `list` is never signalled; a launcher gone is skipped.
            guard let start = p.launcherStartTime, let launcher = ProcessHandle(pid: p.launcherPID, startTime: start) else { continue }
            defer { launcher.close() }
            _ = launcher.signal(SIGTERM)
            if !launcher.waitForExit(seconds: grace) {
                _ = launcher.signal(SIGKILL)
                while !launcher.waitForExit(seconds: 60) {}
                _ = try? Maintenance.collectGarbage()
            }
        }
        return matching
    }
}
