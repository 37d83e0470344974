import Bulkhead
import BulkheadConfig
import BulkheadModel
import BulkheadSystem
import Foundation
import Glibc

/// One workload of an experiment (a victim or an aggressor): a shell script run as a container.
struct BenchWorkload {
    /// Container name (a DNS label); also the pod name's suffix when it gets a pod of its own.
    var name: String
    var script: String
    /// Container `resources.limits` (cpu, memory, ephemeral-storage).
    var limits: [String: String] = [:]
    /// Container `resources.requests` (cpu becomes the cgroup's CPU weight, as in the kubelet).
    var requests: [String: String] = [:]
    /// `bulkhead.dev/pod-limits` of the pod that holds this workload (`cpu=500m,pids=64`).
    var podLimits: String?
}

/// One pod of an experiment: its containers, its tenant (an index: `bench-tN`, with a
/// ResourceQuota when `quota` gives its `spec.hard` as flow YAML), its annotations and labels.
struct BenchPodSpec {
    var group: [BenchWorkload]
    var tenant: Int?
    var quota: String?
    var annotations: [String: String] = [:]
    var labels: [String: String] = [:]
    /// The pod name's suffix; the containers' names by default.
    var name: String?
}

/// Where the layer's boundary runs between the workloads of an experiment.
enum BenchPlacement {
    /// All workloads are containers of one pod.
    case samePod
    /// Each workload is a pod of its own, in one tenant.
    case ownPods
    /// Each workload is a pod of its own, each in its own tenant.
    case ownTenants

    init(_ layer: BenchLayer) {
        switch layer {
        case .container: self = .samePod
        case .pod: self = .ownPods
        case .namespace, .node, .cluster: self = .ownTenants
        }
    }
}

/// The finished pods of one phase: their workloads' `BH` values and their reports.
struct BenchPods {
    var runs: [BenchContext.Finished]
    var reports: [[String: Any]]

    var values: [String: String] {
        runs.reduce(into: [:]) { acc, r in acc.merge(r.values) { a, _ in a } }
    }

    func double(_ key: String) -> Double? { values[key].flatMap(Double.init) }

    /// The cgroup statistics of container `name`, from whichever pod report holds it.
    func containerStats(_ name: String) -> [String: Any] {
        for r in reports {
            for c in r["containers"] as? [[String: Any]] ?? [] where c["name"] as? String == name {
                return ((c["report"] as? [String: Any])?["cgroup"] as? [String: Any])?["stats"] as? [String: Any] ?? [:]
            }
        }
        return [:]
    }

    /// CPU share of the named containers together: their usage over the longest run of
    /// enforcement periods (100 ms each), from each container's own cgroup.
    func cpuShare(ofContainers names: [String]) -> (share: Double, throttled: Double) {
        let stats = names.map(containerStats)
        let usage = stats.compactMap { number($0, "cpuUsageMicros") }.reduce(0, +)
        let periods = stats.compactMap { number($0, "cpuPeriods") }.max() ?? 0
        let throttled = stats.compactMap { number($0, "cpuThrottledPeriods") }.reduce(0, +)
        return (usage / max(1, periods * 100_000), throttled)
    }

    /// The exit code of container `name`.
    func exitCode(_ name: String) -> Int? {
        for r in reports {
            for c in r["containers"] as? [[String: Any]] ?? [] where c["name"] as? String == name {
                return (c["report"] as? [String: Any])?["exitCode"] as? Int
            }
        }
        return nil
    }

    /// The pod cgroup's statistics of the pod holding container `name`.
    func podStats(holding name: String) -> [String: Any] {
        for r in reports where (r["containers"] as? [[String: Any]] ?? []).contains(where: { $0["name"] as? String == name }) {
            return ((r["podCgroup"] as? [String: Any])?["stats"] as? [String: Any]) ?? [:]
        }
        return [:]
    }

    /// Launch errors and stderr, for an experiment's evidence when a pod failed to start.
    var problems: String {
        runs.map { $0.stderr.split(separator: "\n").filter { !$0.hasPrefix("BH ") && !$0.contains(": note: ") }.prefix(3).joined(separator: " ") }
            .filter { !$0.isEmpty }.joined(separator: " | ")
    }
}

extension BenchContext {
    /// Tenants used by `ownTenants` placement: ids far from the default tenants' and the examples',
    /// one 65536-aligned block each (an owner of its own, `IDRange.ownerHostID`); they end below
    /// the owner band (`IDRange.ownerBandStart`, 4.2e9) for i < 4577.
    static func tenantRange(_ i: Int) -> String { "\(3_900_000_000 + i * 65536):65536" }

