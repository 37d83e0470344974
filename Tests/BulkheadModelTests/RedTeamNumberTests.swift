import Glibc
import Testing
@testable import BulkheadConfig
@testable import BulkheadModel

/// Issue 12, attacked again after the fix: sizes a manifest's author controls in the root
/// launcher. Each test is an attack that went through on 2ecd866.
@Suite struct RedTeamNumberTests {
    /// A pod whose container has `env` (YAML lines under `env:`) and `command`.
    static func pod(env: String, command: String = "[\"true\"]") -> String {
        """
        apiVersion: v1
        kind: Pod
        metadata: {name: lol}
        spec:
          restartPolicy: Never
          containers:
          - name: c
            image: x
            command: \(command)
            env:
        \(env)
        """
    }

    /// `A0` is 1000 bytes; each next variable is 32 references to the one before.
    static func doubling(levels: Int) -> String {
        var env = "    - {name: A0, value: '" + String(repeating: "x", count: 1000) + "'}\n"
        for i in 1...levels {
            env += "    - {name: A\(i), value: '" + String(repeating: "$(A\(i - 1))", count: 32) + "'}\n"
        }
        return env
    }

    func expectRefused(_ yaml: String, sourceLocation: SourceLocation = #_sourceLocation) {
        do {
            let p = try PodManifestParser.parse(yaml, file: "pod.yaml")
            let sizes = p.containers.flatMap { $0.env.map(\.value.utf8.count) + $0.argv.map(\.utf8.count) }
            Issue.record("accepted: the largest value is \(sizes.max() ?? 0) bytes, \(sizes.reduce(0, +)) in all, from \(yaml.utf8.count) bytes of YAML",
                         sourceLocation: sourceLocation)
        } catch {
            #expect(error.field.hasPrefix("spec.containers[0]"), "\(error)", sourceLocation: sourceLocation)
            #expect(error.message.contains("E2BIG"), "\(error)", sourceLocation: sourceLocation)
        }
    }

    @Test("$(VAR) expansion cannot grow a manifest into a value execve refuses: each line multiplies the size (1.8 KB of YAML held 32 MiB, one more line 1 GiB, in the root launcher before admission)")
    func envExpansionIsBounded() {
        // Two levels: a 1 MiB value from 1.3 KB of YAML (the kernel's MAX_ARG_STRLEN is 128 KiB).
        expectRefused(Self.pod(env: Self.doubling(levels: 2)))
        // Many values each under 128 KiB, together past what any execve takes (6 MiB).
        var env = Self.doubling(levels: 1)
        for i in 0..<70 { env += "    - {name: B\(i), value: '$(A1)$(A1)$(A1)'}\n" }
        expectRefused(Self.pod(env: env))
        // The same through command and args.
        expectRefused(Self.pod(env: Self.doubling(levels: 1), command: "[\"" + String(repeating: "$(A1)", count: 8) + "\"]"))
        // What runs is untouched: a value of 100 KiB, expanded.
        let ok = Self.pod(env: "    - {name: A, value: '" + String(repeating: "y", count: 25_000) + "'}\n    - {name: B, value: '$(A)$(A)$(A)$(A)'}\n",
                          command: "[\"echo\", \"$(B)\"]")
        #expect(throws: Never.self) { _ = try PodManifestParser.parse(ok, file: "pod.yaml") }
    }

    /// CPU seconds this thread spent in `body` (not wall-clock: the machine is shared).
    static func cpuSeconds(_ body: () throws -> Void) rethrows -> Double {
        var a = timespec(), b = timespec()
        clock_gettime(CLOCK_THREAD_CPUTIME_ID, &a)
        try body()
        clock_gettime(CLOCK_THREAD_CPUTIME_ID, &b)
        return Double(b.tv_sec - a.tv_sec) + Double(b.tv_nsec - a.tv_nsec) / 1e9
    }

    @Test("A NetworkPolicy of 30 KB cannot make the node's resolution a product: 600 peers x 600 ports resolve as the 5 pods x 600 ports they allow")
    func policyResolutionIsNotCubic() throws {
        // Every pod's attach and detach resolves the stored policies under the node lock; the
        // resolver visited rules x peers x matching pods x ports, so the same peer written
        // 600 times (or 120 aliased rules of 120 aliased peers and ports: 23 s in 2 KB, before
        // aliases were bounded) held every launcher on the node for seconds of CPU per pod.
        let peers = "      from:\n" + String(repeating: "      - podSelector: {}\n", count: 600)
        let ports = "      ports:\n" + (1...600).map { "      - {protocol: TCP, port: \($0)}\n" }.joined()
        let yaml = "apiVersion: networking.k8s.io/v1\nkind: NetworkPolicy\nmetadata: {name: x, namespace: a}\nspec:\n  podSelector: {}\n  policyTypes: [Ingress]\n  ingress:\n    - ports: []\n"
            .replacingOccurrences(of: "    - ports: []\n", with: "    -\n" + peers + ports)
        let policy = try NetworkPolicyParser.parse(yaml, file: "p.yaml")
        let pods = (0..<5).map { RunningPod(name: "p\($0)", namespace: "a", ip: "10.244.0.\($0 + 2)") }
        var flows = 0
        let cpu = Self.cpuSeconds { flows = NetworkPolicyResolver.resolve(pods: pods, namespaces: [], policies: [policy]).flows.count }
        #expect(flows == 5 * 5 * 600, "every pod may reach every pod on ports 1-600")
        #expect(cpu < 2, "resolving \(yaml.utf8.count) bytes of policy for 5 pods took \(cpu) s of CPU")
    }

    @Test("Anchors and aliases cannot expand a document past twice its size: a 2 KB policy is not stored as a million selector values that every pod's attach parses again")
    func aliasesDoNotAmplify() throws {
        // `policy apply` stores a policy as JSON with its aliases written out, and every pod's
        // attach and detach parses the stored policies again under the node lock. Three levels
        // of 100 aliases: 1.9 KB of YAML, 10^6 values once expanded.
        let values = "[&v x" + String(repeating: ", *v", count: 99) + "]"
        let peers = "[&f {podSelector: {matchExpressions: [{key: k, operator: In, values: \(values)}]}}" + String(repeating: ", *f", count: 99) + "]"
        let yaml = "apiVersion: networking.k8s.io/v1\nkind: NetworkPolicy\nmetadata: {name: x, namespace: a}\nspec:\n  podSelector: {}\n  policyTypes: [Ingress]\n  ingress:\n    - &r {from: \(peers)}\n"
            + String(repeating: "    - *r\n", count: 99)
        do {
            let p = try NetworkPolicyParser.parse(yaml, file: "p.yaml")
            let n = p.ingress.reduce(0) { $0 + $1.peers.reduce(0) { $0 + ($1.podSelector?.matchExpressions.reduce(0) { $0 + $1.values.count } ?? 0) } }
            Issue.record("accepted: \(yaml.utf8.count) bytes of YAML hold \(n) selector values")
        } catch {
            #expect(error.message.contains("aliases"), "\(error)")
        }
        // A document that uses an anchor modestly still parses.
        let modest = "apiVersion: networking.k8s.io/v1\nkind: NetworkPolicy\nmetadata: {name: x, namespace: a}\nspec:\n  podSelector: {}\n  policyTypes: [Ingress]\n  ingress:\n    - from: [&f {podSelector: {matchLabels: {app: web}}}]\n    - from: [*f]\n      ports: [{protocol: TCP, port: 80}]\n"
        #expect(throws: Never.self) { _ = try NetworkPolicyParser.parse(modest, file: "p.yaml") }
    }
}
