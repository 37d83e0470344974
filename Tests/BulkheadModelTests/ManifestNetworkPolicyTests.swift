import Testing
@testable import BulkheadConfig
@testable import BulkheadModel

@Suite struct ManifestNetworkPolicyTests {
    func policy(_ spec: String, name: String = "p", namespace: String = "a") throws(ConfigError) -> NetworkPolicyManifest {
        try NetworkPolicyParser.parse(
            "apiVersion: networking.k8s.io/v1\nkind: NetworkPolicy\nmetadata: {name: \(name), namespace: \(namespace)}\nspec:\n" + spec,
            file: "np.yaml")
    }

    // Pods: a/web (app=web), a/db (app=db), a/job (app=job, role=batch), b/web (app=web), b/cli (app=cli).
    static let pods = [
        RunningPod(name: "web", namespace: "a", labels: ["app": "web"], ip: "10.0.0.1"),
        RunningPod(name: "db", namespace: "a", labels: ["app": "db"], ip: "10.0.0.2"),
        RunningPod(name: "job", namespace: "a", labels: ["app": "job", "role": "batch"], ip: "10.0.0.3"),
        RunningPod(name: "web", namespace: "b", labels: ["app": "web"], ip: "10.0.1.1"),
        RunningPod(name: "cli", namespace: "b", labels: ["app": "cli"], ip: "10.0.1.2"),
    ]
    static let namespaces = [NamespaceLabels(name: "a", labels: ["team": "red"]), NamespaceLabels(name: "b", labels: ["team": "blue"])]
    static let web = "10.0.0.1", db = "10.0.0.2", job = "10.0.0.3", bweb = "10.0.1.1", bcli = "10.0.1.2"

    func resolve(_ specs: [String]) throws -> NetworkPolicyResolution {
        let ps = try specs.enumerated().map { try policy($0.element, name: "p\($0.offset)") }
        return NetworkPolicyResolver.resolve(pods: Self.pods, namespaces: Self.namespaces, policies: ps)
    }