    /// Runs the workloads at once, placed across `placement`'s boundary, each pod bounded
    /// by a deadline; returns when all pods have ended. With `schedule`, its start gate opens
    /// once the programs of these pods and of `beside` are ready (`openStart`).
    func runPods(_ placement: BenchPlacement, _ workloads: [BenchWorkload], emptyDir: String = "16Mi",
                 seconds: Double? = nil, schedule: BenchSchedule? = nil, beside: [Launched] = []) throws -> BenchPods {
        switch placement {
        case .samePod: try runPodGroups([workloads], emptyDir: emptyDir, seconds: seconds, schedule: schedule, beside: beside)
        case .ownPods: try runPodGroups(workloads.map { [$0] }, emptyDir: emptyDir, seconds: seconds, schedule: schedule, beside: beside)
        case .ownTenants: try runPodGroups(workloads.map { [$0] }, tenants: true, emptyDir: emptyDir, seconds: seconds, schedule: schedule, beside: beside)
        }
    }

    /// Runs one pod per group at once (each group's workloads are its containers); with
    /// `tenants`, each pod in a tenant of its own.
    func runPodGroups(_ groups: [[BenchWorkload]], tenants: Bool = false, emptyDir: String = "16Mi",
                      seconds: Double? = nil, schedule: BenchSchedule? = nil, beside: [Launched] = []) throws -> BenchPods {
        let specs = groups.enumerated().map { i, g in BenchPodSpec(group: g, tenant: tenants ? i : nil) }
        return try runPodSpecs(specs, emptyDir: emptyDir, seconds: seconds, schedule: schedule, beside: beside)
    }

    /// Runs the pods at once and waits for all of them (with `schedule`: as `runPods`).
    func runPodSpecs(_ specs: [BenchPodSpec], emptyDir: String = "16Mi", seconds: Double? = nil,
                     schedule: BenchSchedule? = nil, beside: [Launched] = []) throws -> BenchPods {
        let started = try startPods(specs, emptyDir: emptyDir, seconds: seconds)
        defer { if let g = schedule?.startGate { unlink(g.path) } }
        if let schedule { openStart(schedule, for: started.launched + beside) }
        return finishPods(started)
    }

    /// Pods launched and not yet waited for.
    struct StartedPods {
        var launched: [Launched]
        var reportPaths: [String]
        var names: [String]
    }

    /// Launches one pod per spec (with its tenant and quota manifests), each bounded by a
    /// deadline; `finishPods` waits for them.
    func startPods(_ specs: [BenchPodSpec], emptyDir: String = "16Mi", seconds: Double? = nil) throws -> StartedPods {
        let deadline = Int((seconds ?? phaseSeconds * 3 + 6).rounded(.up))
        var started = StartedPods(launched: [], reportPaths: [], names: [])
        for (i, spec) in specs.enumerated() {
            let tenant = spec.tenant.map { "bench-t\($0)" } ?? "default"
            let podName = String("bench-\(getpid())-\(spec.name ?? spec.group.map(\.name).joined(separator: "-"))".prefix(63))
            // The namespace's manifests in a file of their own: a Pod's file may not define the
            // Tenant or quota it is admitted by (PodLoader).
            var yaml = ""
            var namespaceYAML = ""
            if let t = spec.tenant {
                namespaceYAML += """
                    apiVersion: bulkhead.dev/v1alpha1
                    kind: Tenant
                    metadata: {name: \(tenant)}
                    spec:
                      hostIDRange: "\(Self.tenantRange(t))"
                      allowedProfiles: [container]
                      secretsDirectory: \(scratch)/secrets-\(t)
                    ---

                    """
                if let hard = spec.quota {
                    namespaceYAML += "apiVersion: v1\nkind: ResourceQuota\nmetadata: {name: q, namespace: \(tenant)}\nspec: {hard: \(hard)}\n---\n"
                }
            }
            yaml += Self.podYAML(name: podName, namespace: tenant, group: spec.group, emptyDir: emptyDir,
                                 deadline: deadline, annotations: spec.annotations, labels: spec.labels)
            let file = scratch + "/pod-\(i)-\(UUID().uuidString.prefix(6)).yaml"
            try yaml.write(toFile: file, atomically: true, encoding: .utf8)
            var files = [file]
            if namespaceYAML.hasSuffix("---\n") { namespaceYAML.removeLast(4) }
            if !namespaceYAML.isEmpty {
                try namespaceYAML.write(toFile: file + ".namespace.yaml", atomically: true, encoding: .utf8)
                files.append(file + ".namespace.yaml")
            }
            let report = file + ".report.json"
            started.reportPaths.append(report)
            started.names.append(podName)
            started.launched.append(try launch(["pod", "run"] + files + ["--report", report], timeout: Double(deadline) + 10))
        }
        return started
    }

