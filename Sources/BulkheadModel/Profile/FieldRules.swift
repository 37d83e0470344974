/// Why a value is refused, without where it was given. Each front end adds the place with
/// `Result.at`: a node of a profile or a Pod manifest, or a flag of the command line.
public typealias FieldRefusal = NumberField.Refusal

/// The rule of each kind of field that layer profiles (`ProfileParser`), Pod manifests
/// (`PodManifestParser`) and the command line (`CommandLineLayer`) share, written once: its
/// syntax, its range and its refusal. Each parser takes the text and returns the value or a
/// `FieldRefusal`; the numbers' floors and ceilings are `NumberField`'s (cpu ≥ 10m,
/// memory ≥ 4Mi, pids ≥ 2, ids, sizes), durations `DurationField`'s.
///
/// Rules that differ on purpose live here side by side, each saying why: a Pod's env names
/// and hostname follow Kubernetes, a profile's and a flag's follow the shell and sethostname.
public enum FieldRules {
    /// The `file` of an error in a flag.
    public static let commandLine = "<command line>"

    static func refuse<T>(_ message: String) -> Result<T, FieldRefusal> { .failure(FieldRefusal(message: message)) }

    // MARK: paths

    /// An absolute path, no `..` and no NUL, normalized (`/a//b/./c/` → `/a/b/c`): bind sources
    /// and destinations, tmpfs and volume mount paths, the root directory, landlock paths.
    public static func absolutePath(_ text: String) -> Result<String, FieldRefusal> {
        guard text.hasPrefix("/") else { return refuse("expected an absolute path, got \"\(text)\"") }
        guard !text.split(separator: "/").contains("..") else { return refuse("a path may not contain \"..\": \"\(text)\"") }
        guard !text.utf8.contains(0) else { return refuse("a path may not contain NUL") }
        // What the kernel can name (NAME_MAX, PATH_MAX): refused here, not after a launch has
        // made the first components of a mount point on disk.
        guard !text.split(separator: "/").contains(where: { $0.utf8.count > 255 }) else {
            return refuse("a path component may have at most 255 bytes: \"\(text.prefix(80))…\"")
        }
        let path = normalize(text)
        guard path.utf8.count < 3900 else { return refuse("a path may have at most 3899 bytes, got \(path.utf8.count)") }
        return .success(path)
    }

    /// `/a//b/./c/` → `/a/b/c`.
    public static func normalize(_ path: String) -> String {
        let parts = path.split(separator: "/").filter { $0 != "." }
        return "/" + parts.joined(separator: "/")
    }

    /// The root filesystem: `host`, or a directory as an absolute path (`/`, however spelled, is
    /// the host's root): a profile's `filesystem.root`, `--rootfs`.
    public static func rootFilesystem(_ text: String) -> Result<RootFilesystem, FieldRefusal> {
        if text == "host" { return .success(.host) }
        return absolutePath(text).map(RootFilesystem.init(path:))
    }

    /// `SRC[:DST][:ro|rw]` (`--bind`): absolute paths, read-write unless `:ro`, DST defaults to
    /// SRC. (A profile's `binds` entry is a mapping of the same paths; it defaults to read-only.)
    public static func bindSpec(_ text: String) -> Result<BindMount, FieldRefusal> {
        var parts = text.split(separator: ":", omittingEmptySubsequences: false).map(String.init)
        var readOnly = false
        if parts.count == 3 {
            guard parts[2] == "ro" || parts[2] == "rw" else { return refuse("the third field is ro or rw, got \"\(parts[2])\"") }
            readOnly = parts[2] == "ro"
            parts.removeLast()
        }
        let syntax = "expected SRC:DST[:ro|rw] with absolute paths, got \"\(text)\""
        guard (1...2).contains(parts.count) else { return refuse(syntax) }
        var paths: [String] = []
        for p in parts {
            switch absolutePath(p) {
            case .success(let v): paths.append(v)
            case .failure(let r): return refuse(syntax + ": " + r.message)
            }
        }
        return .success(BindMount(source: paths[0], destination: paths[paths.count - 1], readOnly: readOnly))
    }

