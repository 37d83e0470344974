import BulkheadModel
import Yams

/// Reads a Kubernetes Pod manifest strictly (see `PodManifest`): unknown fields, wrong types
/// and every isolation-relevant field bulkhead cannot honour are `ConfigError`s naming the
/// file, the field path and the reason. Cluster-only fields are accepted and listed in
/// `PodManifest.ignoredFields`. Pure: the caller reads the file.
public enum PodManifestParser {
    public static let apiVersion = "v1"
    public static let kind = "Pod"

    // MARK: Annotations

    /// Pod-wide layer profile; `bulkhead.dev/profile.<container>` for one container.
    public static let profileAnnotation = "bulkhead.dev/profile"
    /// Root filesystem directory; `bulkhead.dev/rootfs.<container>` for one container.
    public static let rootfsAnnotation = "bulkhead.dev/rootfs"
    /// Where a Pod's root filesystem directories live (the node's image store, as the kubelet's
    /// runtime keeps its own): a manifest's author names a directory beneath it, never any
    /// directory of the host (`/`, `/etc` or `/root` as a writable root would be the host's).
    public static let rootfsRoot = "/var/lib/bulkhead/rootfs"
    /// `cpu=1,memory=512Mi,pids=256`: the pod cgroup's limits instead of the containers' sum.
    public static let podLimitsAnnotation = "bulkhead.dev/pod-limits"
    /// `node` (the default: a veth and an address on bulkhead's node bridge) or `none` (the
    /// pod's own network namespace with loopback only).
    public static let networkAnnotation = "bulkhead.dev/network"
    /// The CNI bandwidth plugin's annotations (bits per second, as a quantity: `10M`).
    public static let ingressBandwidthAnnotation = "kubernetes.io/ingress-bandwidth"
    public static let egressBandwidthAnnotation = "kubernetes.io/egress-bandwidth"

    /// Parses one document. `ManifestSet.parse` reads multi-document files.
    public static func parse(_ text: String, file: String) throws(ConfigError) -> PodManifest {
        try parse(try ConfigNode.parse(text, file: file))
    }

    // MARK: Field tables

    static let podSpecFields = ManifestFields(
        supported: [
            "containers", "volumes", "restartPolicy", "shareProcessNamespace", "hostUsers", "hostNetwork", "hostPID",
            "hostIPC", "securityContext", "hostname", "activeDeadlineSeconds", "automountServiceAccountToken", "os",
        ],
        refused: [
            "initContainers": "initContainers are not supported: they run workload code before the containers, so ignoring them would change what the pod does; run the setup in the container's command or as its own pod",
            "ephemeralContainers": "ephemeralContainers (debug containers) are not supported",
            "runtimeClassName": "runtimeClassName asks for another runtime's isolation (gVisor, Kata); bulkhead cannot provide it",
            "resources": "pod-level resources are not supported; use the annotation bulkhead.dev/pod-limits (cpu=…,memory=…,pids=…)",
            "resourceClaims": "resourceClaims (dynamic resource allocation) need a cluster",
        ],
        clusterOnly: [
            "nodeSelector": "scheduling", "nodeName": "scheduling", "affinity": "scheduling", "tolerations": "scheduling",
            "topologySpreadConstraints": "scheduling", "schedulerName": "scheduling", "schedulingGates": "scheduling",
            "priorityClassName": "scheduling priority", "priority": "scheduling priority", "preemptionPolicy": "scheduling priority",
            "serviceAccountName": "the cluster's API identity; bulkhead writes its own per-pod identity token",
            "serviceAccount": "the cluster's API identity (deprecated alias of serviceAccountName)",
            "imagePullSecrets": "image pulling; bulkhead pulls no images",
            "dnsPolicy": "cluster DNS; bulkhead runs no cluster DNS", "dnsConfig": "cluster DNS; bulkhead runs no cluster DNS",
            "hostAliases": "/etc/hosts entries written by the kubelet", "subdomain": "cluster DNS", "setHostnameAsFQDN": "cluster DNS",
            "enableServiceLinks": "Service environment variables; bulkhead has no Services",
            "terminationGracePeriodSeconds": "graceful deletion by the kubelet", "readinessGates": "Service readiness",
            "overhead": "set by the RuntimeClass admission controller",
        ])

    static let containerFields = ManifestFields(
        supported: [
            "name", "image", "command", "args", "env", "resources", "securityContext", "volumeMounts", "workingDir",
            "ports", "stdin", "stdinOnce", "tty",
        ],
        refused: [
            "envFrom": "envFrom reads ConfigMaps and Secrets from the cluster; give env entries with literal values",
            "volumeDevices": "volumeDevices (raw block devices) are not supported",
            "restartPolicy": "a container restartPolicy (sidecar init containers) is not supported",
        ],
        clusterOnly: [
            "imagePullPolicy": "image pulling; bulkhead pulls no images",
            "terminationMessagePath": "the kubelet's termination message", "terminationMessagePolicy": "the kubelet's termination message",
            "livenessProbe": "health checks by the kubelet", "readinessProbe": "health checks by the kubelet",
            "startupProbe": "health checks by the kubelet", "lifecycle": "postStart/preStop hooks run by the kubelet",
            "resizePolicy": "in-place resize by the kubelet",
        ])

