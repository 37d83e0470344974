extension EffectiveProfile {
    /// The effective profile as a layer profile document: every setting spelled out, so it can
    /// be saved and used as a profile of its own (`bulkhead profile show NAME --effective`).
    /// EffectiveProfileYAMLTests.printsEveryField parses it back and compares every field, with
    /// a profile that sets each field to something other than the default: a field added to
    /// `EffectiveProfile` and not printed here fails it.
    public var yaml: String {
        var y = "# effective profile: \(chain.joined(separator: " > ")) (later wins)\n"
        y += "apiVersion: \(ProfileLayer.apiVersion)\nkind: \(ProfileLayer.kind)\n"
        y += "metadata:\n  name: \(name)\n"
        if !description.isEmpty { y += "  description: \(quote(description))\n" }
        y += "namespaces:\n"
        for ns in Namespace.allCases { y += "  \(ns.rawValue): \(namespaces.contains(ns))\n" }
        if let r = hostIDRange { y += "userNamespace:\n  hostIDRange: \"\(r)\"\n" }
        y += "securityContext:\n"
        y += "  runAsUser: \(runAsUser)\n  runAsGroup: \(runAsGroup)\n  runAsNonRoot: \(runAsNonRoot)\n"
        if !supplementalGroups.isEmpty {
            let items = supplementalGroups.map { g in if case .id(let n) = g { "\(n)" } else if case .name(let s) = g { quote(s) } else { "" } }
            y += "  supplementalGroups: [\(items.joined(separator: ", "))]\n"
        }
        y += "  capabilities:\n    drop: [ALL]\n    add: [\(capabilities.members.map(\.kubernetesName).joined(separator: ", "))]\n"
        y += "  readOnlyRootFilesystem: \(readOnlyRootFilesystem)\n  allowPrivilegeEscalation: \(allowPrivilegeEscalation)\n"
        switch seccomp {
        case .unconfined: y += "  seccompProfile:\n    type: Unconfined\n"
        case .runtimeDefault: y += "  seccompProfile:\n    type: RuntimeDefault\n"
        case .localhost(let path, let dir):
            let full = path.hasPrefix("/") || dir == "<embedded>" || dir == ProfileLayer.seccompRootMarker ? path : "\(dir)/\(path)"
            y += "  seccompProfile:\n    type: Localhost\n    localhostProfile: \(quote(full))\n"
        case .inline: break
        }
        func resources(_ r: ResourceSpec) -> String {
            var s = ""
            if let v = r.cpuMilli { s += "    cpu: \(Quantity.formatMilli(v))\n" }
            if let v = r.memoryBytes { s += "    memory: \(Quantity.formatBytes(v))\n" }
            if let v = r.pids { s += "    pids: \(v)\n" }
            if let v = r.ephemeralStorageBytes { s += "    ephemeral-storage: \(Quantity.formatBytes(v))\n" }
            return s
        }
        y += "resources:\n"
        if !limits.isEmpty { y += "  limits:\n" + resources(limits) }
        if !requests.isEmpty { y += "  requests:\n" + resources(requests) }
        if ioWeight != nil || !ioMax.isEmpty {
            y += "  io:\n"
            if let w = ioWeight { y += "    weight: \(w)\n" }
            if !ioMax.isEmpty { y += "    max:\n" + ioMax.map { "      - \(quote($0.v2Line))\n" }.joined() }
        }
        if let v = cpusetCPUs { y += "  cpusetCpus: \"\(FieldRules.cpuListText(v))\"\n" }
        if let v = memorySwapBytes { y += "  memorySwap: " + (v == .max ? "unlimited" : Quantity.formatBytes(v)) + "\n" }
        y += "  enforcement: \(enforcement.rawValue)\n"
        y += "filesystem:\n"
        switch root {
        case .host: y += "  root: host\n"
        case .directory(let d): y += "  root: \(quote(d))\n"
        }
        y += "  tmpfs:\n" + tmpfs.map { "    - path: \($0.path)\n      sizeLimit: \(Quantity.formatBytes(tmpfsSize($0)))\n" + ($0.optional ? "      optional: true\n" : "") }.joined()
        if !devices.isEmpty { y += "  devices:\n" + devices.map { "    - /dev/\($0)\n" }.joined() }
        if let v = shmSizeBytes { y += "  shmSize: \(Quantity.formatBytes(v))\n" }
        y += "  maskedPaths:" + list(maskedPaths)
        y += "  readonlyPaths:" + list(readonlyPaths)
        y += "  binds:" + (binds.isEmpty ? " []\n" : "\n" + binds.map {
            "    - source: \(quote($0.source))\n      destination: \(quote($0.destination))\n      readOnly: \($0.readOnly)\n"
        }.joined())
        if let l = landlock {
            y += "  landlock:\n    readOnly:" + list(l.readOnly, indent: "      ") + "    readWrite:" + list(l.readWrite, indent: "      ")
            if let b = l.bindTCP { y += "    bindTCP: [\(b.map(String.init).joined(separator: ", "))]\n" }
            if let c = l.connectTCP { y += "    connectTCP: [\(c.map(String.init).joined(separator: ", "))]\n" }
        }
        y += "network:\n  mode: \(network.rawValue)\n"
        y += "hostname: \(hostname)\nworkingDir: \(quote(workingDir))\n"
        y += "env:" + (env.isEmpty ? " []\n" : "\n" + env.map { "  - name: \($0.name)\n    value: \(quote($0.value))\n" }.joined())
        y += "rlimits:" + (rlimits.isEmpty ? " {}\n" : "\n" + rlimits.sorted(by: { $0.key < $1.key }).map { r, l in
            func v(_ x: UInt64) -> String { x == Rlimit.unlimited ? "unlimited" : String(x) }
            return "  \(r.rawValue):\n    soft: \(v(l.soft))\n    hard: \(v(l.hard))\n"
        }.joined())
        if case .inline(let text, let file, let line) = seccomp {
            // The policy itself, as the profile wrote it (re-serialized), under `seccomp:`.
            y += "# seccomp: inline policy from \(file):\(line)\nseccomp:\n"
            var lines = text.split(separator: "\n", omittingEmptySubsequences: false)
            while lines.last?.isEmpty == true { lines.removeLast() }
            y += lines.map { $0.isEmpty ? "\n" : "  \($0)\n" }.joined()
        }
        return y
    }

    private func list(_ items: [String], indent: String = "    ") -> String {
        items.isEmpty ? " []\n" : "\n" + items.map { "\(indent)- \(quote($0))\n" }.joined()
    }

    private func quote(_ s: String) -> String {
        let plain = s.allSatisfy { $0.isLetter || $0.isNumber || "/._-".contains($0) } && !s.isEmpty
        return plain ? s : "\"" + s.replacingAll("\\", with: "\\\\").replacingAll("\"", with: "\\\"")
            .replacingAll("\n", with: "\\n").replacingAll("\t", with: "\\t") + "\""
    }
}

extension String {
    func replacingAll(_ target: String, with replacement: String) -> String {
        guard !target.isEmpty else { return self }
        var out = ""
        var rest = Substring(self)
        while let r = rest.range(of: target) {
            out += rest[..<r.lowerBound] + replacement
            rest = rest[r.upperBound...]
        }
        return out + rest
    }
}

extension Substring {
    func range(of s: String) -> Range<Index>? {
        guard !s.isEmpty, count >= s.count else { return nil }
        var i = startIndex
        while i < endIndex {
            if self[i...].hasPrefix(s) { return i..<index(i, offsetBy: s.count) }
            i = index(after: i)
        }
        return nil
    }
}
