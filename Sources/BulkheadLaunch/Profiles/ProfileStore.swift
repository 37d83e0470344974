import BulkheadModel
import BulkheadSystem
import Glibc

/// Finds layer profiles by name or path and resolves their `extends:` chains.
///
/// Search order for a name: each directory of `$BULKHEAD_PROFILE_PATH` (colon-separated),
/// `./Profiles` (not for root: see `standard()`), the install directory
/// (`<prefix>/share/bulkhead/profiles` next to the binary, then
/// `/usr/local/share/bulkhead/profiles`), and last the profiles compiled into the binary.
/// A value containing `/` or ending in `.yaml` is a path.
///
/// Every file is read through `TrustedFile`: the file and every directory above it owned by
/// root or the caller and not writable by others, no symbolic link as the last component, a
/// regular file of at most 4 MiB. A search directory that does not exist is skipped; one that
/// exists but fails a check is an error (fail closed), not skipped.
public struct ProfileStore: Sendable {
    public var searchPath: [String]
    /// Where parsed layers are cached (`ProfileLayerCache`); nil: every profile is parsed.
    public var layerCache: ProfileLayerCache?
    /// The YAML and JSON readers a cache miss calls (`ConfigReaders`): the full command line's
    /// (`.yaml`, module Bulkhead), or the launch executable's, which parse nothing.
    public var readers: ConfigReaders

    /// `caching`: false for a store that writes nothing (`run --dry-run`): no cache directory
    /// is made and no parsed layer stored.
    public init(searchPath: [String], caching: Bool = true, readers: ConfigReaders) {
        self.searchPath = searchPath
        self.readers = readers
        layerCache = caching ? ProfileLayerCache.standard() : nil
    }

    /// The directories a pod manifest's `localhostProfile` is relative to (as the kubelet's is to
    /// `/var/lib/kubelet/seccomp`): `/etc/bulkhead/seccomp`, then the `seccomp/` directory of
    /// each search directory.
    public static let seccompRoot = "/etc/bulkhead/seccomp"

    /// The default search path for this process.
    ///
    /// For root (effective uid 0) there is no entry relative to the working directory: not
    /// `./Profiles`, and no relative entry of `$BULKHEAD_PROFILE_PATH` either. Root often runs in
    /// a directory someone else can write (a user's checkout, /tmp), and a `Profiles/container.yaml`
    /// planted there would replace the hardened built-in default. An ordinary user keeps
    /// `./Profiles`: the sandbox then runs with that user's own privileges, and the files are
    /// still taken only when the user (or root) owns them and no one else can write them.
    public static func standard(caching: Bool = true, readers: ConfigReaders) -> ProfileStore {
        let root = geteuid() == 0
        var dirs: [String] = []
        if let env = getenv("BULKHEAD_PROFILE_PATH") {
            dirs += String(cString: env).split(separator: ":").map(String.init).filter { !root || $0.hasPrefix("/") }
        }
        if !root { dirs.append("./Profiles") }
        if let exe = FileIO.readLink("/proc/self/exe") {
            // The binary's directory, e.g. /usr/local/bin (a plain slice: this runs on every launch).
            // None when it names no directory: bulkhead-runc create/run/exec run from a sealed
            // view of the binary (SealedSelf) whose path, "/bulkhead-runc", is not the host's.
            let bin = exe.lastIndex(of: "/").map { exe[..<$0] } ?? ""
            if !bin.isEmpty { dirs.append(String(bin) + "/../share/bulkhead/profiles") }  // String + String: Substring + String is generic (a conformance scan)
        }
        dirs.append("/usr/local/share/bulkhead/profiles")
        return ProfileStore(searchPath: dirs, caching: caching, readers: readers)
    }

    /// A profile's text and where it came from.
    public struct Source: Sendable {
        public var name: String
        public var location: String
        public var text: String
        public var embedded: Bool
        /// Read by root from a file not everyone can read: errors about it show none of its text.
        public var isPrivate: Bool = false
    }

    /// Reads a file through the checks; a failed check is a ConfigError naming the file, with
    /// the errno (`ConfigError(file:field:refusedOpen:)`).
    public static func readChecked(_ path: String, what: String, limit: Int = TrustedFile.configLimit) throws(ConfigError) -> TrustedFile.Contents {
        do { return try TrustedFile.read(path, what: what, limit: limit) } catch {
            throw ConfigError(file: path, field: "", refusedOpen: error)
        }
    }

