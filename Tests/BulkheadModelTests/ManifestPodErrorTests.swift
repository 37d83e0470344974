import Testing
@testable import BulkheadConfig
@testable import BulkheadModel

/// Every refusal names the field path and says why.
@Suite struct ManifestPodErrorTests {
    func check(_ yaml: String, _ field: String, _ text: String, sourceLocation: SourceLocation = #_sourceLocation) {
        expectConfigError(field: field, contains: text, sourceLocation: sourceLocation) { () throws(ConfigError) in
            try PodManifestParser.parse(yaml, file: "pod.yaml")
        }
    }

    @Test func documentAndMetadata() {
        check("apiVersion: apps/v1\nkind: Pod\nmetadata: {name: a}\nspec: {}\n", "apiVersion", "expected apiVersion v1")
        check("apiVersion: v1\nkind: Pod\nspec: {}\n", "", "missing required field \"metadata\"")
        check("apiVersion: v1\nkind: Pod\nmetadata: {namespace: a}\nspec: {}\n", "metadata", "missing required field \"name\"")
        check("apiVersion: v1\nkind: Pod\nmetadata: {name: Web}\nspec: {}\n", "metadata.name", "DNS-1123 label")
        check("apiVersion: v1\nkind: Pod\nmetadata: {name: a, namespace: \"x_y\"}\nspec: {}\n", "metadata.namespace", "DNS-1123 label")
        check("apiVersion: v1\nkind: Pod\nmetadata: {name: a, labels: {\"a/b/c\": x}}\nspec: {}\n", "metadata.labels.a/b/c", "label key")
        check("apiVersion: v1\nkind: Pod\nmetadata: {name: a}\n", "", "missing required field \"spec\"")
        check("apiVersion: v1\nkind: Pod\nextra: 1\nmetadata: {name: a}\nspec: {}\n", "extra", "unknown field \"extra\"")
        check("apiVersion: v1\nkind: Pod\nmetadata: {name: a, lables: {}}\nspec: {}\n", "metadata.lables", "did you mean \"labels\"")
    }

    @Test func podSpec() {
        check(podYAML(spec: "  hostUsers: true\n"), "spec.hostUsers", "always runs a pod in its own user namespace")
        check(podYAML(spec: "  hostNetwork: true\n"), "spec.hostNetwork", "own network namespace")
        check(podYAML(spec: "  hostPID: true\n"), "spec.hostPID", "own PID namespace")
        check(podYAML(spec: "  hostIPC: true\n"), "spec.hostIPC", "own IPC namespace")
        check(podYAML().replacingOccurrences(of: "Never", with: "Always"), "spec.restartPolicy", "runs a pod to completion")
        check(podYAML().replacingOccurrences(of: "Never", with: "Sometimes"), "spec.restartPolicy", "allowed: Never, OnFailure")
        check(podYAML(spec: "  initContainers:\n  - {name: i, image: x}\n"), "spec.initContainers", "initContainers are not supported")
        check(podYAML(spec: "  ephemeralContainers: [{name: d}]\n"), "spec.ephemeralContainers", "not supported")
        check(podYAML(spec: "  runtimeClassName: gvisor\n"), "spec.runtimeClassName", "cannot provide it")
        check(podYAML(spec: "  resources: {limits: {cpu: 1}}\n"), "spec.resources", "bulkhead.dev/pod-limits")
        check(podYAML(spec: "  os: {name: windows}\n"), "spec.os.name", "only linux")
        check(podYAML(spec: "  hostname: Bad_Name\n"), "spec.hostname", "DNS-1123")
        check(podYAML(spec: "  activeDeadlineSeconds: 0\n"), "spec.activeDeadlineSeconds", "out of range")
        check(podYAML(spec: "  nodeSelectr: {}\n"), "spec.nodeSelectr", "did you mean \"nodeSelector\"")
        check(podYAML(spec: "  containers: []\n").replacingOccurrences(of: "  containers:\n  - name: app\n    image: busybox\n    command: [/bin/sh]\n", with: ""),
              "spec.containers", "at least one container")
        check(podYAML(spec: "  - name: app\n    image: x\n    command: [a]\n"), "spec.containers[1]", "container names must be unique")
    }

