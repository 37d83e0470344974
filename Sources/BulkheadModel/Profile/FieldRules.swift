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
        guard !ExactName.hasDotDot(text) else { return refuse("a path may not contain \"..\": \"\(text)\"") }
        guard !text.utf8.contains(0) else { return refuse("a path may not contain NUL") }
        // What the kernel can name (NAME_MAX, PATH_MAX): refused here, not after a launch has
        // made the first components of a mount point on disk.
        guard !ExactName.pathComponents(text).contains(where: { $0.utf8.count > 255 }) else {
            return refuse("a path component may have at most 255 bytes: \"\(text.prefix(80))…\"")
        }
        let path = normalize(text)
        guard path.utf8.count < 3900 else { return refuse("a path may have at most 3899 bytes, got \(path.utf8.count)") }
        return .success(path)
    }

    /// `/a//b/./c/` → `/a/b/c`.
    public static func normalize(_ path: String) -> String {
        // Joined by hand: `joined(separator:)` runs unspecialised here, looking its types up by
        // name on every launch (BENCHMARKS.md, session 18).
        var out = ""
        for part in ExactName.pathComponents(path) where !ExactName.same(part, ".") {
            out += "/"
            out += part
        }
        return out.isEmpty ? "/" : out
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
        guard kv.count == 2, let resource = RlimitResource(exactly: kv[0]) else {
            return refuse("expected NAME=SOFT[:HARD] with NAME one of \(RlimitResource.allCases.map(\.rawValue).joined(separator: ", ")), got \"\(text)\"")
        }
        return rlimitPair(kv[1]).map { (resource, $0) }
    }

    // MARK: names and choices

    /// `none` or `host`: a profile's `network.mode`, `--network`.
    public static func networkMode(_ text: String) -> Result<NetworkMode, FieldRefusal> {
        guard let m = NetworkMode(exactly: text) else {
            return refuse("unknown network mode \"\(text)\"; allowed: \(NetworkMode.allCases.map(\.rawValue).joined(separator: ", "))")
        }
        return .success(m)
    }

    /// `strict` or `best-effort`: a profile's `resources.enforcement`, `--limits`.
    public static func enforcement(_ text: String) -> Result<LimitEnforcement, FieldRefusal> {
        guard let m = LimitEnforcement(exactly: text) else { return refuse("expected strict or best-effort, got \"\(text)\"") }
        return .success(m)
    }

    /// A capability to add or drop: `ALL`, or a name of capabilities(7) with or without `CAP_`,
    /// any case: a securityContext's `capabilities` (profiles and Pods), `--cap-add`, `--cap-drop`.
    public static func capabilityName(_ text: String) -> Result<String, FieldRefusal> {
        guard ExactName.sameIgnoringASCIICase(text, "ALL") || Capability(name: text) != nil else {
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

    /// A profile's `hostname`, `--hostname`: 1 to 64 ASCII letters, digits, `-` and `.`
    /// (sethostname(2) takes 64 bytes). A Pod's `hostname` is a DNS label, as in Kubernetes.
    /// Byte by byte (`ExactName`): `Character.isLetter` looks at a cluster's first scalar only,
    /// and U+0D4E (a letter, and Prepend) makes `"\u{D4E};"` one Character, a letter.
    public static func hostname(_ text: String) -> Result<String, FieldRefusal> {
        func allowed(_ b: UInt8) -> Bool { (b >= 0x30 && b <= 0x39) || (b >= 0x41 && b <= 0x5A) || (b >= 0x61 && b <= 0x7A) || b == 0x2D || b == 0x2E }
        guard !text.isEmpty, text.utf8.count <= 64, text.utf8.allSatisfy(allowed) else {
            return refuse("a hostname is 1 to 64 ASCII letters, digits, '-' and '.', got \"\(text.count > 64 ? String(text.prefix(64)) + "…" : text)\"")
        }
        return .success(text)
    }

    /// A sandbox's name (`run --name`, `stop NAME`): a DNS label, as a Pod's name and a
    /// hostname label: 1 to 63 lower-case letters, digits and '-', starting and ending with a
    /// letter or digit. It names a file in bulkhead's state directory, so '/', '.' and '..'
    /// can never be one.
    public static func sandboxName(_ text: String) -> Result<String, FieldRefusal> {
        if let p = KubernetesLabels.dnsLabelProblem(text) {
            return refuse("a sandbox name \(p), got \"\(text.count > 63 ? String(text.prefix(63)) + "…" : text)\"")
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

    // MARK: the spellings of container runtimes (docker, podman, bwrap)

    /// Memory plus swap (`--memory-swap`, `resources.memorySwap`), as docker means it: a memory
    /// size (`NumberField.memory`), or `-1`/`unlimited` for unbounded swap (`UInt64.max`).
    public static func memorySwap(_ text: String) -> Result<UInt64, FieldRefusal> {
        if text == "-1" || text == "unlimited" { return .success(.max) }
        return NumberField.memory.parse(text)
    }

    /// What one `--mount` (docker, podman) mounts.
    public enum MountSpec: Sendable, Equatable {
        case bind(BindMount)
        case tmpfs(TmpfsMount)
    }

    /// `--mount type=bind,source=SRC,target=DST[,readonly]` or
    /// `type=tmpfs,target=DST[,tmpfs-size=SIZE]`, as docker and podman spell it (`src`, `dst`,
    /// `destination`, `ro` and `readonly=true|false` too). The paths follow `absolutePath`, the
    /// size `NumberField.storage`, as `--bind` and `--tmpfs` do; a bind is read-write unless
    /// `readonly`, as in docker. Other types (volume, image) and keys are refused by name.
    public static func mountSpec(_ text: String) -> Result<MountSpec, FieldRefusal> {
        var type: String?, source: String?, target: String?, readOnly = false, size: String?
        for item in text.split(separator: ",", omittingEmptySubsequences: false) {
            let kv = item.split(separator: "=", maxSplits: 1, omittingEmptySubsequences: false).map(String.init)
            let value = kv.count == 2 ? kv[1] : nil
            switch kv[0] {
            case "type": type = value
            case "source", "src": source = value
            case "target", "dst", "destination": target = value
            case "readonly", "ro":
                switch value {
                case nil, "true", "1": readOnly = true
                case "false", "0": readOnly = false
                default: return refuse("\(kv[0]) takes true or false, got \"\(value ?? "")\"")
                }
            case "tmpfs-size": size = value
            default:
                return refuse("unknown --mount key \"\(kv[0])\"; accepted: type, source (src), target (dst, destination), readonly (ro), tmpfs-size")
            }
        }
        func path(_ key: String, _ v: String?) -> Result<String, FieldRefusal> {
            guard let v else { return refuse("--mount type=\(type ?? "") needs \(key)=PATH") }
            return absolutePath(v).mapError { FieldRefusal(message: "\(key): \($0.message)") }
        }
        switch type {
        case "bind":
            guard size == nil else { return refuse("tmpfs-size is for type=tmpfs, not type=bind") }
            return path("source", source).flatMap { s in
                path("target", target).map { t in .bind(BindMount(source: s, destination: t, readOnly: readOnly)) }
            }
        case "tmpfs":
            guard source == nil else { return refuse("a tmpfs has no source; give target= and tmpfs-size= only") }
            guard !readOnly else { return refuse("a read-only tmpfs would be empty; leave out readonly") }
            return path("target", target).flatMap { t in
                guard let size else { return .success(.tmpfs(TmpfsMount(path: t))) }
                return NumberField.storage.parse(size).map { .tmpfs(TmpfsMount(path: t, sizeBytes: $0)) }
            }
        default:
            return refuse("expected type=bind or type=tmpfs, got \"\(type ?? "")\" (volumes and images are not supported: bind a host directory)")
        }
    }

    /// `--ro-bind`'s arguments: bwrap's `SRC DST` pairs (consecutive arguments without a colon)
    /// or `SRC:DST`, each a read-only `bindSpec`.
    public static func readOnlyBinds(_ arguments: [String]) -> Result<[BindMount], FieldRefusal> {
        var out: [BindMount] = []
        var i = 0
        while i < arguments.count {
            let spec: String
            if arguments[i].contains(":") {
                guard !arguments[i].hasSuffix(":rw") else { return refuse("--ro-bind is read-only; use --bind SRC:DST for a writable one") }
                spec = arguments[i]
                i += 1
            } else {
                guard i + 1 < arguments.count, !arguments[i + 1].contains(":") else {
                    return refuse("expected SRC DST (as bwrap) or SRC:DST after --ro-bind, got \"\(arguments[i])\" alone")
                }
                spec = arguments[i] + ":" + arguments[i + 1]
                i += 2
            }
            switch bindSpec(spec) {
            case .success(var b): b.readOnly = true; out.append(b)
            case .failure(let r): return .failure(r)
            }
        }
        return .success(out)
    }

    /// The signals `--stop-signal` may name: those the sandbox's init forwards to the workload
    /// (CShims/spawn.c `forwarded_signals`, less SIGWINCH), and SIGKILL (today's `--timeout`).
    /// Linux numbers (the generic table: x86_64 and arm64 agree).
    public static let stopSignals: [(name: String, number: Int32)] = [
        ("SIGHUP", 1), ("SIGINT", 2), ("SIGQUIT", 3), ("SIGKILL", 9), ("SIGUSR1", 10), ("SIGUSR2", 12), ("SIGTERM", 15),
    ]

    /// `--stop-signal SIG`: `SIGTERM`, `TERM`, `term` or `15`, one of `stopSignals`.
    public static func stopSignal(_ text: String) -> Result<Int32, FieldRefusal> {
        let upper = ExactName.asciiUppercased(text) ?? ""
        let name = upper.hasPrefix("SIG") ? upper : "SIG" + upper
        if let s = stopSignals.first(where: { ExactName.same($0.name, name) || ExactName.same(String($0.number), text) }) { return .success(s.number) }
        return refuse("expected one of \(stopSignals.map(\.name).joined(separator: ", ")) (the signals the sandbox's init passes to the workload), got \"\(text)\"")
    }

    /// `--pid/--ipc/--uts/--userns host|private`: whether the sandbox gets its own namespace
    /// of that kind (true: private).
    public static func namespaceMode(_ text: String) -> Result<Bool, FieldRefusal> {
        switch text {
        case "private": return .success(true)
        case "host": return .success(false)
        default: return refuse("expected host or private, got \"\(text)\"")
        }
    }

    /// `--device /dev/X[:rw|rwm]` (docker): a device node of the host's /dev, bound at the same
    /// path in the sandbox's /dev (never created: a user namespace cannot mknod). Returns the
    /// path below /dev (`net/tun`). Only read-write access can be given: without a devices
    /// cgroup a mount flag does not stop writes to a device, so `:r` is refused, not pretended.
    public static func device(_ text: String) -> Result<String, FieldRefusal> {
        let parts = text.split(separator: ":", omittingEmptySubsequences: false).map(String.init)
        guard parts.count <= 2 else { return refuse("expected /dev/NAME[:rw|rwm], got \"\(text)\"") }
        if parts.count == 2, parts[1] != "rw", parts[1] != "rwm" {
            return refuse("access \"\(parts[1])\" cannot be enforced (no devices cgroup: a read-only mount does not stop writes to a device); give rw or rwm, or leave it out")
        }
        let path: String
        switch absolutePath(parts[0]) {
        case .success(let p): path = p
        case .failure(let r): return .failure(r)
        }
        guard path.hasPrefix("/dev/"), path.count > 5 else { return refuse("a device is a node below /dev, got \"\(parts[0])\"") }
        let name = String(path.dropFirst(5))
        guard !name.hasPrefix("pts"), !name.hasPrefix("shm"), !name.hasPrefix("mqueue") else {
            return refuse("/dev/\(name) is the sandbox's own (devpts, shm, mqueue); it cannot be a host device")
        }
        return .success(name)
    }

    /// The highest CPU number a list may name (the kernel's NR_CPUS ceiling is 8192).
    public static let maxCPU: UInt32 = 8191

    /// A CPU list as cpuset.cpus and /sys/devices/system/cpu/online spell it (`0-3,6`):
    /// `--cpuset-cpus`, `resources.cpusetCpus`; the CPUs, sorted, each once.
    /// Linear in the text: the ranges are merged before they are expanded, so a list that
    /// repeats `0-8191` many times costs no more than the list once.
    public static func cpuList(_ text: String) -> Result<[UInt32], FieldRefusal> {
        var ranges: [ClosedRange<UInt32>] = []
        let syntax = "expected a CPU list such as 0-3,6 (CPUs 0 to \(maxCPU)), got \"\(text.prefix(64))\""
        for item in text.split(separator: ",", omittingEmptySubsequences: false) {
            let ends = item.split(separator: "-", omittingEmptySubsequences: false)
            guard (1...2).contains(ends.count), ends.allSatisfy({ !$0.isEmpty && $0.count <= 4 && $0.allSatisfy(\.isASCII) && $0.allSatisfy(\.isNumber) }),
                  let lo = UInt32(ends[0]), let hi = UInt32(ends[ends.count - 1]), lo <= hi, hi <= maxCPU else { return refuse(syntax) }
            ranges.append(lo...hi)
        }
        var cpus: [UInt32] = []
        for r in ranges.sorted(by: { $0.lowerBound < $1.lowerBound }) {
            let from = cpus.last.map { max(r.lowerBound, $0 + 1) } ?? r.lowerBound
            if from <= r.upperBound { cpus.append(contentsOf: from...r.upperBound) }
        }
        return .success(cpus)
    }

    /// `[0, 1, 2, 5]` → `0-2,5`.
    public static func cpuListText(_ cpus: [UInt32]) -> String {
        var parts: [String] = []
        var i = 0
        while i < cpus.count {
            var j = i
            while j + 1 < cpus.count, cpus[j + 1] == cpus[j] + 1 { j += 1 }
            parts.append(i == j ? "\(cpus[i])" : "\(cpus[i])-\(cpus[j])")
            i = j + 1
        }
        return parts.joined(separator: ",")
    }

    /// A user or group name of `--user NAME[:GROUP]`: what useradd accepts (letters, digits,
    /// `_`, `-`, `.`, a final `$`; not starting with a digit or `-`; at most 32).
    public static func accountName(_ text: String) -> Result<String, FieldRefusal> {
        let ok = !text.isEmpty && text.count <= 32 && text.allSatisfy(\.isASCII)
            && text.enumerated().allSatisfy { i, c in c.isLetter || c == "_" || (i > 0 && (c.isNumber || c == "-" || c == ".")) || (c == "$" && i == text.count - 1) }
        return ok ? .success(text) : refuse("expected a user or group name (letters, digits, _ - .), got \"\(text.prefix(40))\"")
    }

    /// The most supplementary groups a sandbox may be given (`--group-add`,
    /// `securityContext.supplementalGroups`): the step record that carries them to the child
    /// holds this many plus the primary group (`BH_MAX_GROUPS` in CShims/include/bh_spawn.h).
    public static let maxSupplementalGroups = 32

    /// One `--group-add GID|NAME`: a gid, or a group name looked up in the sandbox root's
    /// /etc/group at launch (as `--user NAME` is).
    public static func groupReference(_ text: String) -> Result<GroupReference, FieldRefusal> {
        if let c = text.first, c.isLetter || c == "_" { return accountName(text).map { .name($0) } }
        switch NumberField.id.parse(text) {
        case .success(let v): return .success(.id(UInt32(v)))
        case .failure(let r): return refuse("expected a gid or a group name: \(r.message)")
        }
    }

    /// A list of supplementary groups: at most `maxSupplementalGroups`, repeats dropped.
    public static func supplementalGroups<T: Equatable>(_ items: [T]) -> Result<[T], FieldRefusal> {
        var out: [T] = []
        for i in items where !out.contains(i) { out.append(i) }
        return out.count <= maxSupplementalGroups ? .success(out)
            : refuse("\(out.count) supplementary groups; at most \(maxSupplementalGroups) are supported")
    }

    /// The most a `--env-file` may hold.
    public static let envFileLimit = 1 << 20

    /// An env file (`--env-file`, docker's format): one `NAME=VALUE` or `NAME` (copied from the
    /// caller, when set) per line; blank lines and lines starting with `#` are skipped; leading
    /// blanks of a line and a final CR are dropped, the value is taken verbatim. A refusal names
    /// the line number only: never the file's content (it may hold secrets).
    public static func envFile(_ text: String) -> Result<[(name: String, value: String?)], FieldRefusal> {
        var out: [(name: String, value: String?)] = []
        // Split on the byte: "\r\n" is one Character, which a Character split would not cut.
        for (n, bytes) in text.utf8.split(separator: UInt8(ascii: "\n"), omittingEmptySubsequences: false).enumerated() {
            let raw = String(decoding: bytes, as: UTF8.self)
            var line = Substring(raw.hasSuffix("\r") ? String(raw.dropLast()) : raw)
            line = line.drop(while: { $0 == " " || $0 == "\t" })
            if line.isEmpty || line.hasPrefix("#") { continue }
            let name: Substring, value: Substring?
            if let eq = line.firstIndex(of: "=") { (name, value) = (line[..<eq], line[line.index(after: eq)...]) } else { (name, value) = (line, nil) }
            guard case .success = envName(String(name)) else {
                return refuse("line \(n + 1): not a variable name before \"=\" (letters, digits and _, not starting with a digit; the line is not shown)")
            }
            guard !(value?.utf8.contains(0) ?? false) else { return refuse("line \(n + 1): a value may not contain NUL") }
            out.append((String(name), value.map(String.init)))
        }
        return .success(out)
    }

    /// One `io.max` line (`IOThrottle.parse`).
    public static func ioThrottle(_ text: String) -> Result<IOThrottle, FieldRefusal> {
        IOThrottle.parse(text).mapError { FieldRefusal(message: $0.message) }
    }
}

extension Result where Failure == FieldRefusal {

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

/// A supplementary group as given: a gid, or a name still to look up in the sandbox's root.
public enum GroupReference: Sendable, Equatable {
    case id(UInt32)
    case name(String)
}