    /// Reads `name` from search directory `dir`; nil when the directory or the file does not
    /// exist. Anything else (a directory or file that fails a check) is an error.
    package static func readFromSearchDirectory(_ dir: String, _ name: String, what: String) throws(ConfigError) -> TrustedFile.Contents? {
        let opened: (fd: Int32, path: String)
        let parent = name.lastIndex(of: "/").map { String(name[..<$0]) }
        let leaf = name.lastIndex(of: "/").map { String(name[name.index(after: $0)...]) } ?? name
        // A search directory that is not there is skipped before any check: an ordinary user's
        // `./Profiles` in a directory others can write (where it does not exist) is no error.
        guard FileIO.exists(parent.map { "\(dir)/\($0)" } ?? dir) else { return nil }
        do { opened = try TrustedFile.openDirectory(parent.map { "\(dir)/\($0)" } ?? dir, what: "profile directory") } catch {
            if error.errno?.rawValue == ENOENT { return nil }
            throw ConfigError(file: "\(dir)/\(name)", field: "", refusedOpen: error)
        }
        defer { close(opened.fd) }
        do { return try TrustedFile.read(in: opened.fd, directory: opened.path, name: leaf, what: what) } catch {
            if error.errno?.rawValue == ENOENT { return nil }
            throw ConfigError(file: "\(dir)/\(name)", field: "", refusedOpen: error)
        }
    }