    @Test("A Pod's spec.securityContext.supplementalGroups reach its containers' top layer (added to the profile's); more than 32 refused")
    func podSupplementalGroups() throws {
        let pod = try PodManifestParser.parse(podYAML(spec: "  securityContext:\n    supplementalGroups: [10, 20]\n"), file: "pod.yaml")
        #expect(pod.podSecurityContext.supplementalGroups == [.id(10), .id(20)])
        check(podYAML(spec: "  securityContext:\n    supplementalGroups: [\((1...33).map(String.init).joined(separator: ", "))]\n"), "spec.securityContext.supplementalGroups", "at most 32")
    }

    @Test func podSecurityContext() {
        for (key, text) in [("fsGroup: 2000", "fsGroup"), ("sysctls: [{name: a, value: b}]", "kernel parameters"),
                            ("seLinuxOptions: {level: s0}", "SELinux"), ("appArmorProfile: {type: RuntimeDefault}", "AppArmor"),
                            ("windowsOptions: {runAsUserName: x}", "Windows")] {
            let field = "spec.securityContext." + String(key.prefix { $0 != ":" })
            check(podYAML(spec: "  securityContext:\n    \(key)\n"), field, text)
        }
        check(podYAML(spec: "  securityContext:\n    privileged: false\n"), "spec.securityContext.privileged", "unknown field")
        check(podYAML(spec: "  securityContext:\n    runAsUser: -1\n"), "spec.securityContext.runAsUser", "accepted: 0 to 4294967294")
        check(podYAML(spec: "  securityContext:\n    seccompProfile: {type: Nope}\n"), "spec.securityContext.seccompProfile.type", "RuntimeDefault")
    }

    @Test func containers() {
        let c = "spec.containers[0]"
        check(podYAML(container: "    envFrom: [{configMapRef: {name: x}}]\n"), "\(c).envFrom", "literal values")
        check(podYAML(container: "    env:\n    - name: A\n      valueFrom: {fieldRef: {fieldPath: metadata.name}}\n"), "\(c).env[0].valueFrom", "valueFrom is not supported")
        check(podYAML(container: "    env:\n    - {name: \"1A\", value: x}\n"), "\(c).env[0].name", "invalid environment variable name")
        check(podYAML(container: "    stdin: true\n"), "\(c).stdin", "no terminal")
        check(podYAML(container: "    tty: true\n"), "\(c).tty", "no terminal")
        check(podYAML(container: "    ports: [{containerPort: 80, hostPort: 8080}]\n"), "\(c).ports[0].hostPort", "host's network")
        check(podYAML(container: "    ports: [{containerPort: 80, hostIP: 0.0.0.0}]\n"), "\(c).ports[0].hostIP", "host's network")
        check(podYAML(container: "    volumeDevices: [{name: a, devicePath: /dev/x}]\n"), "\(c).volumeDevices", "raw block")
        check(podYAML(container: "    workingDir: relative\n"), "\(c).workingDir", "absolute path")
        check(podYAML(container: "    imagePullPolicy: Always\n    imagePullPolcy: x\n"), "\(c).imagePullPolcy", "did you mean \"imagePullPolicy\"")
        check(podYAML(container: "    args: [a]\n").replacingOccurrences(of: "    command: [/bin/sh]\n", with: ""), c, "ENTRYPOINT")
        check(podYAML().replacingOccurrences(of: "    image: busybox\n", with: ""), c, "missing required field \"image\"")
        check(podYAML().replacingOccurrences(of: "name: app", with: "name: App"), "\(c).name", "DNS-1123")
    }

    @Test func containerSecurityContext() {
        let sc = "spec.containers[0].securityContext"
        check(podYAML(container: "    securityContext: {privileged: true}\n"), "\(sc).privileged", "privileged containers are not supported")
        check(podYAML(container: "    securityContext: {procMount: Unmasked}\n"), "\(sc).procMount", "procMount: Default")
        check(podYAML(container: "    securityContext: {capabilities: {add: [SYS_ADMN]}}\n"), "\(sc).capabilities.add[0]", "did you mean \"SYS_ADMIN\"")
        check(podYAML(container: "    securityContext: {seLinuxOptions: {level: s0}}\n"), "\(sc).seLinuxOptions", "SELinux")
        check(podYAML(container: "    securityContext: {appArmorProfile: {type: Unconfined}}\n"), "\(sc).appArmorProfile", "AppArmor")
        check(podYAML(container: "    securityContext: {runAsUsr: 1}\n"), "\(sc).runAsUsr", "did you mean \"runAsUser\"")
    }

