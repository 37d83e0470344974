import Testing
@testable import BulkheadConfig
@testable import BulkheadModel

/// Pod Security Standards on the effective profile: every control the standards name, at each
/// level, allowed and refused, through the pod's own securityContext and through a profile.
@Suite struct PodSecurityStandardsTests {
    /// The attack of issue 12 item 3.
    static let attackSC = "    securityContext: {runAsUser: 0, allowPrivilegeEscalation: true, capabilities: {add: [ALL]}, seccompProfile: {type: Unconfined}}\n"
    /// A container securityContext that restricted admits (on the container profile).
    static let restrictedSC = "    securityContext: {runAsNonRoot: true, runAsUser: 1000, allowPrivilegeEscalation: false, capabilities: {drop: [ALL]}, seccompProfile: {type: RuntimeDefault}}\n"
    static let rootfs = "    bulkhead.dev/rootfs: /var/lib/bulkhead/rootfs/r\n"

    func spec(_ yaml: String, layers: (String) throws(ConfigError) -> [ProfileLayer] = embeddedLayers) throws -> PodLaunchSpec {
        try PodManifestParser.parse(yaml, file: "pod.yaml").launchSpec(volumeDirectory: "/v", profileLayers: layers)
    }
    /// reason -> details, for one level.
    func check(_ s: PodLaunchSpec, _ level: PodSecurityLevel) -> [String: [String]] {
        Dictionary(uniqueKeysWithValues: PodSecurityStandards.evaluate(s, level: level).map { ($0.reason, $0.details) })
    }
    /// The levels that admit the pod.
    func admitted(_ s: PodLaunchSpec) -> [PodSecurityLevel] {
        PodSecurityLevel.allCases.filter { PodSecurityStandards.evaluate(s, level: $0).isEmpty }
    }
    /// A profile stack: the embedded container profile plus one permissive layer.
    func withProfile(_ f: @escaping (inout ProfileLayer) -> Void) -> (String) throws(ConfigError) -> [ProfileLayer] {
        { (name: String) throws(ConfigError) -> [ProfileLayer] in
            try embeddedLayers("container") + [ProfileLayer.with { $0.name = name; $0.source = "/p/\(name).yaml"; f(&$0) }]
        }
    }
    func parserRefuses(_ yaml: String, _ text: String, sourceLocation: SourceLocation = #_sourceLocation) {
        do {
            _ = try PodManifestParser.parse(yaml, file: "pod.yaml")
            Issue.record("expected the parser to refuse (\(text))", sourceLocation: sourceLocation)
        } catch {
            #expect(error.message.contains(text), "\(error)", sourceLocation: sourceLocation)
        }
    }

    // MARK: The attack

