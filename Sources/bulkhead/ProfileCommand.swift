import ArgumentParser
import Bulkhead
import BulkheadConfig
import BulkheadModel

struct ProfileCommand: CommandGroup {
    static let configuration = CommandConfiguration(
        commandName: "profile",
        abstract: "List, show and check layer profiles.",
        subcommands: [List.self, Show.self, Lint.self]
    )

    struct List: ParsableCommand {
        static let configuration = CommandConfiguration(abstract: "List the profiles on the search path and built in.")
        func run() throws {
            let store = ProfileStore.standard()
            var rows = [("NAME", "SOURCE", "DESCRIPTION")]
            for s in store.list() {
                let desc = (try? ProfileParser.parse(s.text, file: s.location))?.description ?? "(does not parse: run `bulkhead profile lint \(s.location)`)"
                rows.append((s.name, s.location, desc))
            }
            let w0 = rows.map(\.0.count).max() ?? 0, w1 = rows.map(\.1.count).max() ?? 0
            for r in rows { out(r.0.padded(w0) + "  " + r.1.padded(w1) + "  " + r.2 + "\n") }
        }
    }

    struct Show: ParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Print a profile: as written, as resolved (--effective), or as the launch plan (--plan).")
        @Argument(help: "Profile name or YAML file.", completion: Completions.profiles) var profile: String
        @Flag(help: "Print the effective profile: defaults, parents, then this profile, merged.") var effective = false
        @Flag(help: "Print the numbered steps the sandbox's child runs between clone3 and execve.") var plan = false

        /// The launch plan as `profile show --plan` and `run --dry-run` print it.
        /// `chain`: the layers to name (`profile show --plan` names the profile's own, without the
        /// empty command-line layer); by default the effective profile's whole chain.
        static func printPlan(_ prepared: PreparedLaunch, chain: String? = nil) {
            let p = prepared.plan
            out("# launch plan for profile \(prepared.profile.name) (\(chain ?? prepared.profile.chain.joined(separator: " > ")))\n")
            out("# namespaces: \(p.namespaces.sorted().map(\.rawValue).joined(separator: ", "))\n")
            if !p.uidMap.isEmpty { out("# uid_map: \(p.uidMap.map { $0.line.dropLast() }.joined(separator: "; "))  gid_map: \(p.gidMap.map { $0.line.dropLast() }.joined(separator: "; "))\(p.denySetgroups ? "  setgroups: deny" : "")\n") }
            if let s = prepared.seccomp { out("# seccomp: \(s.control.source), \(s.control.rules) rules, \(s.control.bpfInstructions) BPF instructions\n") }
            var phase = "init (sandbox PID 1)"
            out("# in the \(phase):\n")
            for (i, step) in p.steps.enumerated() {
                out(String(i).leftPadded(3) + "  " + step.summary + "\n")
                if case .forkWorkload = step { phase = "workload"; out("# in the \(phase):\n") }
            }
        }

        func run() throws {
            let store = ProfileStore.standard()
            do {
                if plan {
                    let layers = try store.layers(for: profile)
                    let prepared = try Sandbox.prepare(RunRequest(layers: layers, command: ["/bin/true"]), store: store)
                    Self.printPlan(prepared, chain: Lint.chain(layers))
                } else if effective {
                    let layers = try store.layers(for: profile)
                    out(try EffectiveProfile.resolve(layers).yaml)
                } else {
                    let src = try store.find(profile)
                    // Root prints no file that not everyone could read (a root-only file named as a profile).
                    guard !src.isPrivate else {
                        throw ConfigError(file: src.location, field: "", message: "the file is not readable by everyone, so `profile show` does not print it; read it yourself, or use --effective")
                    }
                    out(src.text)
                }
            } catch let e as ConfigError {
                warn(e.description)
                throw ExitCode(1)
            } catch let e as LaunchError {
                warn(e.description)
                throw ExitCode(1)
            }
        }
    }

    struct Lint: ParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Check profiles: fields, names, quantities, parents and the seccomp policy.")
        @Argument(help: "Profile files or names.", completion: Completions.profiles) var profiles: [String]

        func run() throws {
            var failed = false
            let store = ProfileStore.standard()
            for p in profiles {
                do {
                    let layers = try store.layers(for: p)
                    _ = try Sandbox.prepare(RunRequest(layers: layers, command: ["/bin/true"]), store: store, seccompCache: nil)
                    out("\(p): ok (\(Self.chain(layers)))\n")
                } catch {
                    // Every error the parser finds in the file itself, by position; else the one error.
                    let all = Self.problems(p, store: store)
                    if all.isEmpty { warn("\(error)") } else { for e in all { warn(e.description) } }
                    failed = true
                }
            }
            if failed { throw ExitCode(1) }
        }

        /// The profile's layers, base first, as lint and `show --plan` print them: no command
        /// line layer, since neither has one.
        static func chain(_ layers: [ProfileLayer]) -> String {
            layers.map { $0.name ?? $0.source }.joined(separator: " > ")
        }

        /// The parse errors of `profile`'s own file (not its parents'), all of them; empty when
        /// it parses, or when root read it and not everyone may (its errors would show its text).
        static func problems(_ profile: String, store: ProfileStore) -> [ConfigError] {
            guard let src = try? store.find(profile), !src.isPrivate else { return [] }
            return ProfileParser.problems(src.text, file: src.location)
        }
    }
}

extension String {
    func padded(_ n: Int) -> String { count >= n ? self : self + String(repeating: " ", count: n - count) }
    func leftPadded(_ n: Int) -> String { count >= n ? self : String(repeating: " ", count: n - count) + self }
}