    static let podSecurityContextFields = ManifestFields(
        supported: ["runAsUser", "runAsGroup", "runAsNonRoot", "seccompProfile", "supplementalGroups"],
        refused: [
            "fsGroup": "fsGroup (volume group ownership and a supplementary group) is not supported",
            "fsGroupChangePolicy": "fsGroupChangePolicy is not supported",
            "supplementalGroupsPolicy": "supplementalGroupsPolicy is not supported",
            "sysctls": "sysctls are not supported: bulkhead changes no kernel parameters",
            "seLinuxOptions": "SELinux is not available to bulkhead; Landlock rules come from the layer profile",
            "seLinuxChangePolicy": "SELinux is not available to bulkhead",
            "appArmorProfile": "AppArmor is not available to bulkhead; Landlock rules come from the layer profile",
            "windowsOptions": "windowsOptions apply to Windows containers only",
        ])

    /// Container securityContext: the layer profile's fields (ProfileParser.parseSecurityContext
    /// decides them); Kubernetes fields with no bulkhead equivalent are refused here first.
    static let containerSecurityContextRefused: [String: String] = [
        "seLinuxOptions": "SELinux is not available to bulkhead; Landlock rules come from the layer profile",
        "appArmorProfile": "AppArmor is not available to bulkhead; Landlock rules come from the layer profile",
        "windowsOptions": "windowsOptions apply to Windows containers only",
    ]

    static let volumeTypes = [
        "hostPath", "configMap", "secret", "persistentVolumeClaim", "projected", "downwardAPI", "nfs", "csi", "ephemeral",
        "image", "iscsi", "fc", "rbd", "cephfs", "glusterfs", "awsElasticBlockStore", "gcePersistentDisk", "azureDisk",
        "azureFile", "gitRepo", "flexVolume", "cinder", "vsphereVolume", "quobyte", "portworxVolume", "scaleIO",
        "storageos", "photonPersistentDisk", "flocker",
    ]

    // MARK: Document

    /// The Pod, or its first error by position. `ManifestSet.parseCollecting` gives them all.
    public static func parse(_ doc: ConfigNode) throws(ConfigError) -> PodManifest {
        let c = ConfigErrorCollector()
        let pod = try parse(doc, collecting: c)
        if let first = c.sorted.first { throw first }
        return pod
    }

