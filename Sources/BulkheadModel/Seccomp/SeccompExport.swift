/// Writers of a `SeccompPolicy` in the formats its consumers load, all deterministic (the policy
/// is normalized first, so equal filters give byte-identical files):
///
/// | format | consumer | shape |
/// |---|---|---|
/// | `kubernetes` | kubelet `seccompProfile.type: Localhost`, runc, crun | strict runtime-spec `LinuxSeccomp` JSON |
/// | `oci` | a bundle's `config.json` | `{"linux": {"seccomp": …}}` |
/// | `docker` | `docker run --security-opt seccomp=FILE`, Podman | runtime-spec keys, with Docker's `archMap` for the architectures |
/// | `spo` | security-profiles-operator | a `SeccompProfile` custom resource (YAML) |
public enum SeccompExportFormat: String, CaseIterable, Sendable {
    case kubernetes, oci, docker, spo
}

/// The API versions of security-profiles-operator's `SeccompProfile`. `v1` is the storage
/// version since SPO 1.0; `v1beta1` is what earlier releases served.
public enum SPOAPIVersion: String, CaseIterable, Sendable {
    case v1, v1beta1

    public var apiVersion: String { "security-profiles-operator.x-k8s.io/\(rawValue)" }
}

public struct SeccompExportOptions: Sendable, Equatable {
    /// Write the `flags` list. Off by default: runc before 1.2 refuses a profile with flags.
    public var flags: Bool
    /// `metadata.name` of the SPO resource, and the file name on a node (`NAME.json`).
    public var name: String
    public var spoVersion: SPOAPIVersion

    public init(flags: Bool = false, name: String = "bulkhead", spoVersion: SPOAPIVersion = .v1) {
        self.flags = flags
        self.name = name
        self.spoVersion = spoVersion
    }
}

/// A policy that the chosen format cannot carry as it is, with the rule that is in the way.
public struct SeccompExportError: Error, Sendable, Equatable, CustomStringConvertible {
    public var format: SeccompExportFormat
    /// `syscalls[i]` of the normalized policy (the order the exported file has), when a rule is at fault.
    public var rule: Int?
    public var message: String

    public init(format: SeccompExportFormat, rule: Int? = nil, message: String) {
        self.format = format
        self.rule = rule
        self.message = message
    }

    public var description: String {
        var s = "cannot export as \(format.rawValue)"
        if let rule { s += ": syscalls[\(rule)]" }
        return s + ": " + message
    }
}

extension SeccompPolicy {
    /// The policy in `format`. Only `spo` can fail (its schema is narrower than the runtime spec).
    public func export(_ format: SeccompExportFormat, options: SeccompExportOptions = SeccompExportOptions()) throws(SeccompExportError) -> String {
        switch format {
        case .kubernetes: return kubernetesJSON(flags: options.flags)
        case .oci: return ociConfigFragment(flags: options.flags)
        case .docker: return dockerJSON(flags: options.flags)
        case .spo: return try spoYAML(name: options.name, version: options.spoVersion, flags: options.flags)
        }
    }

    /// The `linux.seccomp` member of an OCI bundle's `config.json`, as a fragment to merge:
    /// `{"linux": {"seccomp": <kubernetesJSON>}}`.
    public func ociConfigFragment(flags includeFlags: Bool = false) -> String {
        let inner = kubernetesJSON(flags: includeFlags).split(separator: "\n", omittingEmptySubsequences: false)
        var out = "{\n  \"linux\": {\n    \"seccomp\": "
        for (i, line) in inner.enumerated() where !(i == inner.count - 1 && line.isEmpty) {
            out += (i == 0 ? "" : "    ") + line + (i == inner.count - 2 ? "" : "\n")
        }
        return out + "\n  }\n}\n"
    }