    @Test func resources() {
        let r = "spec.containers[0].resources"
        check(podYAML(container: "    resources: {limits: {pids: 10}}\n"), "\(r).limits.pids", "no per-container pids")
        check(podYAML(container: "    resources: {limits: {hugepages-2Mi: 1Gi}}\n"), "\(r).limits.hugepages-2Mi", "hugepages")
        check(podYAML(container: "    resources: {limits: {nvidia.com/gpu: 1}}\n"), "\(r).limits.nvidia.com/gpu", "Supported: cpu, memory, ephemeral-storage")
        check(podYAML(container: "    resources: {limits: {memroy: 1Gi}}\n"), "\(r).limits.memroy", "did you mean \"memory\"")
        check(podYAML(container: "    resources: {limits: {memory: lots}}\n"), "\(r).limits.memory", "memory quantity")
        check(podYAML(container: "    resources: {limits: {cpu: 1m}}\n"), "\(r).limits.cpu", "smallest enforceable")
        check(podYAML(container: "    resources: {limits: {cpu: 500m}, requests: {cpu: 1}}\n"), "\(r).requests.cpu", "exceeds the limit 500m")
        check(podYAML(container: "    resources: {claims: [{name: gpu}]}\n"), "\(r).claims", "dynamic resource allocation")
    }

    @Test func volumes() {
        check(podYAML(spec: "  volumes:\n  - name: h\n    hostPath: {path: /etc}\n"), "spec.volumes[0].hostPath", "hostPath volumes are not supported")
        check(podYAML(spec: "  volumes:\n  - name: s\n    secret: {secretName: x, items: [{key: a, path: b}]}\n"), "spec.volumes[0].secret.items", "the whole secret is mounted")
        check(podYAML(spec: "  volumes:\n  - name: s\n    secret: {secretName: x, optional: true}\n"), "spec.volumes[0].secret.optional", "optional secrets are not supported")
        check(podYAML(spec: "  volumes:\n  - name: s\n    secret: {secretName: ../x}\n"), "spec.volumes[0].secret.secretName", "secret name")
        check(podYAML(spec: "  volumes:\n  - name: s\n    secret: {}\n"), "spec.volumes[0].secret", "secretName")
        check(podYAML(spec: "  volumes:\n  - name: s\n    secret: {secretName: x}\n    emptyDir: {}\n"), "spec.volumes[0].secret", "either emptyDir or secret")
        check(podYAML(spec: "  volumes:\n  - name: s\n    persistentVolumeClaim: {claimName: x}\n"), "spec.volumes[0].persistentVolumeClaim", "only emptyDir")
        check(podYAML(spec: "  volumes:\n  - name: s\n    emptyDri: {}\n"), "spec.volumes[0].emptyDri", "did you mean \"emptyDir\"")
        check(podYAML(spec: "  volumes:\n  - name: s\n    emptyDir: {medium: HugePages}\n"), "spec.volumes[0].emptyDir.medium", "HugePages is not supported")
        check(podYAML(spec: "  volumes:\n  - name: s\n    emptyDir: {sizeLimit: big}\n"), "spec.volumes[0].emptyDir.sizeLimit", "size such as 64Mi")
        check(podYAML(spec: "  volumes:\n  - name: s\n  - name: s\n"), "spec.volumes[1].name", "two volumes")
        check(podYAML(spec: "  volumes:\n  - name: S\n"), "spec.volumes[0].name", "DNS-1123")
        let m = "spec.containers[0].volumeMounts[0]"
        let vols = "  volumes:\n  - name: data\n"
        check(podYAML(spec: vols, container: "    volumeMounts: [{name: dta, mountPath: /d}]\n"), "\(m).name", "did you mean \"data\"")
        check(podYAML(spec: vols, container: "    volumeMounts: [{name: data, mountPath: d}]\n"), "\(m).mountPath", "absolute path")
        check(podYAML(spec: vols, container: "    volumeMounts: [{name: data, mountPath: /proc/x}]\n"), "\(m).mountPath", "bulkhead owns")
        check(podYAML(spec: vols, container: "    volumeMounts: [{name: data, mountPath: /}]\n"), "\(m).mountPath", "bulkhead owns")
        check(podYAML(spec: vols, container: "    volumeMounts: [{name: data, mountPath: /d, subPath: x}]\n"), "\(m).subPath", "subPath is not supported")
        check(podYAML(spec: vols, container: "    volumeMounts: [{name: data, mountPath: /d, mountPropagation: Bidirectional}]\n"), "\(m).mountPropagation", "never propagate")
        check(podYAML(spec: vols, container: "    volumeMounts: [{name: data, mountPath: /d}, {name: data, mountPath: /d/}]\n"),
              "spec.containers[0].volumeMounts[1].mountPath", "two volumeMounts")
    }