    @Test func attackPodIsRefusedAtBaselineAndRestricted() throws {
        let s = try spec(podYAML(container: Self.attackSC))
        #expect(admitted(s) == [.privileged])
        let b = check(s, .baseline)
        #expect(Set(b.keys) == ["non-default capabilities", "seccompProfile"])
        let r = PodSecurityStandards.evaluate(s, level: .restricted)
        #expect(r.map(\.reason) == ["unrestricted capabilities", "seccompProfile", "allowPrivilegeEscalation != false", "runAsNonRoot != true", "runAsUser=0"])
        #expect(PodSecurityStandards.message(pod: s.name, level: .restricted, r) == """
            pods "web" is forbidden: violates PodSecurity "restricted:latest": \
            unrestricted capabilities (container "app" must set securityContext.capabilities.drop=["ALL"] and must not include "ALL" in securityContext.capabilities.add), \
            seccompProfile (container "app" must not set securityContext.seccompProfile.type to "Unconfined"), \
            allowPrivilegeEscalation != false (container "app" must set securityContext.allowPrivilegeEscalation=false), \
            runAsNonRoot != true (pod or container "app" must set securityContext.runAsNonRoot=true), \
            runAsUser=0 (container "app" must not set runAsUser=0)
            """)
    }

    /// The attack in a tenant that allows the profiles the pod names: on main both pods were
    /// admitted (only the profile name was checked).
    @Test func attackPodIsRefusedByTheTenantsLevel() throws {
        let tenant = try TenantParser.parse("""
            apiVersion: bulkhead.dev/v1alpha1
            kind: Tenant
            metadata: {name: team-a}
            spec:
              hostIDRange: "3000000000:100000"
              podSecurity: {enforce: restricted}
              allowedProfiles: [restricted, container]
              secretsDirectory: /s/team-a
            """, file: "t.yaml")
        for (profile, extra) in [("container", ""), ("restricted", "    securityContext: {runAsNonRoot: false, runAsUser: 0, allowPrivilegeEscalation: true, capabilities: {add: [ALL]}, seccompProfile: {type: Unconfined}}\n")] {
            let s = try spec(podYAML(meta: "  namespace: team-a\n", container: extra.isEmpty ? Self.attackSC : extra,
                                     annotations: "    bulkhead.dev/profile: \(profile)\n"))
            let d = TenantAdmission.admit(s, tenant: tenant)
            #expect(d.reasons.count == 1, "\(d.reasons)")
            let m = try #require(d.reasons.first)
            #expect(m.hasPrefix("pods \"web\" is forbidden: violates PodSecurity \"restricted:latest\": unrestricted capabilities"), "\(m)")
            for part in ["allowPrivilegeEscalation != false", "runAsNonRoot != true", "runAsUser=0", "seccompProfile"] { #expect(m.contains(part), "\(m)") }
        }
        // The default namespace, with no Tenant: baseline.
        let d = TenantAdmission.admitToDefaultNamespace(try spec(podYAML(container: Self.attackSC)))
        #expect(d.reasons == ["""
            pods "web" is forbidden: violates PodSecurity "baseline:latest": \
            non-default capabilities (container "app" must not include "ALL" ("AUDIT_CONTROL", "AUDIT_READ", "BLOCK_SUSPEND", "BPF", "CHECKPOINT_RESTORE", "DAC_READ_SEARCH", "IPC_LOCK", "IPC_OWNER", "LEASE", "LINUX_IMMUTABLE", "MAC_ADMIN", "MAC_OVERRIDE", "NET_ADMIN", "NET_BROADCAST", "NET_RAW", "PERFMON", "SYSLOG", "SYS_ADMIN", "SYS_BOOT", "SYS_MODULE", "SYS_NICE", "SYS_PACCT", "SYS_PTRACE", "SYS_RAWIO", "SYS_RESOURCE", "SYS_TIME", "SYS_TTY_CONFIG", "WAKE_ALARM") in securityContext.capabilities.add), \
            seccompProfile (container "app" must not set securityContext.seccompProfile.type to "Unconfined")
            """])
        // What was admitted before stays admitted: the default profile, and restricted.
        #expect(TenantAdmission.admitToDefaultNamespace(try spec(podYAML())) == .allowed)
        #expect(TenantAdmission.admit(try spec(podYAML(meta: "  namespace: team-a\n", annotations: "    bulkhead.dev/profile: restricted\n")), tenant: tenant) == .allowed)
    }

    /// A permissive profile the tenant allows is judged by what it turns off.
    @Test func permissiveProfileIsNoWayAroundTheLevel() throws {
        let unconfined = try spec(podYAML(annotations: "    bulkhead.dev/profile: unconfined\n" + Self.rootfs))
        #expect(admitted(unconfined) == [.privileged])
        let b = check(unconfined, .baseline)
        #expect(Set(b.keys) == ["non-default capabilities", "procMount", "seccompProfile"])
        #expect(b["seccompProfile"] == ["container \"app\" must not set securityContext.seccompProfile.type to \"Unconfined\" (set by profile unconfined)"])
        #expect(b["procMount"]?.first?.contains("profile unconfined unmasks /proc/acpi") == true)
        let r = check(unconfined, .restricted)
        #expect(r["allowPrivilegeEscalation != false"] == ["container \"app\" must set securityContext.allowPrivilegeEscalation=false (set by profile unconfined)"])
        #expect(r["runAsUser=0"] == ["container \"app\" must not set runAsUser=0 (set by profile unconfined)"])

        // The pod's own securityContext hardens what it can; the profile's unmasked /proc stays.
        let hardened = try spec(podYAML(container: Self.restrictedSC, annotations: "    bulkhead.dev/profile: unconfined\n" + Self.rootfs))
        #expect(Set(check(hardened, .restricted).keys) == ["procMount"])

        let t = Tenant(name: "default", hostIDRange: IDRange(hostStart: 3_000_000_000, count: 100_000), allowedProfiles: ["unconfined"],
                       secretsDirectory: "/s")
        let d = TenantAdmission.admit(unconfined, tenant: t)
        #expect(d.reasons.count == 1 && d.reasons[0].hasPrefix("pods \"web\" is forbidden: violates PodSecurity \"baseline:latest\""), "\(d.reasons)")
        var priv = t; priv.podSecurity.enforce = .privileged
        #expect(TenantAdmission.admit(unconfined, tenant: priv) == .allowed)
    }

    // MARK: Capabilities

    @Test func capabilitiesAtEachLevel() throws {
        func caps(_ c: String, profile: String? = nil) throws -> PodLaunchSpec {
            try spec(podYAML(spec: "  securityContext: {runAsNonRoot: true, runAsUser: 1000}\n", container: "    securityContext: {capabilities: \(c)}\n",
                             annotations: profile.map { "    bulkhead.dev/profile: \($0)\n" } ?? ""))
        }
        // Each of baseline's addable capabilities, with drop ALL: baseline, not restricted,
        // except NET_BIND_SERVICE.
        for cap in PodSecurityStandards.baselineAddable.sorted() {
            let s = try caps("{drop: [ALL], add: [\(cap.kubernetesName)]}")
            #expect(admitted(s) == (cap == .netBindService ? [.privileged, .baseline, .restricted] : [.privileged, .baseline]), "\(cap)")
        }
        // NET_RAW is in the runtime default set but may not be added; nothing else may be.
        for cap in [Capability.netRaw, .sysAdmin, .netAdmin, .sysPtrace, .sysModule, .bpf, .dacReadSearch] {
            let s = try caps("{add: [\(cap.kubernetesName)]}")
            #expect(admitted(s) == [.privileged], "\(cap)")
            #expect(check(s, .baseline)["non-default capabilities"] == ["container \"app\" must not include \"\(cap.kubernetesName)\" in securityContext.capabilities.add"])
        }
        // The CAP_ spelling and lower case are the same capability.
        #expect(admitted(try caps("{add: [cap_sys_admin]}")) == [.privileged])
        // No drop: the runtime default set (NET_RAW included) is baseline, not restricted.
        let def = try caps("{drop: [MKNOD]}")
        #expect(admitted(def) == [.privileged, .baseline])
        #expect(check(def, .restricted)["unrestricted capabilities"] == [
            "container \"app\" must set securityContext.capabilities.drop=[\"ALL\"] and must not include \"AUDIT_WRITE\", \"CHOWN\", \"DAC_OVERRIDE\", \"FOWNER\", \"FSETID\", \"KILL\", \"NET_RAW\", \"SETFCAP\", \"SETGID\", \"SETPCAP\", \"SETUID\", \"SYS_CHROOT\" in securityContext.capabilities.add",
        ])
        #expect(admitted(try caps("{drop: [ALL]}")) == PodSecurityLevel.allCases)
        // Through a profile: the pod says nothing about capabilities.
        let viaProfile = try spec(podYAML(annotations: "    bulkhead.dev/profile: wide\n"),
                                  layers: withProfile { $0.capabilities = CapabilitySpec(add: ["SYS_ADMIN"], drop: ["ALL"]) })
        #expect(check(viaProfile, .baseline)["non-default capabilities"] == ["container \"app\" must not include \"SYS_ADMIN\" in securityContext.capabilities.add (set by profile wide)"])
        // The pod's own drop: [ALL] replaces the profile's list.
        let overridden = try spec(podYAML(container: "    securityContext: {capabilities: {drop: [ALL]}}\n", annotations: "    bulkhead.dev/profile: wide\n"),
                                  layers: withProfile { $0.capabilities = CapabilitySpec(add: ["SYS_ADMIN"]) })
        #expect(check(overridden, .restricted)["unrestricted capabilities"] == nil)
        // Pod-level capabilities do not exist in Kubernetes and are refused.
        parserRefuses(podYAML(spec: "  securityContext: {capabilities: {add: [ALL]}}\n"), "capabilities")
    }

    // MARK: Seccomp, privilege escalation, non-root

    @Test func seccompAtEachLevelAndPrecedence() throws {
        func sc(pod: String? = nil, container: String? = nil) throws -> PodLaunchSpec {
            try spec(podYAML(spec: pod.map { "  securityContext: {runAsNonRoot: true, runAsUser: 1000, seccompProfile: {type: \($0)}}\n" } ?? "  securityContext: {runAsNonRoot: true, runAsUser: 1000}\n",
                             container: container.map { "    securityContext: {seccompProfile: {type: \($0)}}\n" } ?? ""))
        }
        #expect(admitted(try sc(container: "RuntimeDefault")) == PodSecurityLevel.allCases)
        #expect(admitted(try sc(pod: "RuntimeDefault")) == PodSecurityLevel.allCases)
        #expect(admitted(try sc()) == PodSecurityLevel.allCases)   // the container profile's Localhost policy
        #expect(admitted(try sc(container: "Unconfined")) == [.privileged])
        #expect(admitted(try sc(pod: "Unconfined")) == [.privileged])
        // The container's securityContext wins over the pod's, both ways.
        #expect(admitted(try sc(pod: "Unconfined", container: "RuntimeDefault")) == PodSecurityLevel.allCases)
        #expect(admitted(try sc(pod: "RuntimeDefault", container: "Unconfined")) == [.privileged])
        let local = try spec(podYAML(spec: "  securityContext: {runAsNonRoot: true, runAsUser: 1000}\n",
                                     container: "    securityContext: {seccompProfile: {type: Localhost, localhostProfile: seccomp/container.json}}\n"))
        #expect(admitted(local) == PodSecurityLevel.allCases)
        // A profile's inline policy is a node-side policy, as Localhost.
        let inline = try spec(podYAML(spec: "  securityContext: {runAsNonRoot: true, runAsUser: 1000}\n", annotations: "    bulkhead.dev/profile: p\n"),
                              layers: withProfile { $0.seccomp = .inline(text: "defaultAction: SCMP_ACT_ERRNO\n", file: "/p/p.yaml", line: 1) })
        #expect(admitted(inline) == PodSecurityLevel.allCases)
    }

    @Test func allowPrivilegeEscalationAtEachLevel() throws {
        let base = "  securityContext: {runAsNonRoot: true, runAsUser: 1000}\n"
        #expect(admitted(try spec(podYAML(spec: base, container: "    securityContext: {allowPrivilegeEscalation: true}\n"))) == [.privileged, .baseline])
        #expect(admitted(try spec(podYAML(spec: base, container: "    securityContext: {allowPrivilegeEscalation: false}\n"))) == PodSecurityLevel.allCases)
        #expect(admitted(try spec(podYAML(spec: base))) == PodSecurityLevel.allCases)   // the profile's false
        let viaProfile = try spec(podYAML(spec: base, annotations: "    bulkhead.dev/profile: p\n"), layers: withProfile { $0.allowPrivilegeEscalation = true })
        #expect(check(viaProfile, .restricted)["allowPrivilegeEscalation != false"] == ["container \"app\" must set securityContext.allowPrivilegeEscalation=false (set by profile p)"])
        // The pod's false overrides the profile's true.
        let fixed = try spec(podYAML(spec: base, container: "    securityContext: {allowPrivilegeEscalation: false}\n", annotations: "    bulkhead.dev/profile: p\n"),
                             layers: withProfile { $0.allowPrivilegeEscalation = true })
        #expect(admitted(fixed) == PodSecurityLevel.allCases)
        // Pod-level allowPrivilegeEscalation does not exist in Kubernetes.
        parserRefuses(podYAML(spec: "  securityContext: {allowPrivilegeEscalation: false}\n"), "allowPrivilegeEscalation")
    }

    @Test func runAsNonRootAndRunAsUserAtEachLevelAndPrecedence() throws {
        // Pod level sets both; the containers inherit them.
        let pod = try spec(podYAML(spec: "  securityContext: {runAsNonRoot: true, runAsUser: 1000}\n"))
        #expect(admitted(pod) == PodSecurityLevel.allCases)
        // The container's runAsUser: 0 and runAsNonRoot: false win over the pod's.
        let over = try spec(podYAML(spec: "  securityContext: {runAsNonRoot: true, runAsUser: 1000}\n",
                                    container: "    securityContext: {runAsNonRoot: false, runAsUser: 0}\n"))
        #expect(admitted(over) == [.privileged, .baseline])
        #expect(check(over, .restricted)["runAsNonRoot != true"] == ["container \"app\" must not set securityContext.runAsNonRoot=false"])
        #expect(check(over, .restricted)["runAsUser=0"] == ["container \"app\" must not set runAsUser=0"])
        // The container's non-root uid wins over the pod's 0, and the pod's runAsNonRoot holds.
        let under = try spec(podYAML(spec: "  securityContext: {runAsNonRoot: true, runAsUser: 0}\n", container: "    securityContext: {runAsUser: 1000}\n"))
        #expect(admitted(under) == PodSecurityLevel.allCases)
        // Non-root uid without runAsNonRoot: restricted wants both.
        let uidOnly = try spec(podYAML(container: "    securityContext: {runAsUser: 1000}\n"))
        #expect(Set(check(uidOnly, .restricted).keys) == ["runAsNonRoot != true"])
        #expect(check(uidOnly, .restricted)["runAsNonRoot != true"] == ["pod or container \"app\" must set securityContext.runAsNonRoot=true"])
        // The default profile runs as uid 0: baseline, not restricted.
        let root = try spec(podYAML())
        #expect(Set(check(root, .restricted).keys) == ["runAsNonRoot != true", "runAsUser=0"])
        #expect(check(root, .restricted)["runAsUser=0"] == ["container \"app\" must not set runAsUser=0 (set by profile container)"])
        // With a profile that leaves the uid unset, the message says the uid is 0 anyway.
        let unset = try spec(podYAML(annotations: "    bulkhead.dev/profile: p\n")) { (n: String) throws(ConfigError) -> [ProfileLayer] in [ProfileLayer.with { $0.name = n }] }
        #expect(check(unset, .restricted)["runAsUser=0"] == ["container \"app\" must set securityContext.runAsUser to a non-zero uid (unset, it runs as uid 0)"])
        // Every container is listed, not just the first.
        let two = try spec(podYAML(container: "  - name: side\n    image: busybox\n    command: [sh]\n"))
        #expect(check(two, .restricted)["runAsUser=0"]?.count == 2)
    }

    // MARK: Host namespaces, host paths, /proc, AppArmor, fields bulkhead refuses

    @Test func hostNamespacesAtEachLevel() throws {
        for f in ["hostNetwork", "hostPID", "hostIPC", "hostUsers"] {
            parserRefuses(podYAML(spec: "  \(f): true\n"), "\(f): true is not supported")
            let s = try spec(podYAML(spec: "  \(f): false\n  securityContext: {runAsNonRoot: true, runAsUser: 1000}\n"))
            #expect(admitted(s) == PodSecurityLevel.allCases, "\(f)")
        }
        // A profile that turns a namespace off never reaches admission (the mapping refuses it)...
        for ns in [Namespace.network, .pid, .ipc, .user, .uts] {
            #expect(throws: ConfigError.self) {
                try spec(podYAML(annotations: "    bulkhead.dev/profile: p\n"), layers: withProfile { $0.namespaces[ns] = false })
            }
        }
        // ...and admission checks the effective namespaces again.
        var s = try spec(podYAML())
        s.containers[0].effective.namespaces.subtract([.network, .pid, .ipc, .user, .cgroup])
        #expect(check(s, .baseline)["host namespaces"] == ["container \"app\" shares hostNetwork=true, hostPID=true, hostIPC=true, hostUsers=true, the host's cgroup namespace (profile container)"])
        #expect(admitted(s) == [.privileged])
        var h = try spec(podYAML())
        h.containers[0].effective.network = .host
        #expect(check(h, .baseline)["host namespaces"] != nil)
        // A profile that turns the cgroup namespace off reaches admission: refused at baseline.
        let cg = try spec(podYAML(annotations: "    bulkhead.dev/profile: p\n"), layers: withProfile { $0.namespaces[.cgroup] = false })
        #expect(check(cg, .baseline)["host namespaces"] == ["container \"app\" shares the host's cgroup namespace (profile p)"])
    }

    @Test func hostPortsAreRefusedAtEveryLevel() throws {
        parserRefuses(podYAML(container: "    ports: [{containerPort: 80, hostPort: 80}]\n"), "hostPort is not supported")
        parserRefuses(podYAML(container: "    ports: [{containerPort: 80, hostIP: 0.0.0.0}]\n"), "hostIP is not supported")
        let s = try spec(podYAML(spec: "  securityContext: {runAsNonRoot: true, runAsUser: 1000}\n", container: "    ports: [{containerPort: 80, hostPort: 0}]\n"))
        #expect(admitted(s) == PodSecurityLevel.allCases)
    }

    @Test func hostPathVolumesAndVolumeTypes() throws {
        parserRefuses(podYAML(spec: "  volumes: [{name: h, hostPath: {path: /}}]\n"), "hostPath volumes are not supported")
        // emptyDir and secret, the pod's own volumes, are restricted's volume types.
        let own = try spec(podYAML(spec: "  securityContext: {runAsNonRoot: true, runAsUser: 1000}\n  volumes: [{name: d, emptyDir: {}}, {name: s, secret: {secretName: tok}}]\n",
                                   container: "    volumeMounts: [{name: d, mountPath: /d}, {name: s, mountPath: /s}]\n"))
        #expect(admitted(own) == PodSecurityLevel.allCases)
        // A profile that binds a host path is a hostPath volume, even when the pod adds its own.
        let bound = try spec(podYAML(spec: "  volumes: [{name: d, emptyDir: {}}]\n", container: "    volumeMounts: [{name: d, mountPath: /d}]\n",
                                     annotations: "    bulkhead.dev/profile: p\n"),
                             layers: withProfile { $0.binds = [BindMount(source: "/etc", destination: "/host-etc", readOnly: true)] })
        #expect(check(bound, .baseline)["hostPath volumes"] == ["container \"app\" binds host path /etc at /host-etc (read-only) (profile p)"])
        #expect(admitted(bound) == [.privileged])
    }

    @Test func procMountAtEachLevel() throws {
        parserRefuses(podYAML(container: "    securityContext: {procMount: Unmasked}\n"), "procMount")
        #expect(admitted(try spec(podYAML(container: "    securityContext: {procMount: Default}\n"))) == [.privileged, .baseline])
        let unmasked = try spec(podYAML(annotations: "    bulkhead.dev/profile: p\n"), layers: withProfile { $0.maskedPaths = EffectiveProfile.defaultMaskedPaths.filter { $0 != "/proc/kcore" } })
        #expect(check(unmasked, .baseline)["procMount"] == ["container \"app\" must not set securityContext.procMount to \"Unmasked\" (profile p unmasks /proc/kcore)"])
        let writable = try spec(podYAML(annotations: "    bulkhead.dev/profile: p\n"), layers: withProfile { $0.readonlyPaths = ["/proc/bus"] })
        #expect(check(writable, .baseline)["procMount"]?.first?.hasSuffix("leaves /proc/fs, /proc/irq, /proc/sys, /proc/sysrq-trigger writable)") == true)
        // Masking more than the default is fine; a masked path needs no read-only entry.
        let more = try spec(podYAML(annotations: "    bulkhead.dev/profile: p\n"), layers: withProfile {
            $0.maskedPaths = EffectiveProfile.defaultMaskedPaths + ["/proc/sys", "/proc/self/mem"]; $0.readonlyPaths = ["/proc/bus", "/proc/fs", "/proc/irq", "/proc/sysrq-trigger"]
        })
        #expect(admitted(more) == [.privileged, .baseline])
    }

    @Test func appArmorAtEachLevel() throws {
        parserRefuses(podYAML(spec: "  securityContext: {appArmorProfile: {type: Unconfined}}\n"), "AppArmor")
        parserRefuses(podYAML(container: "    securityContext: {appArmorProfile: {type: Unconfined}}\n"), "AppArmor")
        // The annotation is not acted on (bulkhead has no AppArmor) but is checked as PSA does.
        let key = "container.apparmor.security.beta.kubernetes.io/app"
        for (value, ok) in [("unconfined", false), ("runtime/default", true), ("localhost/my-profile", true), ("", true)] {
            let s = try spec(podYAML(annotations: "    \(key): \"\(value)\"\n"))
            #expect(admitted(s) == (ok ? [.privileged, .baseline] : [.privileged]), "\(value)")
            if !ok { #expect(check(s, .baseline)["forbidden AppArmor profile"] == ["annotation \(key)=\"unconfined\" must not set AppArmor profile type to \"unconfined\""]) }
        }
    }

    /// Every other field the standards name is refused by the parser at every level: bulkhead
    /// cannot honour it, so no level may let it through.
    @Test func fieldsBulkheadRefusesAtEveryLevel() throws {
        for (y, text) in [
            (podYAML(container: "    securityContext: {privileged: true}\n"), "privileged containers are not supported"),
            (podYAML(spec: "  securityContext: {seLinuxOptions: {type: spc_t}}\n"), "SELinux"),
            (podYAML(container: "    securityContext: {seLinuxOptions: {type: spc_t}}\n"), "SELinux"),
            (podYAML(spec: "  securityContext: {sysctls: [{name: kernel.shm_rmid_forced, value: \"1\"}]}\n"), "sysctls"),
            (podYAML(spec: "  securityContext: {windowsOptions: {hostProcess: true}}\n"), "windowsOptions"),
            (podYAML(container: "    securityContext: {windowsOptions: {hostProcess: true}}\n"), "windowsOptions"),
            (podYAML(spec: "  os: {name: windows}\n"), "only linux"),
        ] {
            parserRefuses(y, text)
        }
        // Their harmless values are accepted and admitted at restricted.
        let s = try spec(podYAML(spec: "  os: {name: linux}\n  securityContext: {runAsNonRoot: true, runAsUser: 1000}\n",
                                 container: "    securityContext: {privileged: false, seLinuxOptions: {}, appArmorProfile: {}}\n"))
        #expect(admitted(s) == PodSecurityLevel.allCases)
    }

    // MARK: The tenant's level

    @Test func tenantNamesItsLevel() throws {
        func tenant(_ extraSpec: String, labels: String = "") throws(ConfigError) -> Tenant {
            try TenantParser.parse("""
                apiVersion: bulkhead.dev/v1alpha1
                kind: Tenant
                metadata:
                  name: team-a
                \(labels.isEmpty ? "" : "  labels:\n" + labels)
                spec:
                  hostIDRange: "3000000000:100000"
                  secretsDirectory: /s/team-a
                \(extraSpec)
                """, file: "t.yaml")
        }
        #expect(try tenant("").podSecurity == PodSecurityPolicy(enforce: .baseline))
        #expect(try tenant("").allowedProfiles == nil)
        #expect(try tenant("  podSecurity: {enforce: restricted, enforce-version: latest, warn: restricted}").podSecurity == PodSecurityPolicy(enforce: .restricted, warn: .restricted))
        let labelled = try tenant("", labels: "    pod-security.kubernetes.io/enforce: privileged\n    pod-security.kubernetes.io/audit: restricted\n")
        #expect(labelled.podSecurity == PodSecurityPolicy(enforce: .privileged, audit: .restricted))
        #expect(labelled.labels["pod-security.kubernetes.io/enforce"] == "privileged")
        #expect(try tenant("  podSecurity: {enforce: restricted}", labels: "    pod-security.kubernetes.io/enforce: restricted\n").podSecurity.enforce == .restricted)
        for (spec, labels, field, text) in [
            ("  podSecurity: {enforce: strict}", "", "spec.podSecurity.enforce", "unknown Pod Security Standards level \"strict\""),
            ("  podSecurity: {enforce: baseline, enforce-version: v1.29}", "", "spec.podSecurity.enforce-version", "only (latest)"),
            ("  podSecurity: {enforce: restricted}", "    pod-security.kubernetes.io/enforce: privileged\n", "spec.podSecurity.enforce", "label pod-security.kubernetes.io/enforce is privileged"),
            ("", "    pod-security.kubernetes.io/enforcement: restricted\n", "metadata.labels.pod-security.kubernetes.io/enforcement", "unknown Pod Security Admission label"),
            ("  podSecurity: {level: restricted}", "", "spec.podSecurity.level", "unknown field"),
            ("  allowedProfiles: []", "", "spec.allowedProfiles", "at least one profile"),
        ] {
            expectConfigError(field: field, contains: text, file: "t.yaml") { () throws(ConfigError) in try tenant(spec, labels: labels) }
        }
    }

    /// A Tenant named default sets the default namespace's level (what `pod run` looks up).
    @Test func defaultTenantSetsTheDefaultNamespacesLevel() throws {
        let text = "apiVersion: bulkhead.dev/v1alpha1\nkind: Tenant\nmetadata: {name: default}\nspec:\n  hostIDRange: \"3000000000:100000\"\n  podSecurity: {enforce: restricted}\n  secretsDirectory: /s/default\n---\n" + podYAML()
        let set = try ManifestSet.parse(text, file: "all.yaml")
        try set.validate()
        let t = try #require(set.tenant("default"))
        let s = try set.pods[0].launchSpec(volumeDirectory: "/v", profileLayers: embeddedLayers)
        #expect(TenantAdmission.admitToDefaultNamespace(s) == .allowed)                    // baseline without the Tenant
        #expect(TenantAdmission.admit(s, tenant: t).reasons.first?.contains("violates PodSecurity \"restricted:latest\"") == true)
    }

    /// Both the level and the allowed profiles must pass; warn and audit only report.
    @Test func levelAndAllowedProfilesBothApply() throws {
        var t = Tenant(name: "team-a", hostIDRange: IDRange(hostStart: 3_000_000_000, count: 100_000), allowedProfiles: ["restricted"],
                       podSecurity: PodSecurityPolicy(enforce: .restricted), secretsDirectory: "/s")
        let ok = try spec(podYAML(meta: "  namespace: team-a\n", annotations: "    bulkhead.dev/profile: restricted\n"))
        #expect(TenantAdmission.admit(ok, tenant: t) == .allowed)
        // The container profile passes restricted with the pod's securityContext, but is not allowed.
        let named = try spec(podYAML(meta: "  namespace: team-a\n", spec: "  securityContext: {runAsNonRoot: true, runAsUser: 1000}\n"))
        #expect(TenantAdmission.admit(named, tenant: t).reasons == ["container app: profile container is not allowed in tenant team-a (allowed: restricted)"])
        t.allowedProfiles = nil
        #expect(TenantAdmission.admit(named, tenant: t) == .allowed)
        let root = try spec(podYAML(meta: "  namespace: team-a\n"))
        #expect(TenantAdmission.admit(root, tenant: t).reasons.count == 1)
        t.podSecurity = PodSecurityPolicy(enforce: .baseline, warn: .restricted)
        #expect(TenantAdmission.admit(root, tenant: t) == .allowed)
        let w = TenantAdmission.podSecurityWarnings(root, policy: t.podSecurity)
        #expect(w.count == 1 && w[0].hasPrefix("PodSecurity warn: would violate PodSecurity \"restricted:latest\": runAsNonRoot != true"), "\(w)")
        #expect(TenantAdmission.podSecurityWarnings(ok, policy: t.podSecurity).isEmpty)
    }
    /// pod run adds its own binds to launch: what the launcher compares with what was
    /// admitted catches every control a changed profile could loosen, and ignores exactly the
    /// binds the launcher adds (the pod's token and volumes), not binds near them.
    @Test func controlsSeeEveryLoosening() throws {
        let s = try spec(podYAML(annotations: "    bulkhead.dev/profile: restricted\n"))
        let e = s.containers[0].effective
        let dir = "/run/bulkhead/pods/default_web_1-2"
        let admitted = PodSecurityControls(e)
        var launched = e
        let mine = [BindMount(source: dir + "/token", destination: "/run/secrets/token", readOnly: true), BindMount(source: dir + "/volumes/d", destination: "/d", readOnly: false)]
        launched.binds += mine
        #expect(PodSecurityControls(launched, launcherBinds: mine) == admitted)
        #expect(PodSecurityControls(launched) != admitted)
        // The launcher fills in sourceIsFile: not a difference.
        launched.binds[0].sourceIsFile = true
        #expect(PodSecurityControls(launched, launcherBinds: mine) == admitted)
        let loosenings: [(String, (inout EffectiveProfile) -> Void)] = [
            ("namespace", { $0.namespaces.remove(.cgroup) }), ("uid", { $0.runAsUser = 0 }), ("nonroot", { $0.runAsNonRoot = false }),
            ("caps", { $0.capabilities = .all }), ("cap spec", { $0.capabilitySpec = CapabilitySpec() }), ("ape", { $0.allowPrivilegeEscalation = true }),
            ("seccomp", { $0.seccomp = .unconfined }), ("masked", { $0.maskedPaths = [] }), ("readonly", { $0.readonlyPaths = [] }),
            ("host bind", { $0.binds.append(BindMount(source: "/", destination: "/host", readOnly: false)) }),
            ("bind beside the pod dir", { $0.binds.append(BindMount(source: dir + "-other/x", destination: "/x", readOnly: false)) }),
            ("bind out of the pod dir", { $0.binds.append(BindMount(source: dir + "/volumes/../../../../etc", destination: "/x", readOnly: false)) }),
            ("bind of the pod dir", { $0.binds.append(BindMount(source: dir + "/volumes/..", destination: "/x", readOnly: false)) }),
            ("bind in the pod dir", { $0.binds.append(BindMount(source: dir + "/holder", destination: "/x", readOnly: false)) }),
            ("range", { $0.hostIDRange = IDRange(hostStart: 1000, count: 10) }), ("root", { $0.root = .directory("/") }),
            ("network", { $0.network = .host }),
        ]
        for (what, f) in loosenings {
            var l = launched; f(&l)
            #expect(PodSecurityControls(l, launcherBinds: mine) != admitted, "\(what)")
        }
    }
}
