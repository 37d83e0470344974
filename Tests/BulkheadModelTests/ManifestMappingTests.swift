import Testing
@testable import BulkheadConfig
@testable import BulkheadModel

@Suite struct ManifestMappingTests {
    static let twoContainers = """
    apiVersion: v1
    kind: Pod
    metadata:
      name: web
      namespace: team-a
      annotations:
        bulkhead.dev/profile: restricted
        bulkhead.dev/rootfs.side: /var/lib/bulkhead/rootfs/busybox
        kubernetes.io/ingress-bandwidth: 10M
    spec:
      restartPolicy: Never
      shareProcessNamespace: true
      securityContext: {runAsUser: 1500, seccompProfile: {type: Unconfined}}
      volumes:
      - name: shared
        emptyDir: {medium: Memory, sizeLimit: 16Mi}
      containers:
      - name: app
        image: nginx
        command: [/bin/app]
        args: [--port, "8080"]
        env: [{name: MODE, value: prod}]
        workingDir: /srv
        resources:
          limits: {cpu: 500m, memory: 128Mi, ephemeral-storage: 32Mi}
        securityContext:
          runAsUser: 1001
          capabilities: {drop: [ALL], add: [NET_BIND_SERVICE]}
        volumeMounts: [{name: shared, mountPath: /var/shared}]
      - name: side
        image: busybox
        command: [sleep, "60"]
        resources:
          limits: {cpu: 250m, memory: 64Mi}
        volumeMounts: [{name: shared, mountPath: /shared, readOnly: true}]
    """

    func spec(_ yaml: String = twoContainers) throws -> PodLaunchSpec {
        try PodManifestParser.parse(yaml, file: "/m/pod.yaml").launchSpec(volumeDirectory: "/run/bulkhead/pods/web/volumes/", profileLayers: embeddedLayers)
    }

    @Test func containersBecomeTopLayersOverTheirProfile() throws {
        let s = try spec()
        #expect(s.name == "web" && s.namespace == "team-a" && s.hostname == "web")
        let app = s.containers[0], side = s.containers[1]
        #expect(app.profileName == "restricted")
        #expect(app.layers.dropLast().map(\.name) == ["container", "restricted"], "the profile chain, base first")
        #expect(app.layers.last == app.containerLayer)
        #expect(app.effective.chain == ["container", "restricted", "/m/pod.yaml"])
        #expect(app.argv == ["/bin/app", "--port", "8080"])
        // container securityContext > pod securityContext > profile
        #expect(app.effective.runAsUser == 1001)
        #expect(side.effective.runAsUser == 1500, "the pod's runAsUser is the default for containers")
        #expect(app.effective.runAsGroup == 1000, "from the restricted profile")
        #expect(app.effective.seccomp == .unconfined && side.effective.seccomp == .unconfined, "pod-level seccompProfile")
        #expect(app.effective.capabilities == CapabilitySet([.netBindService]))
        #expect(side.effective.capabilities.isEmpty, "the profile's drop ALL stays")
        #expect(app.effective.limits.cpuMilli == 500 && app.effective.limits.memoryBytes == 128 << 20)
        #expect(app.effective.limits.pids == 1024, "pids come from the profile: Kubernetes has none per container")
        #expect(app.effective.requests.cpuMilli == 500, "request defaulted to the limit")
        #expect(app.effective.tmpfsSize(app.effective.tmpfs.first { $0.path == "/tmp" }!) == 32 << 20, "ephemeral-storage sizes /tmp")
        #expect(app.effective.env.contains(EnvVar(name: "MODE", value: "prod")))
        #expect(app.effective.env.contains { $0.name == "PATH" }, "the profile's env stays underneath")
        #expect(app.effective.workingDir == "/srv")
        #expect(app.effective.hostname == "web")
        #expect(app.effective.binds == [BindMount(source: "/run/bulkhead/pods/web/volumes/shared", destination: "/var/shared", readOnly: false)])
        #expect(side.effective.binds == [BindMount(source: "/run/bulkhead/pods/web/volumes/shared", destination: "/shared", readOnly: true)])
        #expect(app.runsOnHostRoot && app.effective.root == .host && app.effective.readOnlyRootFilesystem)
        #expect(!side.runsOnHostRoot && side.effective.root == .directory("/var/lib/bulkhead/rootfs/busybox"))
        #expect(s.notes.contains { $0.hasPrefix("container app: image nginx is not pulled; it runs on the host's root filesystem, read-only") })
        #expect(s.notes.contains { $0.hasPrefix("container side: image busybox is not pulled; it runs on the root filesystem directory /var/lib/bulkhead/rootfs/busybox") })
    }

    @Test func podLevelValues() throws {
        let s = try spec()
        #expect(s.volumes == [PodVolumeLaunch(name: "shared", medium: .memory, sizeLimitBytes: 16 << 20, hostPath: "/run/bulkhead/pods/web/volumes/shared")])
        #expect(s.shareProcessNamespace)
        #expect(s.ingressBitsPerSecond == 10_000_000 && s.egressBitsPerSecond == nil)
        #expect(s.restartPolicy == .never && s.mountsIdentityToken)
        #expect(s.podLimitsSource == .sumOfContainers)
        #expect(s.podLimits.cpuMilli == 750 && s.podLimits.memoryBytes == 192 << 20 && s.podLimits.pids == 2048)
        #expect(s.usage == PodUsage(name: "web", cpuMilli: 750, memoryBytes: 192 << 20, pids: 2048))
    }