    /// Docker's profile format: the runtime-spec keys, except that the architectures are an
    /// `archMap` entry (the first architecture with the others as its sub-architectures, which is
    /// how moby picks the list for the machine it runs on). Docker refuses `architectures` and
    /// `archMap` together, so only `archMap` is written.
    public func dockerJSON(flags includeFlags: Bool = false) -> String {
        let p = normalized()
        var fields: [String] = []
        fields.append("  \"defaultAction\": \(json(p.defaultAction.rawValue))")
        if let e = p.defaultErrnoRet { fields.append("  \"defaultErrnoRet\": \(e)") }
        if let main = p.architectures.first {
            var entry = "    {\n      \"architecture\": \(json(main.rawValue)),\n      \"subArchitectures\": ["
            let subs = p.architectures.dropFirst()
            entry += subs.isEmpty ? "]" : "\n" + subs.map { "        \(json($0.rawValue))" }.joined(separator: ",\n") + "\n      ]"
            entry += "\n    }"
            fields.append("  \"archMap\": [\n" + entry + "\n  ]")
        }
        if includeFlags, !p.flags.isEmpty {
            fields.append("  \"flags\": [\n" + p.flags.map { "    \(json($0))" }.joined(separator: ",\n") + "\n  ]")
        }
        if let l = p.listenerPath { fields.append("  \"listenerPath\": \(json(l))") }
        if let l = p.listenerMetadata { fields.append("  \"listenerMetadata\": \(json(l))") }
        fields.append(p.rules.isEmpty ? "  \"syscalls\": []" : "  \"syscalls\": [\n" + p.rules.map(Self.ruleJSON).joined(separator: ",\n") + "\n  ]")
        return "{\n" + fields.joined(separator: ",\n") + "\n}\n"
    }

    /// security-profiles-operator's `SeccompProfile` resource. Its schema is narrower than the
    /// runtime spec, and a value it cannot hold is refused rather than changed:
    /// - argument `value`/`valueTwo` are int64 with minimum 0 (Kubernetes integers are int64):
    ///   a value above `Int64.max` (e.g. a mask with the top bit) cannot be written;
    /// - `errnoRet` is 1...4095 (0 means "unset", i.e. EPERM); there is no `defaultErrnoRet`,
    ///   so only the runtime's default (EPERM) can be expressed for the default action;
    /// - the architectures are an enum without LoongArch, m68k and SuperH;
    /// - `listenerPath` must live under /var/run/security-profiles-operator/;
    /// - SCMP_ACT_NOTIFY is not allowed as the default action.
    public func spoYAML(name: String, version: SPOAPIVersion = .v1, flags includeFlags: Bool = false) throws(SeccompExportError) -> String {
        func fail(_ rule: Int?, _ msg: String) -> SeccompExportError { SeccompExportError(format: .spo, rule: rule, message: msg) }
        if let problem = KubernetesName.problem(name) { throw fail(nil, "metadata.name \"\(name)\" \(problem)") }
        let p = normalized()
        if p.defaultAction == .notify { throw fail(nil, "SPO does not allow SCMP_ACT_NOTIFY as the default action") }
        if let e = p.defaultErrnoRet, e != 1 {
            throw fail(nil, "defaultErrnoRet \(e): a SeccompProfile has no defaultErrnoRet field, so its default action can only return EPERM (1)")
        }
        for a in p.architectures where !Self.spoArchitectures.contains(a) {
            throw fail(nil, "architecture \(a.rawValue) is not in SPO's architecture enum")
        }
        if let l = p.listenerPath, !l.hasPrefix("/var/run/security-profiles-operator/") {
            throw fail(nil, "listenerPath \(l) must be under /var/run/security-profiles-operator/ for SPO")
        }
        let maxArg = UInt64(Int64.max)
        for (i, r) in p.rules.enumerated() {
            if let e = r.errnoRet, e == 0 {
                throw fail(i, "errnoRet 0 (\(r.names.joined(separator: ", "))): SPO treats 0 as unset, which the runtime turns into EPERM")
            }
            for a in r.args where a.value > maxArg || a.valueTwo > maxArg {
                let v = a.value > maxArg ? a.value : a.valueTwo
                throw fail(i, "argument \(a.index) of \(r.names.joined(separator: ", ")) (\(r.action.rawValue), \(a.op.rawValue)) compares with \(v) "
                    + "(0x\(String(v, radix: 16))), above SPO's limit \(maxArg) (int64, minimum 0); change the rule or use another format")
            }
        }
        var y = "apiVersion: \(version.apiVersion)\nkind: SeccompProfile\nmetadata:\n  name: \(name)\nspec:\n"
        y += "  defaultAction: \(p.defaultAction.rawValue)\n"
        if !p.architectures.isEmpty { y += "  architectures:\n" + p.architectures.map { "  - \($0.rawValue)\n" }.joined() }
        if includeFlags, !p.flags.isEmpty { y += "  flags:\n" + p.flags.map { "  - \($0)\n" }.joined() }
        if let l = p.listenerPath { y += "  listenerPath: \(yamlQuote(l))\n" }
        if let l = p.listenerMetadata { y += "  listenerMetadata: \(yamlQuote(l))\n" }
        if p.rules.isEmpty { return y + "  syscalls: []\n" }
        y += "  syscalls:\n"
        for r in p.rules {
            y += "  - action: \(r.action.rawValue)\n"
            if let e = r.errnoRet { y += "    errnoRet: \(e)\n" }
            if !r.args.isEmpty {
                y += "    args:\n"
                for a in r.args {
                    y += "    - index: \(a.index)\n      value: \(a.value)\n      valueTwo: \(a.valueTwo)\n      op: \(a.op.rawValue)\n"
                }
            }
            y += "    names:\n" + r.names.map { "    - \($0)\n" }.joined()
        }
        return y
    }

