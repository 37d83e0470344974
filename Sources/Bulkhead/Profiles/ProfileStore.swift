import BulkheadModel
import BulkheadSystem
import Glibc

/// Finds layer profiles by name or path and resolves their `extends:` chains.
///
/// Search order for a name: each directory of `$BULKHEAD_PROFILE_PATH` (colon-separated),
/// `./Profiles`, the install directory (`<prefix>/share/bulkhead/profiles` next to the binary,
/// then `/usr/local/share/bulkhead/profiles`), and last the profiles compiled into the binary.
/// A value containing `/` or ending in `.yaml` is a path.
public struct ProfileStore: Sendable {
    public var searchPath: [String]

    public init(searchPath: [String]) { self.searchPath = searchPath }

    /// The default search path for this process.
    public static func standard() -> ProfileStore {
        var dirs: [String] = []
        if let env = getenv("BULKHEAD_PROFILE_PATH") {
            dirs += String(cString: env).split(separator: ":").map(String.init)
        }
        dirs.append("./Profiles")
        if let exe = FileIO.readLink("/proc/self/exe") {
            // The binary's directory, e.g. /usr/local/bin (a plain slice: this runs on every launch).
            let bin = exe.lastIndex(of: "/").map { exe[..<$0] } ?? ""
            dirs.append(bin + "/../share/bulkhead/profiles")
        }
        dirs.append("/usr/local/share/bulkhead/profiles")
        return ProfileStore(searchPath: dirs)
    }

    /// A profile's text and where it came from.
    public struct Source: Sendable {
        public var name: String
        public var location: String
        public var text: String
        public var embedded: Bool
    }

    /// Finds `nameOrPath`. Throws a ConfigError listing what exists when nothing matches.
    public func find(_ nameOrPath: String) throws(ConfigError) -> Source {
        if nameOrPath.contains("/") || nameOrPath.hasSuffix(".yaml") || nameOrPath.hasSuffix(".yml") {
            guard let text = FileIO.read(nameOrPath) else {
                throw ConfigError(file: nameOrPath, field: "", message: "cannot read the profile file: \(Errno.current)")
            }
            return Source(name: nameOrPath, location: nameOrPath, text: text, embedded: false)
        }
        for dir in searchPath {
            let path = "\(dir)/\(nameOrPath).yaml"
            if let text = FileIO.read(path) { return Source(name: nameOrPath, location: path, text: text, embedded: false) }
        }
        if let e = EmbeddedProfiles.files.first(where: { $0.path == "\(nameOrPath).yaml" }) {
            return Source(name: nameOrPath, location: "<embedded:\(nameOrPath)>", text: e.text, embedded: true)
        }
        var msg = "no profile named \"\(nameOrPath)\""
        if let s = closestMatch(to: nameOrPath, in: list().map(\.name)) { msg += "; did you mean \"\(s)\"?" }
        msg += " (searched \(searchPath.joined(separator: ", ")) and the built-in profiles; `bulkhead profile list` shows them)"
        throw ConfigError(file: nameOrPath, field: "", message: msg)
    }

    /// Loads a profile and its parents: the layers base first, each parsed strictly.
    public func layers(for nameOrPath: String) throws(ConfigError) -> [ProfileLayer] {
        var chain: [ProfileLayer] = []
        var seen: [String] = []
        var next: String? = nameOrPath
        while let current = next {
            let src = try find(current)
            if seen.contains(src.location) {
                throw ConfigError(file: src.location, field: "extends", message: "inheritance cycle: \((seen + [src.location]).joined(separator: " -> "))")
            }
            guard seen.count < 16 else { throw ConfigError(file: src.location, field: "extends", message: "more than 16 levels of extends") }
            seen.append(src.location)
            var layer = try ProfileParser.parse(src.text, file: src.location)
            if layer.name == nil { layer.name = src.name }
            chain.insert(layer, at: 0)
            next = layer.extends
        }
        return chain
    }

    /// Every profile visible on the search path and built in, first match per name.
    public func list() -> [Source] {
        var out: [Source] = []
        var names = Set<String>()
        for dir in searchPath {
            for entry in FileIO.listDirectory(dir) where entry.hasSuffix(".yaml") {
                let name = String(entry.dropLast(5))
                if names.insert(name).inserted, let text = FileIO.read("\(dir)/\(entry)") {
                    out.append(Source(name: name, location: "\(dir)/\(entry)", text: text, embedded: false))
                }
            }
        }
        for e in EmbeddedProfiles.files where e.path.hasSuffix(".yaml") && !e.path.contains("/") {
            let name = String(e.path.dropLast(5))
            if names.insert(name).inserted { out.append(Source(name: name, location: "<embedded:\(name)>", text: e.text, embedded: true)) }
        }
        return out.sorted { $0.name < $1.name }
    }

    /// Reads a file a profile refers to (a Localhost seccomp profile): relative to the profile's
    /// directory, or from the embedded files for a built-in profile.
    public func readReferenced(_ path: String, relativeTo dir: String) throws(ConfigError) -> (location: String, text: String) {
        if dir == "<embedded>" {
            // A built-in profile refers to files that ship with it; a copy on the search path wins.
            for d in searchPath { if let t = FileIO.read("\(d)/\(path)") { return ("\(d)/\(path)", t) } }
            if let e = EmbeddedProfiles.files.first(where: { $0.path == path }) { return ("<embedded:\(path)>", e.text) }
            throw ConfigError(file: "<embedded>", field: "securityContext.seccompProfile.localhostProfile", message: "no built-in file \(path)")
        }
        let full = path.hasPrefix("/") ? path : "\(dir)/\(path)"
        guard let text = FileIO.read(full) else {
            throw ConfigError(file: full, field: "", message: "cannot read the seccomp profile: \(Errno.current)")
        }
        return (full, text)
    }
}