    /// `PATH[:SIZE]` (`--tmpfs`): an absolute path and a storage size (`NumberField.storage`);
    /// without SIZE the profile's default applies. (A profile's `tmpfs` entry is a mapping of
    /// the same two fields.)
    public static func tmpfsSpec(_ text: String) -> Result<TmpfsMount, FieldRefusal> {
        let parts = text.split(separator: ":", maxSplits: 1, omittingEmptySubsequences: false).map(String.init)
        let path: String
        switch absolutePath(parts[0]) {
        case .success(let p): path = p
        case .failure(let r): return refuse("expected PATH[:SIZE] with an absolute path, got \"\(text)\": \(r.message)")
        }
        guard parts.count == 2 else { return .success(TmpfsMount(path: path)) }
        return NumberField.storage.parse(parts[1]).map { TmpfsMount(path: path, sizeBytes: $0) }
    }

    // MARK: rlimits

    /// One rlimit value: a number, or `unlimited` / `infinity` (RLIM_INFINITY).
    public static func rlimitValue(_ text: String) -> Result<UInt64, FieldRefusal> {
        if text == "unlimited" || text == "infinity" { return .success(Rlimit.unlimited) }
        guard let v = UInt64(text) else {
            return refuse("expected a number or \"unlimited\"; accepted: 0 to 18446744073709551615 or unlimited, got \"\(text)\"")
        }
        return .success(v)
    }

    /// A soft and a hard limit: the soft one at most the hard one (setrlimit(2)).
    public static func rlimit(soft: UInt64, hard: UInt64) -> Result<Rlimit, FieldRefusal> {
        guard soft <= hard else { return refuse("soft limit \(soft) exceeds hard limit \(hard)") }
        return .success(Rlimit(soft: soft, hard: hard))
    }

    /// `SOFT[:HARD]`, HARD defaulting to SOFT.
    public static func rlimitPair(_ text: String) -> Result<Rlimit, FieldRefusal> {
        let v = text.split(separator: ":").map(String.init)
        guard (1...2).contains(v.count) else {
            return refuse("expected SOFT[:HARD] numbers or unlimited with soft <= hard; accepted: 0 to 18446744073709551615 or unlimited, got \"\(text)\"")
        }
        return rlimitValue(v[0]).flatMap { soft in
            rlimitValue(v[v.count - 1]).flatMap { hard in rlimit(soft: soft, hard: hard) }
        }
    }

    /// `NAME=SOFT[:HARD]` (`--rlimit`), NAME as prlimit(1) spells it. (A profile's `rlimits` is
    /// a mapping of the same names to a value or `{soft, hard}`.)
    public static func rlimitSpec(_ text: String) -> Result<(RlimitResource, Rlimit), FieldRefusal> {
        let kv = text.split(separator: "=", maxSplits: 1, omittingEmptySubsequences: false).map(String.init)
        guard kv.count == 2, let resource = RlimitResource(rawValue: kv[0]) else {
            return refuse("expected NAME=SOFT[:HARD] with NAME one of \(RlimitResource.allCases.map(\.rawValue).joined(separator: ", ")), got \"\(text)\"")
        }
        return rlimitPair(kv[1]).map { (resource, $0) }
    }

    // MARK: names and choices

    /// `none` or `host`: a profile's `network.mode`, `--network`.
    public static func networkMode(_ text: String) -> Result<NetworkMode, FieldRefusal> {
        guard let m = NetworkMode(rawValue: text) else {
            return refuse("unknown network mode \"\(text)\"; allowed: \(NetworkMode.allCases.map(\.rawValue).joined(separator: ", "))")
        }
        return .success(m)
    }

    /// `strict` or `best-effort`: a profile's `resources.enforcement`, `--limits`.
    public static func enforcement(_ text: String) -> Result<LimitEnforcement, FieldRefusal> {
        guard let m = LimitEnforcement(rawValue: text) else { return refuse("expected strict or best-effort, got \"\(text)\"") }
        return .success(m)
    }

    /// A capability to add or drop: `ALL`, or a name of capabilities(7) with or without `CAP_`,
    /// any case: a securityContext's `capabilities` (profiles and Pods), `--cap-add`, `--cap-drop`.
    public static func capabilityName(_ text: String) -> Result<String, FieldRefusal> {
        guard text.uppercased() == "ALL" || Capability(name: text) != nil else {
            var msg = "unknown capability \"\(text)\""
            let candidates = Capability.allCases.map(\.kubernetesName) + Capability.allCases.map(\.name)
            if let s = closestMatch(to: text, in: candidates) { msg += "; did you mean \"\(s)\"?" }
            return refuse(msg + " (see capabilities(7); Kubernetes spells them without CAP_)")
        }
        return .success(text)
    }