    @Test func parsesTheSupportedSubset() throws {
        let p = try policy("""
          podSelector:
            matchLabels: {app: db}
            matchExpressions:
            - {key: tier, operator: In, values: [a, b]}
            - {key: legacy, operator: DoesNotExist}
          ingress:
          - from:
            - podSelector: {matchLabels: {app: web}}
            - namespaceSelector: {matchLabels: {team: blue}}
              podSelector: {}
            ports:
            - {protocol: TCP, port: 5432}
            - {protocol: UDP, port: 5000, endPort: 5010}
            - {port: 80}
          egress:
          - {}
        """)
        #expect(p.podSelector.matchLabels == ["app": "db"])
        #expect(p.podSelector.matchExpressions == [.init(key: "tier", operator: .in, values: ["a", "b"]), .init(key: "legacy", operator: .doesNotExist)])
        #expect(p.policyTypes == [.ingress, .egress], "Egress is implied by egress rules")
        #expect(p.ingress[0].peers == [
            NetworkPolicyPeer(podSelector: LabelSelector(matchLabels: ["app": "web"])),
            NetworkPolicyPeer(podSelector: .everything, namespaceSelector: LabelSelector(matchLabels: ["team": "blue"])),
        ])
        #expect(p.ingress[0].ports == [NetworkPolicyPort(protocol: .tcp, port: 5432), NetworkPolicyPort(protocol: .udp, port: 5000, endPort: 5010), NetworkPolicyPort(port: 80)])
        #expect(p.egress == [NetworkPolicyRule()])
        #expect(try policy("  podSelector: {}\n").policyTypes == [.ingress], "no rules: Ingress only")
        #expect(try policy("  podSelector: {}\n  policyTypes: [Egress]\n").policyTypes == [.egress])
    }

    @Test func errorsNameTheField() {
        expectConfigError(field: "spec.ingress[0].from[0].ipBlock", contains: "ipBlock is not supported", file: "np.yaml") { () throws(ConfigError) in
            try policy("  podSelector: {}\n  ingress:\n  - from:\n    - ipBlock: {cidr: 10.0.0.0/8}\n")
        }
        expectConfigError(field: "spec.ingress[0].ports[0].port", contains: "named ports", file: "np.yaml") { () throws(ConfigError) in
            try policy("  podSelector: {}\n  ingress:\n  - ports:\n    - port: http\n")
        }
        expectConfigError(field: "spec.ingress[0].ports[0].protocol", contains: "SCTP is not supported", file: "np.yaml") { () throws(ConfigError) in
            try policy("  podSelector: {}\n  ingress:\n  - ports:\n    - {protocol: SCTP, port: 1}\n")
        }
        expectConfigError(field: "spec.ingress[0].ports[0].endPort", contains: "below port", file: "np.yaml") { () throws(ConfigError) in
            try policy("  podSelector: {}\n  ingress:\n  - ports:\n    - {port: 100, endPort: 99}\n")
        }
        expectConfigError(field: "spec.ingress[0].ports[0].endPort", contains: "needs port", file: "np.yaml") { () throws(ConfigError) in
            try policy("  podSelector: {}\n  ingress:\n  - ports:\n    - {endPort: 99}\n")
        }
        expectConfigError(field: "spec.ingress[0].ports[0].port", contains: "out of range", file: "np.yaml") { () throws(ConfigError) in
            try policy("  podSelector: {}\n  ingress:\n  - ports:\n    - {port: 70000}\n")
        }
        expectConfigError(field: "spec.ingress[0].from[0]", contains: "a peer needs", file: "np.yaml") { () throws(ConfigError) in
            try policy("  podSelector: {}\n  ingress:\n  - from:\n    - {}\n")
        }
        expectConfigError(field: "spec.policyTypes[0]", contains: "unknown policy type", file: "np.yaml") { () throws(ConfigError) in
            try policy("  podSelector: {}\n  policyTypes: [Inbound]\n")
        }
        expectConfigError(field: "spec.ingress", contains: "does not list Ingress", file: "np.yaml") { () throws(ConfigError) in
            try policy("  podSelector: {}\n  policyTypes: [Egress]\n  ingress:\n  - {}\n")
        }
        expectConfigError(field: "spec.podSelector.matchExpressions[0].operator", contains: "did you mean \"NotIn\"", file: "np.yaml") { () throws(ConfigError) in
            try policy("  podSelector:\n    matchExpressions:\n    - {key: a, operator: Notin, values: [x]}\n")
        }
        expectConfigError(field: "spec.podSelector.matchExpressions[0]", contains: "non-empty values", file: "np.yaml") { () throws(ConfigError) in
            try policy("  podSelector:\n    matchExpressions:\n    - {key: a, operator: In}\n")
        }
        expectConfigError(field: "spec.podSelector.matchExpressions[0].values", contains: "takes no values", file: "np.yaml") { () throws(ConfigError) in
            try policy("  podSelector:\n    matchExpressions:\n    - {key: a, operator: Exists, values: [x]}\n")
        }
        expectConfigError(field: "spec.podSelector.matchLabels.app", contains: "label value", file: "np.yaml") { () throws(ConfigError) in
            try policy("  podSelector:\n    matchLabels: {app: \"-bad\"}\n")
        }
        expectConfigError(field: "spec.ingres", contains: "did you mean \"ingress\"", file: "np.yaml") { () throws(ConfigError) in
            try policy("  podSelector: {}\n  ingres: []\n")
        }
        expectConfigError(field: "kind", contains: "expected kind NetworkPolicy", file: "np.yaml") { () throws(ConfigError) in
            try NetworkPolicyParser.parse("apiVersion: networking.k8s.io/v1\nkind: Pod\nmetadata: {name: x}\nspec: {}\n", file: "np.yaml")
        }
    }

    // MARK: Semantics table

    @Test func noPolicyAllowsEverything() throws {
        let r = try resolve([])
        #expect(r.ingressIsolated.isEmpty && r.egressIsolated.isEmpty && r.flows.isEmpty)
        #expect(r.allows(source: Self.bweb, destination: Self.db, protocol: .tcp, port: 5432))
    }

    @Test func policySelectingNoPodHasNoEffect() throws {
        let r = try resolve(["  podSelector: {matchLabels: {app: nothing}}\n"])
        #expect(r.ingressIsolated.isEmpty && r.flows.isEmpty)
        #expect(r.allows(source: Self.web, destination: Self.db, protocol: .tcp, port: 1))
    }

    @Test func emptyPodSelectorDeniesAllIngressInItsNamespaceOnly() throws {
        let r = try resolve(["  podSelector: {}\n"])
        #expect(Set(r.ingressIsolated.map(\.ip)) == [Self.web, Self.db, Self.job])
        #expect(r.flows.isEmpty)
        #expect(!r.allows(source: Self.web, destination: Self.db, protocol: .tcp, port: 5432), "same namespace denied too")
        #expect(!r.allows(source: nil, destination: Self.web, protocol: .tcp, port: 80), "the host is denied")
        #expect(r.allows(source: Self.web, destination: Self.bweb, protocol: .tcp, port: 80), "namespace b is not selected")
        #expect(r.allows(source: Self.db, destination: nil, protocol: .udp, port: 53), "egress is not isolated")
    }

    @Test func emptyFromAllowsEveryone() throws {
        let r = try resolve(["  podSelector: {matchLabels: {app: web}}\n  ingress:\n  - {}\n"])
        #expect(r.ingressIsolated.map(\.ip) == [Self.web])
        #expect(r.flows == [AllowedFlow(direction: .ingress, source: nil, destination: Self.web)])
        #expect(r.allows(source: Self.bcli, destination: Self.web, protocol: .udp, port: 9))
        #expect(r.allows(source: nil, destination: Self.web, protocol: .tcp, port: 80))
    }

    @Test func podSelectorPeerIsTheSameNamespaceOnly() throws {
        let r = try resolve(["  podSelector: {matchLabels: {app: db}}\n  ingress:\n  - from:\n    - podSelector: {matchLabels: {app: web}}\n"])
        #expect(r.flows == [AllowedFlow(direction: .ingress, source: Self.web, destination: Self.db)])
        #expect(r.allows(source: Self.web, destination: Self.db, protocol: .tcp, port: 5432))
        #expect(!r.allows(source: Self.bweb, destination: Self.db, protocol: .tcp, port: 5432), "app=web in namespace b does not match")
        #expect(!r.allows(source: Self.job, destination: Self.db, protocol: .tcp, port: 5432))
    }

    @Test func namespaceSelectorAloneSelectsEveryPodThere() throws {
        let r = try resolve(["  podSelector: {matchLabels: {app: db}}\n  ingress:\n  - from:\n    - namespaceSelector: {matchLabels: {team: blue}}\n"])
        #expect(Set(r.flows.compactMap(\.source)) == [Self.bweb, Self.bcli])
        #expect(!r.allows(source: Self.web, destination: Self.db, protocol: .tcp, port: 1), "own namespace is not team=blue")
    }

    @Test func namespaceAndPodSelectorInOnePeerIsAnd() throws {
        let r = try resolve(["""
          podSelector: {matchLabels: {app: db}}
          ingress:
          - from:
            - namespaceSelector: {matchLabels: {team: blue}}
              podSelector: {matchLabels: {app: web}}

        """])
        #expect(r.flows.compactMap(\.source) == [Self.bweb])
        #expect(r.allows(source: Self.bweb, destination: Self.db, protocol: .tcp, port: 1))
        #expect(!r.allows(source: Self.bcli, destination: Self.db, protocol: .tcp, port: 1), "blue but not web")
        #expect(!r.allows(source: Self.web, destination: Self.db, protocol: .tcp, port: 1), "web but not blue")
    }

    @Test func twoPeersAreOr() throws {
        let r = try resolve(["""
          podSelector: {matchLabels: {app: db}}
          ingress:
          - from:
            - namespaceSelector: {matchLabels: {team: blue}}
            - podSelector: {matchLabels: {app: web}}

        """])
        #expect(Set(r.flows.compactMap(\.source)) == [Self.bweb, Self.bcli, Self.web])
        #expect(!r.allows(source: Self.job, destination: Self.db, protocol: .tcp, port: 1))
    }

    @Test func portsRestrict() throws {
        let r = try resolve(["""
          podSelector: {matchLabels: {app: db}}
          ingress:
          - from: [{podSelector: {matchLabels: {app: web}}}]
            ports: [{port: 5432}, {protocol: UDP, port: 6000, endPort: 6010}]

        """])
        #expect(r.flows == [
            AllowedFlow(direction: .ingress, source: Self.web, destination: Self.db, protocol: .tcp, port: 5432),
            AllowedFlow(direction: .ingress, source: Self.web, destination: Self.db, protocol: .udp, port: 6000, endPort: 6010),
        ])
        #expect(r.allows(source: Self.web, destination: Self.db, protocol: .tcp, port: 5432))
        #expect(!r.allows(source: Self.web, destination: Self.db, protocol: .tcp, port: 5433))
        #expect(!r.allows(source: Self.web, destination: Self.db, protocol: .udp, port: 5432), "the protocol defaults to TCP")
        #expect(r.allows(source: Self.web, destination: Self.db, protocol: .udp, port: 6010))
        #expect(!r.allows(source: Self.web, destination: Self.db, protocol: .udp, port: 6011))
    }

    @Test func policiesAddUp() throws {
        // Deny all in a, then allow web -> db:5432: the second only adds.
        let r = try resolve([
            "  podSelector: {}\n",
            "  podSelector: {matchLabels: {app: db}}\n  ingress:\n  - from: [{podSelector: {matchLabels: {app: web}}}]\n    ports: [{port: 5432}]\n",
        ])
        #expect(Set(r.ingressIsolated.map(\.ip)) == [Self.web, Self.db, Self.job])
        #expect(r.allows(source: Self.web, destination: Self.db, protocol: .tcp, port: 5432))
        #expect(!r.allows(source: Self.db, destination: Self.web, protocol: .tcp, port: 80))
        #expect(!r.allows(source: Self.job, destination: Self.db, protocol: .tcp, port: 5432))
    }

    @Test func matchExpressions() throws {
        let r = try resolve(["""
          podSelector:
            matchExpressions: [{key: app, operator: NotIn, values: [web]}]
          ingress:
          - from:
            - podSelector:
                matchExpressions: [{key: role, operator: Exists}]

        """])
        #expect(Set(r.ingressIsolated.map(\.ip)) == [Self.db, Self.job])
        #expect(r.allows(source: Self.job, destination: Self.db, protocol: .tcp, port: 1))
        #expect(!r.allows(source: Self.web, destination: Self.db, protocol: .tcp, port: 1))
        #expect(r.allows(source: Self.db, destination: Self.web, protocol: .tcp, port: 1), "web is not selected")
        // NotIn and DoesNotExist match a pod without the key.
        #expect(LabelSelector(matchExpressions: [.init(key: "x", operator: .notIn, values: ["1"])]).matches([:]))
        #expect(LabelSelector(matchExpressions: [.init(key: "x", operator: .doesNotExist)]).matches(["y": "1"]))
        #expect(!LabelSelector(matchExpressions: [.init(key: "x", operator: .in, values: ["1"])]).matches([:]))
    }

    @Test func namespaceNameLabelIsImplicit() throws {
        let r = try resolve(["""
          podSelector: {matchLabels: {app: db}}
          ingress:
          - from: [{namespaceSelector: {matchLabels: {kubernetes.io/metadata.name: b}}}]

        """])
        #expect(Set(r.flows.compactMap(\.source)) == [Self.bweb, Self.bcli])
        // A namespace missing from the list still has its name label.
        let pods = Self.pods + [RunningPod(name: "x", namespace: "c", ip: "10.0.2.1")]
        let p = try policy("  podSelector: {}\n  ingress:\n  - from: [{namespaceSelector: {matchLabels: {kubernetes.io/metadata.name: c}}}]\n")
        let r2 = NetworkPolicyResolver.resolve(pods: pods, namespaces: Self.namespaces, policies: [p])
        #expect(r2.allows(source: "10.0.2.1", destination: Self.web, protocol: .tcp, port: 1))
    }

    @Test func egressIsolationAndBothSides() throws {
        let r = try resolve([
            // web may only talk to db on 5432.
            "  podSelector: {matchLabels: {app: web}}\n  policyTypes: [Egress]\n  egress:\n  - to: [{podSelector: {matchLabels: {app: db}}}]\n    ports: [{port: 5432}]\n",
            // db accepts only from job.
            "  podSelector: {matchLabels: {app: db}}\n  ingress:\n  - from: [{podSelector: {matchLabels: {app: job}}}]\n",
        ])
        #expect(r.egressIsolated.map(\.ip) == [Self.web])
        #expect(r.ingressIsolated.map(\.ip) == [Self.db])
        #expect(!r.allows(source: Self.web, destination: Self.db, protocol: .tcp, port: 5432), "egress allows, ingress denies")
        #expect(!r.allows(source: Self.web, destination: Self.bweb, protocol: .tcp, port: 80), "egress denies")
        #expect(!r.allows(source: Self.web, destination: nil, protocol: .udp, port: 53), "egress denies the outside")
        #expect(r.allows(source: Self.job, destination: Self.db, protocol: .tcp, port: 5432))
        #expect(r.allows(source: Self.bcli, destination: Self.web, protocol: .tcp, port: 80), "web's ingress is not isolated")
    }

    @Test func flowsAreSortedAndUnique() throws {
        let r = try resolve([
            "  podSelector: {matchLabels: {app: db}}\n  ingress:\n  - from: [{podSelector: {matchLabels: {app: web}}}]\n",
            "  podSelector: {matchLabels: {app: db}}\n  ingress:\n  - from: [{podSelector: {matchLabels: {app: web}}}, {podSelector: {}}]\n",
        ])
        #expect(r.flows == r.flows.sorted())
        #expect(Set(r.flows).count == r.flows.count)
        #expect(r.flows.count == 3, "web, db and job in a, once each: \(r.flows)")
    }
}