    /// The Pod, with every error found added to `c` (the Pod is what the manifest says only when
    /// `c` holds none). As `ProfileParser` does, the parser goes on past an error wherever the
    /// rest does not depend on the value refused: past each field, list item and mapping key,
    /// not into a section that is not a mapping; a missing `spec` ends it (thrown).
    static func parse(_ doc: ConfigNode, collecting c: ConfigErrorCollector) throws(ConfigError) -> PodManifest {
        var ignored: [IgnoredField] = []
        var notes: [String] = []
        let top = try ManifestFields.objectTop.mapping(doc, ignored: &ignored, collecting: c)
        c.attempt { () throws(ConfigError) in try checkType(top, apiVersion: apiVersion, kind: kind, owner: doc) }
        var meta = ObjectMeta(name: "")
        var annotationNodes: [String: ConfigNode] = [:]
        c.attempt { () throws(ConfigError) in
            (meta, annotationNodes) = try ManifestFields.parseMetadataWithNodes(top["metadata"], owner: doc, ignored: &ignored, collecting: c)
        }
        let specNode = try top.require("spec")
        let spec = try podSpecFields.mapping(specNode, ignored: &ignored, collecting: c)

        // Namespaces and identity: bulkhead always isolates these.
        for (key, reason) in [
            ("hostUsers", "hostUsers: true is not supported: bulkhead always runs a pod in its own user namespace"),
            ("hostNetwork", "hostNetwork: true is not supported: every pod gets its own network namespace on bulkhead's node bridge"),
            ("hostPID", "hostPID: true is not supported: every pod gets its own PID namespace"),
            ("hostIPC", "hostIPC: true is not supported: every pod gets its own IPC namespace"),
        ] {
            c.attempt { () throws(ConfigError) in try spec[key]?.refuseTrue(reason) }
        }
        if let os = spec["os"] {
            c.attempt { () throws(ConfigError) in
                let om = try c.mapping(os, allowed: ["name"])
                let n = try om.require("name")
                guard try n.string() == "linux" else { throw n.error("only linux pods run here") }
            }
        }

        var pod = PodManifest(metadata: meta, containers: [], file: doc.file)
        if let v = spec["shareProcessNamespace"] { c.attempt { () throws(ConfigError) in pod.shareProcessNamespace = try v.bool() } }
        if let v = spec["automountServiceAccountToken"] { c.attempt { () throws(ConfigError) in pod.automountServiceAccountToken = try v.bool() } }
        if let v = spec["activeDeadlineSeconds"] {
            c.attempt { () throws(ConfigError) in pod.activeDeadlineSeconds = UInt64(try v.int64(in: 1...Int64(DurationField.maxSeconds))) }
        }
        if let h = spec["hostname"] {
            c.attempt { () throws(ConfigError) in
                let s = try h.string()
                if let p = KubernetesLabels.dnsLabelProblem(s) { throw h.error("hostname \"\(s)\" \(p)") }
                pod.hostname = s
            }
        }
        if let r = spec["restartPolicy"] {
            c.attempt { () throws(ConfigError) in
                let s = try r.string()
                if s == "Always" {
                    throw r.error("restartPolicy: Always is not supported: bulkhead runs a pod to completion; use Never or OnFailure")
                }
                guard let p = PodRestartPolicy(exactly: s) else { throw r.error("unknown restartPolicy \"\(s)\"; allowed: Never, OnFailure") }
                pod.restartPolicy = p
            }
        } else {
            notes.append("restartPolicy is not set: Kubernetes would default to Always; bulkhead runs the pod once (Never)")
        }
        if let sc = spec["securityContext"] {
            c.attempt { () throws(ConfigError) in
                _ = try podSecurityContextFields.mapping(sc, ignored: &ignored, collecting: c)
                // The fields refused or unknown above are not said twice by the profile's rules.
                let kept = ConfigNode(node: keeping(sc.node, keys: Set(podSecurityContextFields.supported)), path: sc.path, file: sc.file)
                var layer = ProfileLayer()
                layer.source = doc.file
                try ProfileParser.parseSecurityContext(kept, into: &layer, manifest: true, podWide: true, collecting: c)
                pod.podSecurityContext = layer
            }
        }

        // Volumes first: mounts refer to them (by the names given, so that a volume refused for
        // another field does not make each of its mounts an error too).
        if let vs = spec["volumes"] { c.attempt { () throws(ConfigError) in pod.volumes = try parseVolumes(vs, collecting: c) } }
        let volumeNames = declaredNames(spec["volumes"])
        // Looked up once per mount: sets, so that a pod's cost is its length, not volumes x mounts.
        let volumeNameSet = Set(volumeNames)
        let secretVolumes = Set(pod.volumes.filter { $0.secretName != nil }.map(\.name))

        c.attempt { () throws(ConfigError) in
            let containersNode = try spec.require("containers")
            let items = try containersNode.sequence()
            guard !items.isEmpty else { throw containersNode.error("a pod needs at least one container") }
            var names = Set<String>()
            for item in items {
                c.attempt { () throws(ConfigError) in
                    let ct = try parseContainer(item, secretVolumes: secretVolumes, volumeNames: volumeNames, declaredVolumes: volumeNameSet, file: doc.file, ignored: &ignored, collecting: c)
                    guard names.insert(ct.name).inserted else { throw item.error("two containers are named \"\(ct.name)\"; container names must be unique in a pod") }
                    pod.containers.append(ct)
                }
            }
        }

        applyAnnotations(meta.annotations, nodes: annotationNodes, containerNames: declaredNames(spec["containers"]), to: &pod, collecting: c)

        for ct in pod.containers {
            if ct.runsOnHostRoot {
                notes.append("container \(ct.name): image \(ct.image) is not pulled; it runs on the host's root filesystem, read-only (set \(rootfsAnnotation).\(ct.name) to a root filesystem directory)")
            } else {
                notes.append("container \(ct.name): image \(ct.image) is not pulled; it runs on the root filesystem directory \(ct.rootfs!)")
            }
        }
        pod.ignoredFields = ignored
        pod.notes = notes
        return pod
    }

    /// The `name`s a list of mappings gives (containers, volumes), whatever else is wrong with
    /// its items: what references to them are checked against.
    static func declaredNames(_ list: ConfigNode?) -> [String] {
        guard let list, let items = try? list.sequence() else { return [] }
        return items.compactMap { (item: ConfigNode) -> String? in
            guard let m = try? item.mapping(), let n = m["name"] else { return nil }
            return try? n.string()
        }
    }

    static func checkType(_ top: ConfigMapping, apiVersion: String, kind: String, owner: ConfigNode) throws(ConfigError) {
        let av = try top.require("apiVersion")
        guard try av.string() == apiVersion else { throw av.error("expected apiVersion \(apiVersion) for kind \(kind), got \"\(try av.string())\"") }
        let k = try top.require("kind")
        guard try k.string() == kind else { throw k.error("expected kind \(kind), got \"\(try k.string())\"") }
    }

