import ArgumentParser
import Bulkhead
import BulkheadConfig
import BulkheadModel
import Foundation

struct PodCommand: CommandGroup {
    static let configuration = CommandConfiguration(
        commandName: "pod",
        abstract: "Run a Kubernetes Pod manifest on this machine: containers sharing a network and IPC namespace.",
        subcommands: [Run.self, List.self, Stop.self]
    )

    struct Run: ParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Run a pod to completion and report on each container.",
            discussion: """
            The files hold a Pod (apiVersion v1) and optionally its Tenant (bulkhead.dev/v1alpha1) and \
            ResourceQuotas. Exit status: 0 when every container exited 0, else the first failing \
            container's status; 125 when the pod could not be started.
            """
        )
        @Argument(help: "Manifest files.") var files: [String]
        @Option(help: ArgumentHelp("Write the JSON pod report to FILE, or to standard output with '-'.", valueName: "FILE|-"))
        var report: String?

        func run() throws {
            let loaded: PodLoader.Loaded
            do { loaded = try PodLoader.load(files: files) } catch {
                // Every error of the manifests, one a line, and the same list in the report.
                warn("cannot start the pod: \(error)")
                try write(PodReport.failedBeforeLaunch(error))
                throw ExitCode(ExitStatus.launchFailed)
            }
            for note in loaded.notes { warn("note: \(note)") }
            let result = PodRunner.run(loaded)
            if let error = result.error { warn("pod \(result.pod): \(error.message)") }
            for c in result.containers where c.report.exitCode != 0 {
                warn("container \(c.name): exit \(c.report.exitCode) (\(c.report.reason.rawValue))\(c.report.error.map { ": \($0.message)" } ?? "")")
            }
            try write(result)
            throw ExitCode(result.exitCode)
        }

        /// `--report`: the pod report to the file (through `OutputFile`) or to standard output.
        func write(_ result: PodReport) throws {
            guard let report else { return }
            let json = ReportJSON.encode(result) + "\n"
            if report == "-" { out(json) } else {
                guard OutputFile.write(json, to: report) else {
                    warn("cannot write the report to \(report)")
                    throw ExitCode(ExitStatus.launchFailed)
                }
            }
        }
    }

    struct List: ParsableCommand {
        static let configuration = CommandConfiguration(
            commandName: "ls", abstract: "List the running pods: namespace, name, address on the node bridge, containers.")
        @Flag(help: "Print JSON.") var json = false

        func run() throws {
            let pods = PodRunner.list()
            if json {
                out(ReportJSON.encode(pods) + "\n")
                return
            }
            var rows = [["NAMESPACE", "NAME", "IP", "LAUNCHER", "CONTAINERS"]]
            for p in pods { rows.append([p.namespace, p.pod, p.ip ?? "-", String(p.launcherPID), p.containers.joined(separator: ",")]) }
            out(Table.render(rows))
        }
    }

    struct Stop: ParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Stop a running pod: SIGTERM to its containers, SIGKILL after the grace period; everything it made is removed.")
        @Argument(help: "The pod's name.") var name: String
        @Option(name: [.short, .customLong("namespace")], help: "The pod's namespace (tenant).") var namespace = "default"
        @Option(help: ArgumentHelp("Seconds to wait before SIGKILL.", valueName: "S")) var grace: Double = 10

        func validate() throws {
            // A Double option takes nan and inf: the wait must be a real duration.
            guard grace.isFinite, grace >= 0, grace <= DurationField.range.upperBound else {
                throw ValidationError("--grace: expected seconds from 0 to 4294967295, got \(grace)")
            }
        }

        func run() throws {
            do {
                for p in try PodRunner.stop(pod: name, namespace: namespace, grace: grace) {
                    out("stopped \(p.namespace)/\(p.pod) (launcher \(p.launcherPID))\n")
                }
            } catch {
                warn("\(error)")
                throw ExitCode(1)
            }
        }
    }
}

struct PolicyCommand: CommandGroup {
    static let configuration = CommandConfiguration(
        commandName: "policy",
        abstract: "NetworkPolicies on bulkhead's node bridge: apply, list, delete, and show the rules in force.",
        subcommands: [Apply.self, List.self, Delete.self, Show.self]
    )

    struct Apply: ParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Store NetworkPolicies (replacing those of the same namespace and name) and enforce them on the node bridge.",
            discussion: "Policies apply to the pods running now and to every pod started later, until deleted.")
        @Argument(help: "Files holding NetworkPolicy documents (networking.k8s.io/v1).") var files: [String]

        func run() throws {
            var policies: [NetworkPolicyManifest] = []
            do {
                for f in files {
                    let c = try ProfileStore.readChecked(f, what: "manifest")
                    let set = try ProfileStore.parsing(private: c.isPrivate) { () throws(ConfigError) in try ManifestSet.parse(c.text, file: f) }
                    guard set.pods.isEmpty, set.tenants.isEmpty, set.resourceQuotas.isEmpty else {
                        throw ConfigError(file: f, field: "kind", message: "policy apply takes NetworkPolicy documents only")
                    }
                    policies += set.networkPolicies
                }
                try NodeNetwork.apply(policies: policies)
            } catch {
                warn("\(error)")
                throw ExitCode(1)
            }
            for p in policies { out("networkpolicy \(p.namespace)/\(p.name) applied\n") }
        }
    }

    struct List: ParsableCommand {
        static let configuration = CommandConfiguration(commandName: "ls", abstract: "List the stored policies.")
        func run() throws {
            do {
                var rows = [["NAMESPACE", "NAME", "POD-SELECTOR", "TYPES"]]
                for p in try NodeNetwork.storedPolicies() {
                    let sel = p.podSelector.isEmpty ? "(all)" : p.podSelector.matchLabels.sorted { $0.key < $1.key }.map { "\($0.key)=\($0.value)" }.joined(separator: ",")
                    rows.append([p.namespace, p.name, sel, p.policyTypes.sorted().map(\.rawValue).joined(separator: ",")])
                }
                out(Table.render(rows))
            } catch {
                warn("\(error)")
                throw ExitCode(1)
            }
        }
    }

    struct Delete: ParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Delete stored policies and lift their rules.")
        @Argument(help: "Policy names.") var names: [String]
        @Option(name: [.short, .customLong("namespace")], help: "The policies' namespace.") var namespace = "default"
        func run() throws {
            do {
                let deleted = try NodeNetwork.delete(policies: names.map { (namespace, $0) })
                for d in deleted { out("networkpolicy \(d) deleted\n") }
                if deleted.count < names.count {
                    warn("not found: \(names.filter { n in !deleted.contains("\(namespace)/\(n)") }.joined(separator: ", "))")
                    throw ExitCode(1)
                }
            } catch let e as ExitCode { throw e } catch {
                warn("\(error)")
                throw ExitCode(1)
            }
        }
    }

    struct Show: ParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Show the policies resolved against the running pods: isolated pods, allowed flows, and the nftables ruleset in force.")
        func run() throws {
            do {
                let r = try NodeNetwork.resolution()
                out("ingress-isolated: \(r.ingressIsolated.map { "\($0.namespace)/\($0.name) \($0.ip)" }.joined(separator: ", "))\n")
                out("egress-isolated: \(r.egressIsolated.map { "\($0.namespace)/\($0.name) \($0.ip)" }.joined(separator: ", "))\n")
                out("allowed flows:\n")
                for f in r.flows { out("  \(f)\n") }
                out("ruleset:\n" + ((try NodeNetwork.ruleset()) ?? "  (no node network: no pod is running)\n"))
            } catch {
                warn("\(error)")
                throw ExitCode(1)
            }
        }
    }
}
