/// The parts of a Kubernetes container spec that a layer profile decides: `securityContext` and
/// `resources`. Pure: `bulkhead k8s securitycontext` prints it, tests compare it.
///
/// What has no per-container field in Kubernetes is written as a comment line, never dropped
/// silently: the pids limit (the kubelet's `podPidsLimit` is per pod), rlimits, Landlock rules,
/// the io controller's weight and throttles, limits that are best-effort, masked and read-only
/// paths beyond the runtime's defaults, binds (hostPath volumes), and the namespaces (pod-level
/// `hostUsers`, `hostNetwork`). Quantities are quoted strings (`cpu: "1"`), as kubectl writes
/// them: a bare `1` is a YAML number, and a quantity is a string in the Kubernetes API.
public struct KubernetesContainerSpec: Sendable, Equatable {
    public var profile: EffectiveProfile
    /// The `localhostProfile` file name (`profiles/NAME.json`) when the seccomp policy is a file.
    public var seccompName: String

    public init(profile: EffectiveProfile, seccompName: String? = nil) {
        self.profile = profile
        self.seccompName = seccompName ?? KubernetesName.sanitized(profile.name)
    }

    /// `securityContext:` and `resources:` as YAML, two-space indented, fields in a fixed order.
    public var yaml: String {
        let p = profile
        var y = "# container securityContext and resources for bulkhead profile \(p.name) (\(p.chain.joined(separator: " > ")))\n"
        y += "securityContext:\n"
        let all = p.capabilities == .all
        y += "  privileged: false\n"
        y += "  runAsUser: \(p.runAsUser)\n  runAsGroup: \(p.runAsGroup)\n  runAsNonRoot: \(p.runAsNonRoot)\n"
        y += "  readOnlyRootFilesystem: \(p.readOnlyRootFilesystem)\n"
        y += "  allowPrivilegeEscalation: \(p.allowPrivilegeEscalation)\n"
        y += "  capabilities:\n    drop:\n    - ALL\n"
        if all {
            y += "    add:\n    - ALL\n"
        } else if !p.capabilities.isEmpty {
            y += "    add:\n" + p.capabilities.members.map { "    - \($0.kubernetesName)\n" }.joined()
        }
        y += "  seccompProfile:\n"
        switch p.seccomp {
        case .unconfined:
            y += "    type: Unconfined\n"
        case .runtimeDefault:
            y += "    # the node's runtime default, not bulkhead's Profiles/seccomp/container.json; for bulkhead's\n"
            y += "    # filter run `bulkhead seccomp export --profile \(p.name)` and use type Localhost\n"
            y += "    type: RuntimeDefault\n"
        case .localhost, .inline:
            y += "    # install with: bulkhead seccomp export --profile \(p.name) --name \(seccompName) -o \(seccompName).json\n"
            y += "    #   on every node at \(KubernetesSeccompInstall.nodePath(name: seccompName))\n"
            y += "    type: Localhost\n    localhostProfile: \(KubernetesSeccompInstall.localhostProfile(name: seccompName))\n"
        }
        y += "resources:\n"
        let limits = resourceLines(p.limits), requests = resourceLines(p.requests)
        y += limits.isEmpty ? "  limits: {}\n" : "  limits:\n" + limits
        if !requests.isEmpty { y += "  requests:\n" + requests }
        // Kubernetes has no per-container pids limit: the kubelet's podPidsLimit bounds a pod.
        let pids = p.limits.pids.map { "pids limit \($0)" } ?? "no pids limit in this profile"
        y += "  # \(pids): Kubernetes has no per-container pids field; the kubelet's podPidsLimit\n"
        y += "  #   (KubeletConfiguration) bounds each pod as a whole\n"
        y += notes
        return y
    }

    func resourceLines(_ r: ResourceSpec) -> String {
        var s = ""
        if let v = r.cpuMilli { s += "    cpu: \"\(Quantity.formatMilli(v))\"\n" }
        if let v = r.memoryBytes { s += "    memory: \"\(Quantity.formatBytes(v))\"\n" }
        if let v = r.ephemeralStorageBytes { s += "    ephemeral-storage: \"\(Quantity.formatBytes(v))\"\n" }
        return s
    }

    /// Settings with no container-level field, as comments.
    var notes: String {
        let p = profile
        var n: [String] = []
        if p.namespaces.contains(.user) { n.append("pod spec: hostUsers: false (a user namespace per pod, Kubernetes 1.30+)") }
        if !p.supplementalGroups.isEmpty {
            n.append("pod spec: securityContext.supplementalGroups: [\(p.supplementalGIDs.map(String.init).joined(separator: ", "))] (no container-level field)")
        }
        n.append("pod spec: hostNetwork: \(!p.namespaces.contains(.network)), hostPID: \(!p.namespaces.contains(.pid)), hostIPC: \(!p.namespaces.contains(.ipc))")
        if !p.rlimits.isEmpty {
            let r = p.rlimits.sorted(by: { $0.key < $1.key }).map { "\($0.0.rawValue)=\($0.1.soft == Rlimit.unlimited ? "unlimited" : String($0.1.soft))" }.joined(separator: ", ")
            n.append("rlimits (\(r)) have no Kubernetes field; they come from the container runtime's configuration")
        }
        if let l = p.landlock {
            var rules = ["read-only \(l.readOnly.joined(separator: " "))", "read-write \(l.readWrite.joined(separator: " "))"]
            if let b = l.bindTCP { rules.append("bind TCP \(b.isEmpty ? "none" : b.map(String.init).joined(separator: " "))") }
            if let c = l.connectTCP { rules.append("connect TCP \(c.isEmpty ? "none" : c.map(String.init).joined(separator: " "))") }
            n.append("filesystem.landlock (\(rules.joined(separator: "; "))) has no Kubernetes field; an AppArmor profile (securityContext.appArmorProfile) is the nearest")
        }
        if p.ioWeight != nil || !p.ioMax.isEmpty {
            var io: [String] = []
            if let w = p.ioWeight { io.append("io.weight \(w)") }
            io += p.ioMax.map { "io.max \($0.v2Line)" }
            n.append("resources.io (\(io.joined(separator: "; "))) has no Kubernetes field; the kubelet sets no io controller limit per container")
        }
        if p.enforcement == .bestEffort, p.requestsCgroupLimits {
            n.append("resources.enforcement: best-effort here; the kubelet enforces cpu and memory limits or does not start the pod")
        }
        let masked = p.maskedPaths.filter { !EffectiveProfile.defaultMaskedPaths.contains($0) }
        let readOnly = p.readonlyPaths.filter { !EffectiveProfile.defaultReadonlyPaths.contains($0) }
        for (what, paths) in [("masked", masked), ("read-only", readOnly)] where !paths.isEmpty {
            n.append("\(what) paths beyond the runtime's defaults (\(paths.joined(separator: " "))) have no Kubernetes field; procMount: Default applies only the defaults")
        }
        for b in p.binds {
            n.append("bind \(b.source) -> \(b.destination)\(b.readOnly ? " (read-only)" : ""): a hostPath volume and a volumeMount in the pod spec")
        }
        if let t = p.tmpfs.first(where: { $0.path == "/tmp" }) {
            n.append("/tmp is a \(Quantity.formatBytes(p.tmpfsSize(t))) tmpfs here: mount an emptyDir at /tmp (medium: Memory, sizeLimit: \(Quantity.formatBytes(p.tmpfsSize(t))))")
        }
        return n.map { "# \($0)\n" }.joined()
    }
}