    // MARK: Containers

    /// One container; its name and image are required (thrown), every other error is added to
    /// `col` and the rest of the container still read.
    static func parseContainer(_ node: ConfigNode, secretVolumes: Set<String>, volumeNames: [String], declaredVolumes: Set<String>, file: String,
                               ignored: inout [IgnoredField], collecting col: ConfigErrorCollector) throws(ConfigError) -> PodContainer {
        let m = try containerFields.mapping(node, ignored: &ignored, collecting: col)
        let nameNode = try m.require("name")
        let name = try nameNode.string()
        if let p = KubernetesLabels.dnsLabelProblem(name) { throw nameNode.error("container name \"\(name)\" \(p)") }
        let imageNode = try m.require("image")
        let image = try imageNode.string()
        guard !image.isEmpty else { throw imageNode.error("image may not be empty") }
        var c = PodContainer(name: name, image: image)

        for key in ["stdin", "stdinOnce", "tty"] {
            col.attempt { () throws(ConfigError) in
                try m[key]?.refuseTrue("\(key): true is not supported: a bulkhead container has no terminal or attached standard input")
            }
        }
        if let ports = m["ports"] {
            col.attempt { () throws(ConfigError) in
                for p in try ports.sequence() {
                    col.attempt { () throws(ConfigError) in
                        let pm = try col.mapping(p, allowed: ["name", "containerPort", "protocol", "hostPort", "hostIP"])
                        if let hp = pm["hostPort"], try hp.int64() != 0 {
                            throw hp.error("hostPort is not supported: it would expose the pod on the host's network")
                        }
                        if let hip = pm["hostIP"] { throw hip.error("hostIP is not supported: it would expose the pod on the host's network") }
                        _ = try pm.require("containerPort").int64(in: 1...65535)
                    }
                }
            }
            ignored.append(IgnoredField(path: ports.path, reason: "informational in Kubernetes as well: a container port is reachable without it (NetworkPolicy named ports are refused)"))
        }

        // env first: command and args expand $(VAR) from it. Every value, expanded, within what
        // execve takes: each reference copies a value, so a few lines would otherwise grow
        // into gigabytes in the root launcher.
        var budget = KubernetesExpansion.maxTotalBytes
        func expanded(_ raw: String, at n: ConfigNode, _ lookup: (String) -> String?) throws(ConfigError) -> String {
            guard let v = KubernetesExpansion.expand(raw, limit: min(KubernetesExpansion.maxStringBytes, budget), lookup) else {
                throw n.error("expands to more than execve takes: \(KubernetesExpansion.maxStringBytes) bytes in one value (MAX_ARG_STRLEN), \(KubernetesExpansion.maxTotalBytes) in the command, args and env together; the container could never start (E2BIG)")
            }
            budget -= v.utf8.count
            return v
        }
        if let e = m["env"] {
            col.attempt { () throws(ConfigError) in
                var defined: [String: String] = [:]
                for item in try e.sequence() {
                    col.attempt { () throws(ConfigError) in
                        let em = try col.mapping(item, allowed: ["name", "value", "valueFrom"])
                        let nNode = try em.require("name")
                        let n = try FieldRules.kubernetesEnvName(try nNode.string()).at(nNode)
                        if let vf = em["valueFrom"] {
                            throw vf.error("valueFrom is not supported: it reads from the cluster (fieldRef, resourceFieldRef, configMapKeyRef, secretKeyRef); give a literal value")
                        }
                        let raw = try em["value"]?.scalarText() ?? ""
                        let value = try expanded(raw, at: em["value"] ?? item) { defined[$0] }
                        defined[n] = value
                        c.env.append(EnvVar(name: n, value: value))
                    }
                }
            }
        }
        let envMap = Dictionary(c.env.map { ($0.name, $0.value) }, uniquingKeysWith: { _, b in b })
        var commandRefused = false
        if let cmd = m["command"] {
            col.attempt { () throws(ConfigError) in
                do throws(ConfigError) {
                    for x in try cmd.stringList() { c.command.append(try expanded(x, at: cmd) { envMap[$0] }) }
                } catch { commandRefused = true; throw error }
            }
        }
        if let a = m["args"] { col.attempt { () throws(ConfigError) in for x in try a.stringList() { c.args.append(try expanded(x, at: a) { envMap[$0] }) } } }
        if c.command.isEmpty && !commandRefused {
            col.errors.append((m["command"] ?? node).error(m["command"] == nil
                ? "missing required field \"command\": bulkhead reads no image metadata, so it cannot know the image's ENTRYPOINT"
                : "command may not be empty"))
        }
        c.argv = c.command + c.args
        if let w = m["workingDir"] { col.attempt { () throws(ConfigError) in c.workingDir = try ProfileParser.workingDirectory(w) } }

        if let r = m["resources"] {
            col.attempt { () throws(ConfigError) in
                let rm = try ManifestFields(
                    supported: ["limits", "requests"],
                    refused: ["claims": "resources.claims (dynamic resource allocation) need a cluster"]
                ).mapping(r, ignored: &ignored, collecting: col)
                var refused = false
                if let l = rm["limits"] {
                    col.attempt { () throws(ConfigError) in
                        do throws(ConfigError) { c.limits = try parseContainerResources(l, collecting: col) } catch { refused = true; throw error }
                    }
                }
                if let q = rm["requests"] {
                    col.attempt { () throws(ConfigError) in
                        do throws(ConfigError) { c.requests = try parseContainerResources(q, collecting: col) } catch { refused = true; throw error }
                    }
                }
                // Kubernetes defaults each request to its limit when only the limit is given.
                c.requests = c.requests.over(c.limits)
                guard !refused else { return }
                let checks: [(String, UInt64?, UInt64?, (UInt64) -> String)] = [
                    ("cpu", c.requests.cpuMilli, c.limits.cpuMilli, Quantity.formatMilli),
                    ("memory", c.requests.memoryBytes, c.limits.memoryBytes, Quantity.formatBytes),
                    ("ephemeral-storage", c.requests.ephemeralStorageBytes, c.limits.ephemeralStorageBytes, Quantity.formatBytes),
                ]
                for (key, req, lim, fmt) in checks {
                    if let req, let lim, req > lim {
                        let at = rm["requests"].map { (n: ConfigNode) in n } ?? r
                        col.errors.append(ConfigError(file: file, field: "\(at.path).\(key)", line: at.line,
                                                      message: "request \(fmt(req)) exceeds the limit \(fmt(lim)); a request must be less than or equal to its limit"))
                    }
                }
            }
        }

        if let sc = m["securityContext"] {
            col.attempt { () throws(ConfigError) in
                let all = try sc.mapping()
                for (key, v) in all.entries {
                    if let reason = containerSecurityContextRefused[key], !v.isEmptyValue { col.errors.append(v.error(reason)) }
                }
                let filtered = ConfigNode(node: stripping(sc.node, keys: Set(containerSecurityContextRefused.keys)), path: sc.path, file: sc.file)
                var layer = ProfileLayer()
                layer.source = file
                try ProfileParser.parseSecurityContext(filtered, into: &layer, manifest: true, collecting: col)
                c.securityContext = layer
            }
        }

        if let vm = m["volumeMounts"] {
            col.attempt { () throws(ConfigError) in
                var paths = Set<String>()
                for item in try vm.sequence() {
                    col.attempt { () throws(ConfigError) in
                        let mm = try ManifestFields(
                            supported: ["name", "mountPath", "readOnly", "mountPropagation", "recursiveReadOnly"],
                            refused: [
                                "subPath": "subPath is not supported: mount the whole volume",
                                "subPathExpr": "subPathExpr is not supported: mount the whole volume",
                            ]
                        ).mapping(item, ignored: &ignored, collecting: col)
                        var mount = PodVolumeMount(name: "", mountPath: "", readOnly: false)
                        col.attempt { () throws(ConfigError) in
                            let vNode = try mm.require("name")
                            let vname = try vNode.string()
                            guard declaredVolumes.contains(vname) else {
                                var msg = "no volume named \"\(vname)\" in spec.volumes"
                                if let s = col.suggestion(for: vname, in: volumeNames) { msg += "; did you mean \"\(s)\"?" }
                                throw vNode.error(msg)
                            }
                            mount.name = vname
                        }
                        col.attempt { () throws(ConfigError) in
                            let pNode = try mm.require("mountPath")
                            let path = try ProfileParser.absolutePath(pNode)
                            if path == "/" || path == "/proc" || path.hasPrefix("/proc/") || path == "/dev" || path.hasPrefix("/dev/") {
                                throw pNode.error("cannot mount a volume at \(path): bulkhead owns /, /proc and /dev")
                            }
                            guard paths.insert(path).inserted else { throw pNode.error("two volumeMounts of this container use \(path)") }
                            mount.mountPath = path
                        }
                        if let mp = mm["mountPropagation"] {
                            col.attempt { () throws(ConfigError) in
                                if try mp.string() != "None" {
                                    throw mp.error("mountPropagation \(try mp.string()) is not supported: mounts never propagate between a bulkhead container and the host (None)")
                                }
                            }
                        }
                        if let rr = mm["recursiveReadOnly"] {
                            col.attempt { () throws(ConfigError) in
                                if try rr.string() != "Disabled" {
                                    throw rr.error("recursiveReadOnly is not supported (an emptyDir has no submounts to make read-only)")
                                }
                            }
                        }
                        // A secret volume is always read-only, as the kubelet mounts it.
                        let isSecret = secretVolumes.contains(mount.name)
                        var readOnly = false
                        if let ro = mm["readOnly"] { col.attempt { () throws(ConfigError) in readOnly = try ro.bool() } }
                        mount.readOnly = isSecret || readOnly
                        if !mount.name.isEmpty && !mount.mountPath.isEmpty { c.volumeMounts.append(mount) }
                    }
                }
            }
        }
        return c
    }