    /// The architectures SPO's `Arch` enum lists (SCMP_ARCH_NATIVE aside).
    static let spoArchitectures: Set<SeccompArch> = Set(SeccompArch.allCases).subtracting([.loongarch64, .m68k, .sh, .sheb])
}

/// Where an exported profile goes on a Kubernetes node, and how a pod refers to it.
public enum KubernetesSeccompInstall {
    /// The kubelet's default seccomp root (`--root-dir` /var/lib/kubelet, plus `seccomp/`).
    public static let kubeletSeccompRoot = "/var/lib/kubelet/seccomp"

    /// `profiles/NAME.json`: the `localhostProfile` value, relative to the kubelet's seccomp root.
    public static func localhostProfile(name: String) -> String { "profiles/\(name).json" }

    /// `/var/lib/kubelet/seccomp/profiles/NAME.json`.
    public static func nodePath(name: String) -> String { "\(kubeletSeccompRoot)/\(localhostProfile(name: name))" }

    /// The container `securityContext` lines that load the profile.
    public static func securityContextSnippet(name: String) -> String {
        "securityContext:\n  seccompProfile:\n    type: Localhost\n    localhostProfile: \(localhostProfile(name: name))\n"
    }

    /// What to do with the file: copy it to every node, then refer to it from the pod.
    public static func instructions(name: String) -> String {
        "# copy the profile to every node that may run the pod:\n"
            + "#   \(nodePath(name: name))\n"
            + "# then load it from the container (or pod) spec:\n"
            + securityContextSnippet(name: name)
    }
}

/// Kubernetes object names (DNS-1123 subdomains, which also makes them safe file names).
public enum KubernetesName {
    /// Why `name` is not a valid object name, or nil when it is. Byte by byte (`ExactName`):
    /// a Character range (`"a"..."z"`) holds "b\u{301}" and "web\u{200D}" (a letter and its
    /// combining marks or joiner are one Character), names the API server refuses.
    public static func problem(_ name: String) -> String? {
        if name.isEmpty { return "is empty" }
        if name.utf8.count > 253 { return "is longer than 253 characters" }
        for label in name.utf8.split(separator: UInt8(ascii: "."), omittingEmptySubsequences: false) {
            guard let f = label.first, let l = label.last else { return "has an empty label between dots" }
            if !label.allSatisfy({ ($0 >= 0x61 && $0 <= 0x7A) || ($0 >= 0x30 && $0 <= 0x39) || $0 == 0x2D }) {
                return "may contain only lower-case letters, digits, '-' and '.' (a DNS-1123 subdomain)"
            }
            if f == 0x2D || l == 0x2D { return "must start and end each label with a letter or digit" }
        }
        return nil
    }

    /// A valid name made from `text` (a profile or file name): ASCII lower-cased, every other
    /// scalar replaced by '-', trimmed; "bulkhead" if nothing is left.
    public static func sanitized(_ text: String) -> String {
        var s = String(String.UnicodeScalarView(text.unicodeScalars.map { u -> Unicode.Scalar in
            let c = u.isASCII && u.value >= 0x41 && u.value <= 0x5A ? Unicode.Scalar(u.value + 0x20)! : u
            return (c.value >= 0x61 && c.value <= 0x7A) || (c.value >= 0x30 && c.value <= 0x39) || c == "-" || c == "." ? c : "-"
        }))
        while let f = s.first, f == "-" || f == "." { s.removeFirst() }
        while let l = s.last, l == "-" || l == "." { s.removeLast() }
        if s.count > 253 { s = String(s.prefix(253)) }
        return s.isEmpty || problem(s) != nil ? "bulkhead" : s
    }
}

/// A YAML double-quoted scalar (JSON string syntax is valid YAML).
func yamlQuote(_ s: String) -> String { json(s) }