    /// Waits for started pods; their workloads' values and reports.
    func finishPods(_ started: StartedPods) -> BenchPods {
        let runs = started.launched.map { finish($0) }
        let reports = started.reportPaths.map { p -> [String: Any] in
            defer {
                let manifest = String(p.dropLast(".report.json".count))
                unlink(p); unlink(manifest); unlink(manifest + ".namespace.yaml")
            }
            guard let d = FileManager.default.contents(atPath: p) else { return [:] }
            return (try? JSONSerialization.jsonObject(with: d) as? [String: Any]) ?? [:]
        }
        return BenchPods(runs: runs, reports: reports)
    }

    /// Ends started pods early: SIGTERM to their launchers (which forward it and clean up),
    /// then waits for them.
    @discardableResult
    func stopPods(_ started: StartedPods) -> BenchPods {
        for l in started.launched where l.child.isRunning { l.child.signal(SIGTERM) }
        let out = finishPods(started)
        // A stopped pod is not a failure of the experiment.
        failures.removeAll { $0.contains("exited 143") }
        return out
    }

    /// The node-bridge address of a started pod, once it has one (nil after `timeout` s).
    func address(ofPod name: String, timeout: Double = 10) -> String? {
        let end = Monotonic.now() + timeout
        while Monotonic.now() < end {
            if let ip = PodRunner.list().first(where: { $0.pod == name })?.ip { return ip }
            usleep(20_000)
        }
        return nil
    }

    static func podYAML(name: String, namespace: String, group: [BenchWorkload], emptyDir: String, deadline: Int,
                        annotations: [String: String] = [:], labels: [String: String] = [:]) -> String {
        var y = "apiVersion: v1\nkind: Pod\nmetadata:\n  name: \(name)\n  namespace: \(namespace)\n"
        if !labels.isEmpty {
            y += "  labels:\n" + labels.sorted { $0.key < $1.key }.map { "    \($0.key): \(jsonString($0.value))\n" }.joined()
        }
        var notes = annotations
        if let limits = group.compactMap(\.podLimits).first { notes["bulkhead.dev/pod-limits"] = limits }
        if !notes.isEmpty {
            y += "  annotations:\n" + notes.sorted { $0.key < $1.key }.map { "    \($0.key): \(jsonString($0.value))\n" }.joined()
        }
        // The bench's own deadline (SIGTERM, then SIGKILL, then the outer cgroup's kill)
        // bounds every pod, and activeDeadlineSeconds too.
        y += "spec:\n  restartPolicy: Never\n  activeDeadlineSeconds: \(deadline)\n"
        y += "  volumes:\n    - name: shared\n      emptyDir: {sizeLimit: \(emptyDir)}\n  containers:\n"
        for w in group {
            y += "    - name: \(w.name)\n      image: busybox\n      command: [\"/bin/sh\", \"-c\", \(jsonString(w.script))]\n"
            y += "      volumeMounts:\n        - {name: shared, mountPath: /mnt}\n"
            if !w.limits.isEmpty || !w.requests.isEmpty { y += "      resources:\n" }
            for (section, values) in [("limits", w.limits), ("requests", w.requests)] where !values.isEmpty {
                y += "        \(section):\n"
                for (k, v) in values.sorted(by: { $0.key < $1.key }) { y += "          \(k): \(v)\n" }
            }
        }
        return y
    }

    /// A JSON string literal (valid YAML) for a script.
    static func jsonString(_ s: String) -> String {
        let data = (try? JSONSerialization.data(withJSONObject: [s])) ?? Data("[\"\"]".utf8)
        return String(String(decoding: data, as: UTF8.self).dropFirst().dropLast())
    }

    /// `bulkhead run ARGS` side by side (plain sandboxes, e.g. with a host directory bound in);
    /// with `schedule`, its start gate opens once their programs are ready (`openStart`).
    func runSandboxes(_ argLists: [[String]], seconds: Double? = nil, schedule: BenchSchedule? = nil) throws -> [Finished] {
        let launched = try argLists.map { try launch(["run"] + $0, timeout: seconds ?? phaseSeconds * 3 + 10) }
        defer { if let g = schedule?.startGate { unlink(g.path) } }
        if let schedule { openStart(schedule, for: launched) }
        return launched.map { finish($0) }
    }
}

/// Reads a number out of a loosely typed report dictionary.
func number(_ d: [String: Any], _ key: String) -> Double? {
    if let i = d[key] as? Int { return Double(i) }
    if let x = d[key] as? Double { return x }
    return nil
}