    /// Container `resources.limits` / `requests`: cpu, memory and ephemeral-storage.
    static func parseContainerResources(_ node: ConfigNode, collecting col: ConfigErrorCollector) throws(ConfigError) -> ResourceSpec {
        let supported = ["cpu", "memory", "ephemeral-storage"]
        for (key, v) in try node.mapping().entries {
            switch key {
            case "cpu", "memory", "ephemeral-storage": continue
            case "pids":
                col.errors.append(v.error("Kubernetes has no per-container pids resource; set resources.limits.pids in the layer profile or pids= in the annotation \(podLimitsAnnotation)"))
            default:
                if key.hasPrefix("hugepages-") { col.errors.append(v.error("hugepages limits are not supported")); continue }
                var msg = "unknown or unsupported resource \"\(key)\""
                if let s = closestMatch(to: key, in: supported) { msg += "; did you mean \"\(s)\"?" }
                col.errors.append(v.error(msg + " Supported: cpu, memory, ephemeral-storage"))
            }
        }
        // The keys refused above are not said twice by the profile's rules.
        return try ProfileParser.parseResources(ConfigNode(node: keeping(node.node, keys: Set(supported)), path: node.path, file: node.file),
                                                collecting: col)
    }

    /// A copy of a mapping node without `keys` (already checked and refused when set).
    static func stripping(_ node: Node, keys: Set<String>) -> Node {
        filtering(node) { !keys.contains($0) }
    }