    @Test("The pod's CPU weight is the sum of its containers' requests.cpu, as the kubelet sets a pod's cpu.shares")
    func podRequestsAreTheSum() throws {
        let base = try spec()
        let each = base.containers.map { $0.effective.requests.cpuMilli }
        #expect(base.podRequests.cpuMilli == (each.allSatisfy { $0 == nil } ? nil : each.reduce(0) { $0 + ($1 ?? 0) }))
        let y = Self.twoContainers.replacingOccurrences(of: "limits: {cpu: 250m, memory: 64Mi}", with: "limits: {cpu: 250m, memory: 64Mi}\n      requests: {cpu: 100m}")
        let s = try spec(y)
        #expect(s.containers[1].effective.requests.cpuMilli == 100)
        #expect(s.podRequests.cpuMilli == (each[0] ?? 0) + 100, "the sum; a container without requests counts 0")
    }

    @Test func podLimitsAnnotationOverridesPerResource() throws {
        let y = Self.twoContainers.replacingOccurrences(of: "    kubernetes.io/ingress-bandwidth: 10M\n", with: "    bulkhead.dev/pod-limits: \"memory=128Mi, pids=200\"\n")
        let s = try spec(y)
        #expect(s.podLimitsSource == .annotation)
        #expect(s.podLimits.cpuMilli == 750, "not in the annotation: the sum")
        #expect(s.podLimits.memoryBytes == 128 << 20 && s.podLimits.pids == 200)
    }

    @Test func aContainerWithoutALimitLeavesThePodUnlimited() throws {
        // A profile without a memory limit (and one container without it): the pod's sum is
        // undefined, as in Kubernetes; the cpu limits of both containers still add up.
        let y = podYAML(spec: "  - name: two\n    image: x\n    command: [b]\n    resources: {limits: {cpu: 1, memory: 64Mi}}\n",
                        container: "    resources: {limits: {cpu: 500m}}\n")
        let bare = ProfileLayer.with { $0.name = "bare" }
        let s = try PodManifestParser.parse(y, file: "pod.yaml").launchSpec(volumeDirectory: "/v") { _ throws(ConfigError) in [bare] }
        #expect(s.containers[0].effective.limits.memoryBytes == nil)
        #expect(s.podLimits.memoryBytes == nil && s.podLimits.pids == nil)
        #expect(s.podLimits.cpuMilli == 1500)
    }

    @Test func refusals() throws {
        func mapped(_ y: String) throws(ConfigError) -> PodLaunchSpec {
            try PodManifestParser.parse(y, file: "pod.yaml").launchSpec(volumeDirectory: "/v", profileLayers: embeddedLayers)
        }
        expectConfigError(field: "spec.containers[0].securityContext.readOnlyRootFilesystem", contains: "needs a root filesystem directory") { () throws(ConfigError) in
            try mapped(podYAML(container: "    securityContext: {readOnlyRootFilesystem: false}\n"))
        }
        // With a root filesystem directory, a writable root is fine.
        let ok = try mapped(podYAML(container: "    securityContext: {readOnlyRootFilesystem: false}\n", annotations: "    bulkhead.dev/rootfs.app: /var/lib/bulkhead/rootfs/r\n"))
        #expect(!ok.containers[0].effective.readOnlyRootFilesystem)
        expectConfigError(field: "spec.containers[0]", contains: "runAsNonRoot") { () throws(ConfigError) in
            try mapped(podYAML(spec: "  securityContext: {runAsNonRoot: true}\n"))
        }
        expectConfigError(field: "spec.containers[0]", contains: "profile nope: <profiles>: no profile named nope") { () throws(ConfigError) in
            try mapped(podYAML(annotations: "    bulkhead.dev/profile: nope\n"))
        }
        // A profile that turns a pod namespace off, or asks for the host network, is refused.
        let hostNet = ProfileLayer.with { $0.name = "hostnet"; $0.network = .host }
        let noIPC = ProfileLayer.with { $0.name = "noipc"; $0.namespaces[.ipc] = false }
        for (layer, text) in [(hostNet, "network namespace"), (noIPC, "ipc namespace")] {
            expectConfigError(field: "spec.containers[0]", contains: text) { () throws(ConfigError) in
                try PodManifestParser.parse(podYAML(), file: "pod.yaml").launchSpec(volumeDirectory: "/v") { _ throws(ConfigError) in [layer] }
            }
        }
    }

    @Test func defaultProfileIsContainer() throws {
        let s = try PodManifestParser.parse(podYAML(), file: "pod.yaml").launchSpec(volumeDirectory: "/v", profileLayers: embeddedLayers)
        #expect(s.containers[0].profileName == "container")
        #expect(s.containers[0].effective.capabilities.isEmpty && s.containers[0].effective.noNewPrivs)
    }
}

extension ProfileLayer {
    static func with(_ f: (inout ProfileLayer) -> Void) -> ProfileLayer { var l = ProfileLayer(); f(&l); return l }
}
