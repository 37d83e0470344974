import Testing
@testable import BulkheadConfig
@testable import BulkheadModel

/// `profile show --effective` prints every field the model has: two profiles that together set
/// every field of `EffectiveProfile` to something other than the built-in default are printed,
/// parsed back and compared field by field. A field added to `EffectiveProfile` later fails
/// `fixturesSetEveryField` until a fixture sets it, and then `printsEveryField` until
/// `EffectiveProfile.yaml` prints it (issue 15: landlock, io and enforcement were dropped).
struct EffectiveProfileYAMLTests {
    static let file = "/profiles/full.yaml"

    static let landlockAndLimits = """
    apiVersion: bulkhead.dev/v1alpha1
    kind: LayerProfile
    metadata:
      name: full-a
      description: "every field, \\"quoted\\"\\nand a second line"
    namespaces:
      time: true
      ipc: false
    userNamespace:
      hostIDRange: "3000000000:70000"
    securityContext:
      runAsUser: 1000
      runAsGroup: 1001
      runAsNonRoot: true
      supplementalGroups: [10, 20]
      capabilities: {drop: [ALL], add: [NET_BIND_SERVICE, CHOWN]}
      readOnlyRootFilesystem: false
      allowPrivilegeEscalation: false
      seccompProfile: {type: Localhost, localhostProfile: /etc/bulkhead/seccomp/x.json}
    resources:
      limits: {cpu: 1500m, memory: 256Mi, pids: 64, ephemeral-storage: 32Mi}
      requests: {cpu: 250m, memory: 64Mi}
      memorySwap: 512Mi
      cpusetCpus: "0"
      io:
        weight: 200
        max: ["8:0 rbps=1048576 wiops=100", "259:0 wbps=2097152"]
      enforcement: best-effort
    filesystem:
      root: /srv/rootfs
      tmpfs: [{path: /tmp, sizeLimit: 16Mi}, {path: /run, optional: true}]
      shmSize: 8Mi
      devices: [/dev/null]
      maskedPaths: [/proc/kcore]
      readonlyPaths: [/proc/sys]
      binds: [{source: /srv/data, destination: /data, readOnly: false}]
      landlock: {readOnly: [/usr, /etc], readWrite: [/tmp], bindTCP: [8080], connectTCP: []}
    network: {mode: none}
    hostname: box
    workingDir: /data
    env: [{name: GREETING, value: "hi \\"there\\""}]
    rlimits: {nofile: {soft: 1024, hard: 4096}, core: 0}

    """

    /// What the first cannot hold with Landlock: privilege escalation, the host's network, an
    /// inline seccomp policy.
    static let hostNetworkAndInline = """
    apiVersion: bulkhead.dev/v1alpha1
    kind: LayerProfile
    metadata: {name: full-b}
    namespaces: {network: false}
    securityContext: {allowPrivilegeEscalation: true}
    network: {mode: host}
    seccomp:
      defaultAction: SCMP_ACT_ERRNO
      syscalls:
        - names: [read, write, exit_group]
          action: SCMP_ACT_ALLOW

    """

    static func fixtures() throws -> [EffectiveProfile] {
        try [landlockAndLimits, hostNetworkAndInline].map { (t) throws in
            try EffectiveProfile.resolve([try ProfileParser.parse(t, file: file)])
        }
    }

    /// Each stored field and its value as text (sets and dictionaries sorted: their order is
    /// not theirs).
    static func fields(_ p: EffectiveProfile) -> [(String, String)] {
        Mirror(reflecting: p).children.map { child in
            let m = Mirror(reflecting: child.value)
            let text = m.displayStyle == .set || m.displayStyle == .dictionary
                ? m.children.map { String(describing: $0.value) }.sorted().joined(separator: ", ")
                : String(describing: child.value)
            return (child.label ?? "?", text)
        }
    }

    @Test func fixturesSetEveryField() throws {
        let defaults = Self.fields(.defaults)
        let set = try Self.fixtures().map(Self.fields)
        #expect(defaults.count > 20, "Mirror sees the stored fields: \(defaults.map(\.0))")
        // `--user NAME[:GROUP]`: a flag's names, looked up in the sandbox's root and replaced by
        // ids when the launch is prepared; no profile field holds them, so nothing prints them.
        let onlyFromFlags: Set<String> = ["runAsUserName", "runAsGroupName"]
        for (i, (label, value)) in defaults.enumerated() where !onlyFromFlags.contains(label) {
            #expect(set.contains { $0[i].1 != value }, "no fixture sets \(label) to anything but its default: add it to a fixture here")
        }
    }

    @Test func printsEveryField() throws {
        for e in try Self.fixtures() {
            let text = e.yaml
            var again = try EffectiveProfile.resolve([try ProfileParser.parse(text, file: Self.file)])
            // Not the profile's own: the chain names the layers, the capability spec is printed
            // resolved (drop ALL, add what is kept), tmpfs sizes are spelled out, and an inline
            // policy is re-read at its new line.
            #expect(again.capabilities == e.capabilities)
            again.chain = e.chain
            again.capabilitySpec = e.capabilitySpec
            #expect(again.tmpfs.map(again.tmpfsSize) == e.tmpfs.map(e.tmpfsSize))
            again.tmpfs = e.tmpfs
            if case .inline(let t1, _, _) = again.seccomp, case .inline(let t0, _, _) = e.seccomp {
                #expect(t1 == t0, "the inline policy changed:\n\(t0)\n---\n\(t1)")
                again.seccomp = e.seccomp
            }
            for ((label, want), (_, got)) in zip(Self.fields(e), Self.fields(again)) where want != got {
                Issue.record("\(e.name): \(label) is not printed as it is: \(want) → \(got)\n\(text)")
            }
            #expect(again == e)
        }
    }
}