    /// A copy of a mapping node with only `keys` (the others already checked and refused).
    static func keeping(_ node: Node, keys: Set<String>) -> Node {
        filtering(node) { keys.contains($0) }
    }

    static func filtering(_ node: Node, _ keep: (String) -> Bool) -> Node {
        guard case .mapping(let m) = node else { return node }
        let kept = m.filter { pair in
            if case .scalar(let k) = pair.key { return keep(k.string) }
            return true
        }
        return .mapping(Node.Mapping(kept.map { ($0.key, $0.value) }, m.tag, m.style, m.mark, m.anchor))
    }

    // MARK: Volumes

    static func parseVolumes(_ node: ConfigNode, collecting col: ConfigErrorCollector) throws(ConfigError) -> [PodVolume] {
        var out: [PodVolume] = []
        for item in try node.sequence() {
            col.attempt { () throws(ConfigError) in
                if let v = try parseVolume(item, after: out, collecting: col) { out.append(v) }
            }
        }
        return out
    }

    /// One volume; nil when an error was collected for it.
    static func parseVolume(_ item: ConfigNode, after out: [PodVolume], collecting col: ConfigErrorCollector) throws(ConfigError) -> PodVolume? {
        let before = col.errors.count
        let all = try item.mapping()
        for (key, v) in all.entries where key != "name" && key != "emptyDir" && key != "secret" {
            if volumeTypes.contains(key) {
                col.errors.append(v.error("\(key) volumes are not supported: only emptyDir (with sizeLimit and medium) and secret (from the tenant's secrets directory) are; a \(key) volume would need the cluster or expose host state"))
                continue
            }
            var msg = "unknown field \"\(key)\""
            if let s = closestMatch(to: key, in: ["name", "emptyDir"] + volumeTypes) { msg += "; did you mean \"\(s)\"?" }
            col.errors.append(v.error(msg + " Supported here: name, emptyDir, secret"))
        }
        if all["emptyDir"] != nil, let s = all["secret"] { throw s.error("a volume is either emptyDir or secret, not both") }
        let nNode = try all.require("name")
        let name = try nNode.string()
        if let p = KubernetesLabels.dnsLabelProblem(name) { throw nNode.error("volume name \"\(name)\" \(p)") }
        guard !out.contains(where: { $0.name == name }) else { throw nNode.error("two volumes are named \"\(name)\"") }
        // A volume with no source is an emptyDir, as the API server defaults it.
        var vol = PodVolume(name: name)
        if let e = all["emptyDir"] {
            col.attempt { () throws(ConfigError) in
                let em = try col.mapping(e, allowed: ["medium", "sizeLimit"])
                if let md = em["medium"] {
                    col.attempt { () throws(ConfigError) in
                        let s = try md.isNull ? "" : md.scalarText()
                        guard let medium = EmptyDirMedium(exactly: s) else {
                            throw md.error("unsupported emptyDir medium \"\(s)\"; allowed: \"\" (disk) or Memory (HugePages is not supported)")
                        }
                        vol.medium = medium
                    }
                }
                if let sl = em["sizeLimit"] { col.attempt { () throws(ConfigError) in vol.sizeLimitBytes = try NumberField.storage.parse(sl) } }
            }
        }
        if let sec = all["secret"] {
            col.attempt { () throws(ConfigError) in
                let sm = try col.mapping(sec, allowed: ["secretName", "optional", "defaultMode", "items"])
                if let i = sm["items"] { col.errors.append(i.error("secret items are not supported: the whole secret is mounted")) }
                if let o = sm["optional"] {
                    col.attempt { () throws(ConfigError) in
                        if try o.bool() { throw o.error("optional secrets are not supported: a secret the tenant does not hold is an error") }
                    }
                }
                if let m = sm["defaultMode"] { col.errors.append(m.error("defaultMode is not supported: secret files are mode 0400, owned by the pod's root")) }
                let snNode = try sm.require("secretName")
                let secretName = try snNode.string()
                if let p = KubernetesLabels.dnsLabelProblem(secretName) { throw snNode.error("secret name \"\(secretName)\" \(p)") }
                vol.secretName = secretName
                vol.medium = .memory
                vol.sizeLimitBytes = PodVolume.secretSizeLimit
            }
        }
        return col.errors.count == before ? vol : nil
    }