    /// A profile's or a flag's environment variable name: a letter or `_`, then letters, digits
    /// and `_` (what a shell can name).
    public static func envName(_ text: String) -> Result<String, FieldRefusal> {
        guard let f = text.first, f == "_" || f.isLetter,
              text.allSatisfy({ $0 == "_" || $0.isLetter || $0.isNumber }), text.allSatisfy(\.isASCII) else {
            return refuse("invalid environment variable name \"\(text)\"")
        }
        return .success(text)
    }

    /// A Pod container's env name, Kubernetes' classic rule `[-._a-zA-Z][-._a-zA-Z0-9]*`: wider
    /// than `envName`, as the API server's is.
    public static func kubernetesEnvName(_ text: String) -> Result<String, FieldRefusal> {
        func letter(_ c: UInt8) -> Bool { (c >= 65 && c <= 90) || (c >= 97 && c <= 122) || c == 95 || c == 45 || c == 46 }
        guard let f = text.utf8.first, letter(f), text.utf8.allSatisfy({ letter($0) || ($0 >= 48 && $0 <= 57) }) else {
            return refuse("invalid environment variable name \"\(text)\"; letters, digits, '_', '-' and '.', not starting with a digit")
        }
        return .success(text)
    }

    /// A profile's `hostname`, `--hostname`: 1 to 64 letters, digits, `-` and `.` (sethostname(2)
    /// takes 64 bytes). A Pod's `hostname` is a DNS label, as in Kubernetes.
    public static func hostname(_ text: String) -> Result<String, FieldRefusal> {
        guard !text.isEmpty, text.utf8.count <= 64, text.allSatisfy({ $0.isLetter || $0.isNumber || $0 == "-" || $0 == "." }) else {
            return refuse("a hostname is 1 to 64 letters, digits, '-' and '.', got \"\(text.count > 64 ? String(text.prefix(64)) + "…" : text)\"")
        }
        return .success(text)
    }

    /// A working directory: `WorkingDirectory.problem`'s rule, normalized.
    public static func workingDirectory(_ text: String) -> Result<String, FieldRefusal> {
        if let problem = WorkingDirectory.problem(text) { return refuse(problem) }
        return .success(normalize(text))
    }

    /// `UID[:GID]` (`--user`), each a `NumberField.id`; GID defaults to UID.
    public static func user(_ text: String) -> Result<(uid: UInt32, gid: UInt32), FieldRefusal> {
        let parts = text.split(separator: ":").map(String.init)
        guard (1...2).contains(parts.count) else {
            return refuse("expected UID[:GID] as numbers; accepted: \(NumberField.id.rangeText) each, got \"\(text)\"")
        }
        return NumberField.id.parse(parts[0]).flatMap { uid in
            NumberField.id.parse(parts[parts.count - 1]).map { gid in (UInt32(uid), UInt32(gid)) }
        }
    }

    /// One `io.max` line (`IOThrottle.parse`).
    public static func ioThrottle(_ text: String) -> Result<IOThrottle, FieldRefusal> {
        IOThrottle.parse(text).mapError { FieldRefusal(message: $0.message) }
    }
}

extension Result where Failure == FieldRefusal {
    /// The value, or the refusal as a `ConfigError` at `node` of a profile or a manifest.
    public func at(_ node: ConfigNode) throws(ConfigError) -> Success {
        switch self {
        case .success(let v): return v
        case .failure(let r): throw node.error(r.message)
        }
    }

    /// The value, or the refusal as a `ConfigError` at `field` of `file` (an annotation's part).
    public func at(file: String, field: String) throws(ConfigError) -> Success {
        switch self {
        case .success(let v): return v
        case .failure(let r): throw ConfigError(file: file, field: field, message: r.message)
        }
    }

    /// The value, or the refusal as a `ConfigError` naming the flag: `<command line>: --memory: …`.
    public func at(flag: String) throws(ConfigError) -> Success {
        try at(file: FieldRules.commandLine, field: flag)
    }
}
