import Testing
@testable import BulkheadConfig
@testable import BulkheadModel

@Suite struct ManifestPodTests {
    func parse(_ yaml: String) throws(ConfigError) -> PodManifest { try PodManifestParser.parse(yaml, file: "pod.yaml") }

    @Test func minimalPod() throws {
        let p = try parse(podYAML())
        #expect(p.name == "web")
        #expect(p.namespace == "default")
        #expect(p.hostname == "web")
        #expect(p.restartPolicy == .never)
        #expect(p.containers.map(\.name) == ["app"])
        #expect(p.containers[0].argv == ["/bin/sh"])
        #expect(p.containers[0].runsOnHostRoot)
        #expect(p.ignoredFields.isEmpty)
        #expect(p.notes.contains { $0.contains("runs on the host's root filesystem, read-only") })
    }

    @Test func everySupportedField() throws {
        let y = """
        apiVersion: v1
        kind: Pod
        metadata:
          name: shop
          namespace: team-a
          labels: {app: shop, tier: web}
          annotations:
            bulkhead.dev/profile: restricted
            bulkhead.dev/profile.side: container
            bulkhead.dev/rootfs: /var/lib/bulkhead/rootfs/alpine
            bulkhead.dev/rootfs.side: /var/lib/bulkhead/rootfs/busybox
            bulkhead.dev/pod-limits: "cpu=1500m,pids=300"
            kubernetes.io/ingress-bandwidth: 10M
            kubernetes.io/egress-bandwidth: 1Mi
            free.example.com/note: anything at all
        spec:
          restartPolicy: OnFailure
          shareProcessNamespace: true
          hostUsers: false
          hostNetwork: false
          hostPID: false
          hostIPC: false
          hostname: shop-1
          activeDeadlineSeconds: 60
          automountServiceAccountToken: false
          os: {name: linux}
          securityContext:
            runAsUser: 1000
            runAsGroup: 2000
            runAsNonRoot: true
            seccompProfile: {type: RuntimeDefault}
          volumes:
          - name: cache
            emptyDir: {medium: Memory, sizeLimit: 32Mi}
          - name: scratch
            emptyDir: {}
          - name: bare
          containers:
          - name: web
            image: nginx:1.27
            command: [/usr/sbin/nginx]
            args: ["-g", "daemon off;", "$(GREETING)", "$$(GREETING)", "$(UNDEFINED)"]
            workingDir: /srv//www/
            env:
            - {name: NAME, value: world}
            - {name: GREETING, value: "hello $(NAME)"}
            - {name: EMPTY}
            resources:
              limits: {cpu: 500m, memory: 256Mi, ephemeral-storage: 64Mi}
              requests: {cpu: 250m}
            securityContext:
              runAsUser: 1001
              allowPrivilegeEscalation: false
              readOnlyRootFilesystem: true
              privileged: false
              procMount: Default
              capabilities: {drop: [ALL], add: [NET_BIND_SERVICE]}
              seccompProfile: {type: Localhost, localhostProfile: seccomp/web.json}
            volumeMounts:
            - {name: cache, mountPath: /var/cache/nginx}
            - {name: scratch, mountPath: /scratch, readOnly: true, mountPropagation: None}
            ports:
            - {containerPort: 8080, name: http, protocol: TCP}
          - name: side
            image: busybox
            command: [sleep, "3600"]
            stdin: false
            tty: false
            volumeMounts:
            - {name: cache, mountPath: /cache, readOnly: true}
        """
        let p = try PodManifestParser.parse(y, file: "/m/pod.yaml")
        #expect(p.namespace == "team-a")
        #expect(p.metadata.labels == ["app": "shop", "tier": "web"])
        #expect(p.metadata.annotations["free.example.com/note"] == "anything at all")
        #expect(p.restartPolicy == .onFailure)
        #expect(p.shareProcessNamespace)
        #expect(p.hostname == "shop-1")
        #expect(p.activeDeadlineSeconds == 60)
        #expect(!p.automountServiceAccountToken)
        #expect(p.podSecurityContext.runAsUser == 1000 && p.podSecurityContext.runAsGroup == 2000)
        #expect(p.podSecurityContext.runAsNonRoot == true && p.podSecurityContext.seccomp == .runtimeDefault)
        #expect(p.volumes == [PodVolume(name: "cache", medium: .memory, sizeLimitBytes: 32 << 20), PodVolume(name: "scratch"), PodVolume(name: "bare")])
        #expect(p.ingressBitsPerSecond == 10_000_000)
        #expect(p.egressBitsPerSecond == 1_048_576)
        var pl = ResourceSpec(); pl.cpuMilli = 1500; pl.pids = 300
        #expect(p.podLimitsOverride == pl)

        let web = p.containers[0]
        #expect(web.image == "nginx:1.27")
        #expect(web.env == [EnvVar(name: "NAME", value: "world"), EnvVar(name: "GREETING", value: "hello world"), EnvVar(name: "EMPTY", value: "")])
        #expect(web.argv == ["/usr/sbin/nginx", "-g", "daemon off;", "hello world", "$(GREETING)", "$(UNDEFINED)"])
        #expect(web.workingDir == "/srv/www")
        #expect(web.limits.cpuMilli == 500 && web.limits.memoryBytes == 256 << 20 && web.limits.ephemeralStorageBytes == 64 << 20)
        #expect(web.requests.cpuMilli == 250, "an explicit request stays")
        #expect(web.requests.memoryBytes == 256 << 20, "a request defaults to its limit")
        #expect(web.securityContext.runAsUser == 1001)
        #expect(web.securityContext.allowPrivilegeEscalation == false && web.securityContext.readOnlyRootFilesystem == true)
        #expect(web.securityContext.capabilities == CapabilitySpec(add: ["NET_BIND_SERVICE"], drop: ["ALL"]))
        #expect(web.securityContext.seccomp == .localhost(path: "seccomp/web.json", relativeTo: ProfileLayer.seccompRootMarker))
        #expect(web.volumeMounts == [PodVolumeMount(name: "cache", mountPath: "/var/cache/nginx"), PodVolumeMount(name: "scratch", mountPath: "/scratch", readOnly: true)])
        #expect(web.profile == "restricted" && web.rootfs == "/var/lib/bulkhead/rootfs/alpine")
        let side = p.containers[1]
        #expect(side.profile == "container" && side.rootfs == "/var/lib/bulkhead/rootfs/busybox", "per-container annotations win")
        #expect(p.ignoredFields.map(\.path) == ["spec.containers[0].ports"])
    }