    // MARK: Annotations

    /// Each annotation on its own: an error is added to `c` and the next one read.
    /// - Parameter containerNames: the names the manifest gives its containers (as written,
    ///   so that a container refused for another field is no unknown name here).
    static func applyAnnotations(_ annotations: [String: String], nodes: [String: ConfigNode], containerNames: [String],
                                 to pod: inout PodManifest, collecting c: ConfigErrorCollector) {
        let declared = Set(containerNames)
        for (key, value) in annotations.sorted(by: { $0.key < $1.key }) {
            c.attempt { () throws(ConfigError) in
                let node = nodes[key]!
                if key == ingressBandwidthAnnotation || key == egressBandwidthAnnotation {
                    let bps = try NumberField.bandwidth.parse(value).at(node)
                    if key == ingressBandwidthAnnotation { pod.ingressBitsPerSecond = bps } else { pod.egressBitsPerSecond = bps }
                    return
                }
                guard key.hasPrefix("bulkhead.dev/") else { return }
                if key == podLimitsAnnotation {
                    pod.podLimitsOverride = try podLimits(value, node: node)
                    return
                }
                if key == networkAnnotation {
                    guard value == "node" || value == "none" else {
                        throw node.error("expected node (a veth and an address on the node bridge) or none (loopback only), got \"\(value)\"")
                    }
                    pod.nodeNetwork = value == "node"
                    return
                }
                var base = key, container: String?
                for a in [profileAnnotation, rootfsAnnotation] where key.hasPrefix(a + ".") {
                    base = a
                    container = String(key.dropFirst(a.count + 1))
                }
                guard base == profileAnnotation || base == rootfsAnnotation else {
                    var msg = "unknown bulkhead annotation \"\(key)\""
                    let known = [profileAnnotation, rootfsAnnotation, podLimitsAnnotation, networkAnnotation]
                    if let s = closestMatch(to: key, in: known) { msg += "; did you mean \"\(s)\"?" }
                    throw node.error(msg + " Known: \(profileAnnotation)[.CONTAINER], \(rootfsAnnotation)[.CONTAINER], \(podLimitsAnnotation), \(networkAnnotation)")
                }
                if let container, !declared.contains(container) {
                    var msg = "no container named \"\(container)\" in this pod"
                    if let s = c.suggestion(for: container, in: containerNames) { msg += "; did you mean \"\(s)\"?" }
                    throw node.error(msg)
                }
                guard !value.isEmpty else { throw node.error("\(base) needs a value") }
                var setting = value
                if base == rootfsAnnotation {
                    setting = try ProfileParser.absolutePath(node)
                    guard setting.hasPrefix(rootfsRoot + "/"), !ExactName.hasDotDot(setting) else {
                        throw node.error("a pod's root filesystem is a directory under \(rootfsRoot) (the node's image store), with no `..`; a manifest cannot make a host directory its root")
                    }
                } else if !ProfileParser.isValidProfileName(value) {
                    // A name on the node's profile path, never a file: a manifest's author does not
                    // choose which of the node's files root reads.
                    throw node.error("expected a profile name (letters, digits, -, _ and .; no / and no .yaml), as `bulkhead profile list` shows them; a pod annotation cannot name a file")
                }
                for i in pod.containers.indices where container == nil || pod.containers[i].name == container {
                    // A per-container annotation wins over the pod-wide one, whichever comes first.
                    if base == profileAnnotation {
                        if container != nil || pod.containers[i].profile == nil { pod.containers[i].profile = setting }
                    } else if container != nil || pod.containers[i].rootfs == nil {
                        pod.containers[i].rootfs = setting
                    }
                }
                if container == nil, base == profileAnnotation { pod.profile = setting }
            }
        }
    }

