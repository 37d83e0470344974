import BulkheadModel
import BulkheadSystem

/// A seccomp filter ready for the child: the classic BPF program and what the report says of it.
public struct CompiledSeccomp: Sendable {
    public var program: [UInt8]
    public var control: SeccompControl
    /// The program came from the content-addressed cache (no parse, no compile).
    public var cached: Bool
    /// What was changed to load the policy as runc does (unknown names skipped, conflicting
    /// rules resolved), one line each, for standard error. Empty with `strict`.
    public var notes: [String] = []
}

package enum SeccompSetup {
    /// The built-in allow-list behind `seccompProfile.type: RuntimeDefault`.
    package static let runtimeDefaultPath = "seccomp/container.json"

    /// The policy's text, where it came from, and the context its Docker conditions resolve in.
    package struct Source {
        package var text: String
        package var file: String
        package var label: String
        package var context: SeccompContext
        /// Read from a file not everyone can read: a parse error shows none of its text.
        package var isPrivate = false
        /// One of bulkhead's own policies (`isBulkheadPolicy`): compiled for the native
        /// architecture only, every other refused first (`SeccompCompiler.compile(nativeOnly:)`).
        /// Any other policy (a user's, an OCI config's) keeps runc's reading of its `architectures`.
        package var nativeOnly = false
        /// Which of bulkhead's policies `text` is, byte for byte, with its digest computed at build
        /// time (scripts/embed-profiles.sh): the cache key names it instead of hashing 18 KB.
        package var embedded: EmbeddedProfiles.Match? = nil

        package init(text: String, file: String, label: String, context: SeccompContext, isPrivate: Bool = false, nativeOnly: Bool = false,
                     embedded: EmbeddedProfiles.Match? = nil) {
            self.text = text; self.file = file; self.label = label; self.context = context
            self.isPrivate = isPrivate; self.nativeOnly = nativeOnly; self.embedded = embedded
        }
    }

    /// `strict` refuses what runc would change silently (unknown names, contradicting rules);
    /// without it the policy is read as runc reads it (`SeccompRuntimeLoading`), with notes.
    /// - Parameter origin: the layer that chose the policy (`SeccompSetup.origin(of:)`): a
    ///   `localhostProfile` that cannot be read is reported against that profile file and field
    ///   (or the `--seccomp` flag), with the policy file's own error after it.
    package static func source(_ p: EffectiveProfile, store: ProfileStore, origin: ProfileLayer? = nil,
                       strict: Bool = true) throws(ConfigError) -> Source? {
        let text: String, file: String, label: String
        var isPrivate = false
        var nativeOnly = false
        switch p.seccomp {
        case .unconfined:
            return nil
        case .runtimeDefault:
            let r = try store.readReferenced(runtimeDefaultPath, relativeTo: "<embedded>")
            (file, text, isPrivate) = (r.location, r.text, r.isPrivate)
            label = "RuntimeDefault"
        case let .localhost(path, dir):
            let r: ProfileStore.Referenced
            do { r = try store.readReferenced(path, relativeTo: dir) } catch {
                guard let origin else { throw error }
                let (file, field) = origin.source == FieldRules.commandLine
                    ? (FieldRules.commandLine, "--seccomp") : (origin.source, "securityContext.seccompProfile.localhostProfile")
                throw ConfigError(file: file, field: field, errno: error.errno, message: "cannot use the seccomp policy \(path): \(error.message)")
            }
            (file, text, isPrivate) = (r.location, r.text, r.isPrivate)
            label = "Localhost:\(file)"
        case let .inline(t, f, line):
            (file, text) = ("\(f) (inline seccomp policy at line \(line))", t)
            label = "inline:\(f)"
        }
        // Docker's conditional rules (includes/excludes on capabilities) are resolved against the
        // capabilities this sandbox keeps, on the machine's own architecture.
        let context = SeccompContext(capabilities: Set(p.capabilities.members.map(\.name)),
                                     architecture: SeccompCompiler.nativeArchitecture ?? .x86_64,
                                     kernelVersion: KernelVersion.running.map { ($0.major, $0.minor) },
                                     conflictingRules: strict ? .refuse : .firstRuleWins, unknownNames: strict ? .refuse : .skip)
        let embedded = bulkheadPolicy(text)
        nativeOnly = embedded != nil
        return Source(text: text, file: file, label: label, context: context, isPrivate: isPrivate, nativeOnly: nativeOnly,
                      embedded: embedded)
    }

    /// Reads, parses and validates the profile's seccomp policy; nil for Unconfined.
    package static func policy(_ p: EffectiveProfile, store: ProfileStore, origin: ProfileLayer? = nil,
                       strict: Bool = true) throws(ConfigError) -> (policy: SeccompPolicy, source: String, notes: [SeccompLoadNote])? {
        guard let src = try source(p, store: store, origin: origin, strict: strict) else { return nil }
        let load = try src.load(store.readers)
        return (load.policy, src.label, load.notes)
    }

    /// The policy compiled to classic BPF by libseccomp (binary-tree optimisation on), or the
    /// same program from the content-addressed cache. A strict run neither reads nor writes the
    /// cache: it refuses what a cached program may have been read with, and its reading has no
    /// notes where the default one has some (a rule that gives the default action), so its entry
    /// would silence every later run's warnings. A policy the loader changed to
    /// read it as runc does (podman's default profile: a contradicting pair) is cached with its
    /// warnings, which every run that loads it prints again, naming the file it read now.
    package static func compile(_ p: EffectiveProfile, store: ProfileStore, origin: ProfileLayer? = nil, strict: Bool = false,
                        cache: SeccompCache? = SeccompCache.standard()) throws(ConfigError) -> CompiledSeccomp? {
        guard let src = try source(p, store: store, origin: origin, strict: strict) else { return nil }
        let key = cacheKey(src)
        if !strict, let hit = cache?.load(key: key) {
            var control = SeccompControl(source: src.label, defaultAction: hit.defaultAction, rules: hit.rules,
                                         bpfInstructions: hit.program.count / 8, cached: true)
            let notes = hit.notes.map { Self.notePlacing(src.file, in: $0) }
            if !notes.isEmpty { control.changes = notes }
            return CompiledSeccomp(program: hit.program, control: control, cached: true, notes: notes)
        }
        let load = try src.load(store.readers)
        let policy = load.policy
        let program: [UInt8]
        do {
            program = try SeccompCompiler.compile(policy, nativeOnly: src.nativeOnly)
        } catch {
            throw ConfigError(file: src.file, field: "syscalls", message: "libseccomp cannot compile the policy: \(error)")
        }
        // The warnings are kept with the file's place left open (a container's policy is read
        // from its own state directory, another path for each container). Not from a strict
        // reading (above).
        if !strict {
            let kept = SeccompLoad.warnings(load.notes.map { var n = $0; n.file = Self.noteFileMark; return n })
            cache?.store(key: key, .init(program: program, defaultAction: policy.defaultAction.rawValue, rules: policy.rules.count, notes: kept))
        }
        var control = SeccompControl(source: src.label, defaultAction: policy.defaultAction.rawValue,
                                     rules: policy.rules.count, bpfInstructions: program.count / 8)
        control.cacheUnavailable = cache?.unavailable
        let notes = SeccompLoad.warnings(load.notes)
        if !notes.isEmpty { control.changes = notes }
        return CompiledSeccomp(program: program, control: control, cached: false, notes: notes)
    }

    /// Stands for the policy file's path in a cached warning (a control character: no path,
    /// name or message of a note contains one).
    package static let noteFileMark = "\u{1}file\u{1}"

    /// A cached warning naming `file`.
    package static func notePlacing(_ file: String, in note: String) -> String {
        note.replacing(noteFileMark, with: file)
    }

    /// Bulkhead's own seccomp policies (Profiles/seccomp, compiled in), recognised by their text
    /// wherever the copy was read from (compiled in, the install's share/bulkhead/profiles,
    /// ./Profiles, a `--seccomp` of the file): an OCI config's policy, re-serialised from its
    /// config.json, or any edited copy is not one.
    package static func isBulkheadPolicy(_ text: String) -> Bool { bulkheadPolicy(text) != nil }

    /// Which of bulkhead's own policies `text` is, byte for byte (the compiled-in text, or the
    /// file as shipped with its final newline), or nil.
    package static func bulkheadPolicy(_ text: String) -> EmbeddedProfiles.Match? {
        EmbeddedProfiles.match(text, under: "seccomp/")
    }

    /// The cache key of a source's program: its text, the capabilities and architecture its
    /// conditions resolved with, the kernel, the reading, and whether it is compiled for the
    /// native architecture only. One of bulkhead's own policies is named by its file and the
    /// digest computed at build time, not hashed again (`SeccompCache.key`'s `embedded`).
    package static func cacheKey(_ src: Source) -> String {
        let kernel = src.context.kernelVersion.map { "\($0.0).\($0.1)" } ?? "unknown"
        return SeccompCache.key(policyText: src.text, embedded: src.embedded, capabilities: Array(src.context.capabilities),
                                architecture: src.context.architecture.rawValue + (src.nativeOnly ? " native-only" : "")
                                    + " kernel " + kernel + " " + Self.readingVersion + (src.isPrivate ? " private" : ""))
    }

    /// Part of the cache key: how a policy's text becomes rules (SeccompRuntimeLoading). Change
    /// it when that reading changes, so no program compiled under another reading is loaded.
    package static let readingVersion = "reading runc-1.1/libseccomp-2.5 v1"

    /// The layer whose `seccompProfile` (or `--seccomp`) is in force: the last that sets one.
    package static func origin(of layers: [ProfileLayer]) -> ProfileLayer? {
        layers.last { $0.seccomp != nil }
    }
}

extension SeccompSetup.Source {
    /// Parses the text in `context` with `readers` (the full command line's JSON reader); for a
    /// private file neither an error nor a note shows its text.
    package func load(_ readers: ConfigReaders) throws(ConfigError) -> SeccompLoad {
        var load = try ProfileStore.parsing(private: isPrivate) { () throws(ConfigError) in
            try readers.seccompPolicy(text, file, context)
        }
        if isPrivate { load.notes = load.notes.map { $0.withoutContent() } }
        return load
    }
}