    /// Finds `nameOrPath`. Throws a ConfigError listing what exists when nothing matches.
    public func find(_ nameOrPath: String) throws(ConfigError) -> Source {
        if nameOrPath.contains("/") || nameOrPath.hasSuffix(".yaml") || nameOrPath.hasSuffix(".yml") {
            let c = try Self.readChecked(nameOrPath, what: "profile")
            return Source(name: nameOrPath, location: nameOrPath, text: c.text, embedded: false, isPrivate: c.isPrivate)
        }
        for dir in searchPath {
            if let c = try Self.readFromSearchDirectory(dir, "\(nameOrPath).yaml", what: "profile") {
                return Source(name: nameOrPath, location: "\(dir)/\(nameOrPath).yaml", text: c.text, embedded: false, isPrivate: c.isPrivate)
            }
        }
        if let e = EmbeddedProfiles.files.first(where: { $0.path == "\(nameOrPath).yaml" }) {
            return Source(name: nameOrPath, location: "<embedded:\(nameOrPath)>", text: e.text, embedded: true)
        }
        var msg = "no profile named \"\(nameOrPath)\""
        if let s = closestMatch(to: nameOrPath, in: list().map(\.name)) { msg += "; did you mean \"\(s)\"?" }
        msg += " (searched \(searchPath.joined(separator: ", ")) and the built-in profiles; `bulkhead profile list` shows them)"
        throw ConfigError(file: nameOrPath, field: "", errno: Errno(ENOENT).name, message: msg)
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
            var layer = try Self.parsing(private: src.isPrivate) { () throws(ConfigError) in
                if let layerCache { return try layerCache.parse(src.text, file: src.location, parser: readers.profile) }
                return try readers.profile(src.text, src.location)
            }
            if layer.name == nil { layer.name = src.name }
            layer.isPrivate = src.isPrivate
            chain.insert(layer, at: 0)
            next = layer.extends
        }
        return chain
    }

    /// Checks a directory root uses for someone (a rootfs): it and every directory above it owned by
    /// root or the caller and not writable by others (`TrustedFile.openDirectory`). Someone else who
    /// could write it could swap what root mounts or reads there while the sandbox is set up.
    public static func checkDirectory(_ path: String, what: String, field: String) throws(ConfigError) {
        do {
            let d = try TrustedFile.openDirectory(path, what: what)
            close(d.fd)
        } catch {
            throw ConfigError(file: "<\(what)>", field: field, refusedOpen: error)
        }
    }

    /// Parses with `body`; for a private file, an error keeps its place (line, column, field)
    /// but none of the file's text.
    public static func parsing<T>(private isPrivate: Bool, _ body: () throws(ConfigError) -> T) throws(ConfigError) -> T {
        do { return try body() } catch { throw isPrivate ? error.withoutContent() : error }
    }

    /// Every profile visible on the search path and built in, first match per name. A directory
    /// or file that fails a check is left out.
    public func list() -> [Source] {
        var out: [Source] = []
        var names = Set<String>()
        for dir in searchPath {
            guard let opened = try? TrustedFile.openDirectory(dir, what: "profile directory") else { continue }
            defer { close(opened.fd) }
            for entry in TrustedFile.list(opened.fd) where entry.hasSuffix(".yaml") {
                let name = String(entry.dropLast(5))
                if !names.contains(name),
                   let c = try? TrustedFile.read(in: opened.fd, directory: opened.path, name: entry, what: "profile") {
                    names.insert(name)
                    out.append(Source(name: name, location: "\(dir)/\(entry)", text: c.text, embedded: false, isPrivate: c.isPrivate))
                }
            }
        }
        for e in EmbeddedProfiles.files where e.path.hasSuffix(".yaml") && !e.path.contains("/") {
            let name = String(e.path.dropLast(5))
            if names.insert(name).inserted { out.append(Source(name: name, location: "<embedded:\(name)>", text: e.text, embedded: true)) }
        }
        return out.sorted { $0.name < $1.name }
    }

    /// A file a profile or manifest refers to (a Localhost seccomp profile), read through the checks.
    public struct Referenced: Sendable {
        public var location: String
        public var text: String
        public var isPrivate: Bool
    }

    /// Reads a file a profile refers to (a Localhost seccomp profile):
    /// - `relativeTo: "<embedded>"` (a built-in profile): a copy in a search directory wins, then
    ///   the file compiled in;
    /// - `relativeTo: ProfileLayer.seccompRootMarker` (a pod manifest): relative to
    ///   `seccompRoot`, then to each search directory's `seccomp/` (the parser has refused an
    ///   absolute path and `..`);
    /// - otherwise (a layer profile, `--seccomp FILE`): an absolute path as given, a relative one
    ///   inside the profile's directory, where `..` may not climb out.
    public func readReferenced(_ path: String, relativeTo dir: String) throws(ConfigError) -> Referenced {
        let field = "securityContext.seccompProfile.localhostProfile"
        if dir == "<embedded>" {
            // A built-in profile refers to files that ship with it; a copy on the search path wins.
            for d in searchPath {
                if let c = try Self.readFromSearchDirectory(d, path, what: "seccomp policy") {
                    return Referenced(location: "\(d)/\(path)", text: c.text, isPrivate: c.isPrivate)
                }
            }
            if let e = EmbeddedProfiles.files.first(where: { $0.path == path }) { return Referenced(location: "<embedded:\(path)>", text: e.text, isPrivate: false) }
            throw ConfigError(file: "<embedded>", field: field, errno: Errno(ENOENT).name, message: "no built-in file \(path)")
        }
        if dir == ProfileLayer.seccompRootMarker {
            guard Self.isContainedRelative(path) else {
                throw ConfigError(file: path, field: field, message: "a manifest's localhostProfile is a path relative to \(Self.seccompRoot), without \"..\"")
            }
            let roots = [Self.seccompRoot] + searchPath.map { "\($0)/seccomp" }
            for r in roots {
                if let c = try Self.readFromSearchDirectory(r, path, what: "seccomp policy") {
                    return Referenced(location: "\(r)/\(path)", text: c.text, isPrivate: c.isPrivate)
                }
            }
            throw ConfigError(file: path, field: field, errno: Errno(ENOENT).name, message: "no seccomp policy \(path) under \(roots.joined(separator: ", "))")
        }
        if !path.hasPrefix("/") && !Self.isContainedRelative(path) {
            throw ConfigError(file: "\(dir)/\(path)", field: field, message: "a relative localhostProfile may not leave the profile's directory with \"..\"")
        }
        let full = path.hasPrefix("/") ? path : "\(dir)/\(path)"
        let c = try Self.readChecked(full, what: "seccomp policy")
        return Referenced(location: full, text: c.text, isPrivate: c.isPrivate)
    }

    /// A relative path with no `..` component (and not absolute).
    package static func isContainedRelative(_ path: String) -> Bool {
        !path.hasPrefix("/") && !path.isEmpty && !ExactName.hasDotDot(path) && !path.utf8.contains(0)
    }
}

extension ConfigError {
    /// A file the input names that the checked open (`TrustedFile`) refused or could not open:
    /// the check's text as the message and its errno as the error's `errno` (ENOENT, EACCES,
    /// ELOOP ...), so the report names it as a field. The one place this conversion is made.
    public init(file: String, field: String, refusedOpen error: SystemError) {
        self.init(file: file, field: field, errno: error.errno?.name, message: "\(error)")
    }
}