    /// `cpu=1,memory=512Mi,pids=256` (any subset, no repeats).
    static func podLimits(_ text: String, node: ConfigNode) throws(ConfigError) -> ResourceSpec {
        var r = ResourceSpec()
        var seen = Set<Substring>()
        for part in text.split(separator: ",", omittingEmptySubsequences: false) {
            let kv = part.trimmingSpaces.split(separator: "=", maxSplits: 1, omittingEmptySubsequences: false)
            guard kv.count == 2 else { throw node.error("expected cpu=…,memory=…,pids=… (any of them), got \"\(text)\"") }
            let key = kv[0], value = String(kv[1])
            guard seen.insert(key).inserted else { throw node.error("\(key) is given twice") }
            // The same fields as a profile's resources.limits, with the key in the message.
            let field: NumberField
            switch key {
            case "cpu": field = .cpu
            case "memory": field = .memory
            case "pids": field = .pids
            default: throw node.error("unknown pod limit \"\(key)\"; allowed: cpu, memory, pids")
            }
            let v = try field.parse(value).mapError { FieldRefusal(message: "\(key)=\(value): \($0.message)") }.at(node)
            switch key {
            case "cpu": r.cpuMilli = v
            case "memory": r.memoryBytes = v
            default: r.pids = v
            }
        }
        return r
    }
}

extension ManifestFields {
    /// `parseMetadata`, plus each annotation's node so annotation errors can point at it.
    static func parseMetadataWithNodes(_ node: ConfigNode?, owner: ConfigNode, ignored: inout [IgnoredField],
                                       collecting c: ConfigErrorCollector? = nil) throws(ConfigError) -> (ObjectMeta, [String: ConfigNode]) {
        let meta = try parseMetadata(node, owner: owner, ignored: &ignored, collecting: c)
        var nodes: [String: ConfigNode] = [:]
        if let node, let a = try node.mapping()["annotations"] {
            for (k, v) in try a.mapping().entries { nodes[k] = v }
        }
        return (meta, nodes)
    }
}

extension Substring {
    var trimmingSpaces: Substring {
        var s = self
        while s.first == " " { s.removeFirst() }
        while s.last == " " { s.removeLast() }
        return s
    }
}

/// Kubernetes' `$(VAR)` expansion in command, args and env values
/// (third_party/forked/golang/expansion): `$(NAME)` becomes the variable's value when it is
/// defined and stays as written when not; `$$` is a literal `$`.
public enum KubernetesExpansion {
    /// The kernel's MAX_ARG_STRLEN (32 pages): execve refuses a longer argument or
    /// environment string with E2BIG.
    public static let maxStringBytes = 32 * 4096
    /// The most execve takes in argv and envp together, whatever RLIMIT_STACK says (3/4 of
    /// _STK_LIM, fs/exec.c).
    public static let maxTotalBytes = 6 << 20

    public static func expand(_ input: String, _ lookup: (String) -> String?) -> String {
        expand(input, limit: Int.max, lookup)!
    }

    /// nil as soon as the result passes `limit` bytes (UTF-8): a reference copies a whole
    /// value, so the result can be far larger than the input.
    public static func expand(_ input: String, limit: Int, _ lookup: (String) -> String?) -> String? {
        let s = Array(input.unicodeScalars)
        var out = String.UnicodeScalarView()
        var bytes = 0
        func add(_ scalars: some Sequence<Unicode.Scalar>) -> Bool {
            for u in scalars { bytes += UTF8.width(u) }
            guard bytes <= limit else { return false }
            out.append(contentsOf: scalars)
            return true
        }
        var i = 0
        while i < s.count {
            guard s[i] == "$", i + 1 < s.count else { guard add([s[i]]) else { return nil }; i += 1; continue }
            let next = s[i + 1]
            if next == "$" { guard add(["$"]) else { return nil }; i += 2; continue }
            if next == "(", let close = s[(i + 2)...].firstIndex(of: ")") {
                let name = String(String.UnicodeScalarView(s[(i + 2)..<close]))
                if let v = lookup(name) {
                    guard v.utf8.count <= limit - bytes, add(v.unicodeScalars) else { return nil }
                } else {
                    guard add(s[i...close]) else { return nil }
                }
                i = close + 1
                continue
            }
            guard add([s[i], next]) else { return nil }
            i += 2
        }
        return String(out)
    }
}
