import ArgumentParser
import Bulkhead
import BulkheadModel

struct K8sCommand: CommandGroup {
    static let configuration = CommandConfiguration(
        commandName: "k8s",
        abstract: "Translate layer profiles into Kubernetes pod-spec fields.",
        subcommands: [SecurityContext.self]
    )

    struct SecurityContext: ParsableCommand {
        static let configuration = CommandConfiguration(
            commandName: "securitycontext",
            abstract: "Print the container securityContext and resources a layer profile corresponds to (YAML).",
            discussion: """
            Settings without a per-container Kubernetes field (the pids limit, rlimits, namespaces) \
            are printed as comments. A Localhost seccomp policy is referred to as profiles/NAME.json; \
            write that file with `bulkhead seccomp export --profile PROFILE --name NAME`.
            """
        )

        @Option(name: .shortAndLong, help: "Layer profile (name or YAML file).", completion: Completions.profiles)
        var profile: String = "container"

        @Option(name: .customLong("seccomp-name"), help: "NAME in localhostProfile: profiles/NAME.json (default: the profile's name).")
        var seccompName: String?

        func validate() throws {
            if let seccompName, let problem = KubernetesName.problem(seccompName) {
                throw ValidationError("--seccomp-name \"\(seccompName)\" \(problem)")
            }
        }

        func run() throws {
            let effective = try orExit { () throws(ConfigError) in
                try EffectiveProfile.resolve(try ProfileStore.standard().layers(for: profile))
            }
            out(KubernetesContainerSpec(profile: effective, seccompName: seccompName).yaml)
        }
    }
}