    @Test func ignoredClusterOnlyFieldsAreListed() throws {
        let y = podYAML(
            meta: "  uid: 1234\n  resourceVersion: \"7\"\n  creationTimestamp: null\n",
            spec: """
              nodeSelector: {disk: ssd}
              tolerations: [{key: a, operator: Exists}]
              affinity: {}
              serviceAccountName: web
              priorityClassName: high
              dnsPolicy: ClusterFirst
              terminationGracePeriodSeconds: 30
              schedulerName: default-scheduler
              enableServiceLinks: false
              imagePullSecrets: [{name: reg}]

            """,
            container: "    imagePullPolicy: IfNotPresent\n    terminationMessagePath: /dev/termination-log\n    livenessProbe: {exec: {command: [true]}}\n"
        ) + "status: {phase: Running}\n"
        let p = try parse(y)
        let paths = Set(p.ignoredFields.map(\.path))
        for f in [
            "metadata.uid", "metadata.resourceVersion", "metadata.creationTimestamp", "spec.nodeSelector", "spec.tolerations",
            "spec.affinity", "spec.serviceAccountName", "spec.priorityClassName", "spec.dnsPolicy", "spec.terminationGracePeriodSeconds",
            "spec.schedulerName", "spec.enableServiceLinks", "spec.imagePullSecrets", "spec.containers[0].imagePullPolicy",
            "spec.containers[0].terminationMessagePath", "spec.containers[0].livenessProbe", "status",
        ] { #expect(paths.contains(f), "missing \(f) in \(paths.sorted())") }
        #expect(p.ignoredFields.allSatisfy { !$0.reason.isEmpty })
    }

    @Test func restartPolicyDefaultIsNotedNotSilent() throws {
        let p = try parse(podYAML().replacingOccurrences(of: "  restartPolicy: Never\n", with: ""))
        #expect(p.restartPolicy == .never)
        #expect(p.notes.contains { $0.contains("Kubernetes would default to Always") })
    }
}