    @Test func annotations() {
        let a = "metadata.annotations"
        check(podYAML(annotations: "    bulkhead.dev/profile.nope: restricted\n"), "\(a).bulkhead.dev/profile.nope", "no container named \"nope\"")
        check(podYAML(annotations: "    bulkhead.dev/profile.ap: restricted\n"), "\(a).bulkhead.dev/profile.ap", "did you mean \"app\"")
        check(podYAML(annotations: "    bulkhead.dev/rootfs: relative/dir\n"), "\(a).bulkhead.dev/rootfs", "absolute path")
        // A manifest cannot make a host directory its root: only the node's image store.
        check(podYAML(annotations: "    bulkhead.dev/rootfs: /etc\n"), "\(a).bulkhead.dev/rootfs", "under /var/lib/bulkhead/rootfs")
        check(podYAML(annotations: "    bulkhead.dev/rootfs: /var/lib/bulkhead/rootfs/../../../etc\n"), "\(a).bulkhead.dev/rootfs", "may not contain \"..\"")
        check(podYAML(annotations: "    bulkhead.dev/profil: x\n"), "\(a).bulkhead.dev/profil", "did you mean \"bulkhead.dev/profile\"")
        check(podYAML(annotations: "    bulkhead.dev/profile: \"\"\n"), "\(a).bulkhead.dev/profile", "needs a value")
        check(podYAML(annotations: "    bulkhead.dev/network: host\n"), "\(a).bulkhead.dev/network", "expected node")
        check(podYAML(annotations: "    kubernetes.io/ingress-bandwidth: fast\n"), "\(a).kubernetes.io/ingress-bandwidth", "bits per second")
        check(podYAML(annotations: "    kubernetes.io/egress-bandwidth: \"100\"\n"), "\(a).kubernetes.io/egress-bandwidth", "unreasonably small")
        check(podYAML(annotations: "    kubernetes.io/egress-bandwidth: 2P\n"), "\(a).kubernetes.io/egress-bandwidth", "unreasonably large")
        check(podYAML(annotations: "    bulkhead.dev/pod-limits: cpu=1,disk=1\n"), "\(a).bulkhead.dev/pod-limits", "unknown pod limit \"disk\"")
        check(podYAML(annotations: "    bulkhead.dev/pod-limits: cpu=1,cpu=2\n"), "\(a).bulkhead.dev/pod-limits", "given twice")
        check(podYAML(annotations: "    bulkhead.dev/pod-limits: memory=1Mi\n"), "\(a).bulkhead.dev/pod-limits", "at least 4Mi")
        check(podYAML(annotations: "    bulkhead.dev/pod-limits: cpu\n"), "\(a).bulkhead.dev/pod-limits", "expected cpu=")
    }

    @Test func errorsCarryTheLine() {
        do {
            _ = try PodManifestParser.parse(podYAML(spec: "  hostNetwork: true\n"), file: "pod.yaml")
            Issue.record("expected an error")
        } catch {
            #expect(error.line == 11, "\(error)")
            #expect(error.description.hasPrefix("pod.yaml:11: spec.hostNetwork: "))
        }
    }
}
