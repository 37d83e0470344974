/// What `bulkhead seccomp scan` found: the system calls an executable and its shared libraries
/// can make, each with where it was found, and (with a recording) which were also seen.
public struct SyscallScanReport: Sendable, Equatable {
    /// How a call is known: found in the code only, seen in a recording only, or both.
    public enum Source: String, Sendable, Equatable, Comparable {
        case scanned, seen, both
        public static func < (a: Source, b: Source) -> Bool { a.rawValue < b.rawValue }
    }

    public struct FileSummary: Sendable, Equatable {
        public var path: String
        /// Direct `syscall` sites with a constant number, as names (numbers without a name as "#N").
        public var direct: [String]
        public var unresolvedSites: Int
        /// Imports answered by the libc table.
        public var libcImports: Int
        public var imports: Int
        public var needed: [String]
        /// True for libc itself: its calls come from the table, its code is not scanned.
        public var fromTable: Bool
    }

    public struct Call: Sendable, Equatable {
        public var name: String
        public var source: Source
        /// Where the scan found it: "direct: FILE" or "libc: FUNCTION" (the first few).
        public var foundIn: [String]
    }

    public var files: [FileSummary] = []
    /// DT_NEEDED names that were not found on the library path.
    public var missingLibraries: [String] = []
    public var calls: [Call] = []
    public var libcTable: String = LibcSyscalls.generatedFrom

    public init() {}

    public var scannedNames: Set<String> { Set(calls.filter { $0.source != .seen }.map(\.name)) }

    /// Builds the report from what the scan found per call, and the names a recording saw.
    public static func build(files: [FileSummary], missing: [String], found: [String: [String]], seen: Set<String>?) -> SyscallScanReport {
        var r = SyscallScanReport()
        r.files = files
        r.missingLibraries = missing
        var names = Set(found.keys)
        if let seen { names.formUnion(seen) }
        r.calls = names.sorted().map { n in
            let scanned = found[n] != nil, wasSeen = seen?.contains(n) ?? false
            return Call(name: n, source: scanned && wasSeen ? .both : scanned ? .scanned : .seen, foundIn: Array((found[n] ?? []).prefix(3)))
        }
        return r
    }

    /// The report as JSON (deterministic order).
    public func jsonText() -> String {
        func q(_ s: String) -> String { json(s) }
        var out = "{\n  \"libcTable\": \(q(libcTable)),\n  \"files\": [\n"
        out += files.map { f in
            "    {\"path\": \(q(f.path)), \"fromTable\": \(f.fromTable), \"direct\": [\(f.direct.map(q).joined(separator: ", "))], "
                + "\"unresolvedSites\": \(f.unresolvedSites), \"imports\": \(f.imports), \"libcImports\": \(f.libcImports), "
                + "\"needed\": [\(f.needed.map(q).joined(separator: ", "))]}"
        }.joined(separator: ",\n")
        out += "\n  ],\n  \"missingLibraries\": [\(missingLibraries.map(q).joined(separator: ", "))],\n"
        var counts: [Source: Int] = [:]
        for c in calls { counts[c.source, default: 0] += 1 }
        out += "  \"counts\": {\"scanned\": \(counts[.scanned] ?? 0), \"seen\": \(counts[.seen] ?? 0), \"both\": \(counts[.both] ?? 0)},\n"
        out += "  \"calls\": [\n" + calls.map { c in
            "    {\"name\": \(q(c.name)), \"source\": \(q(c.source.rawValue)), \"foundIn\": [\(c.foundIn.map(q).joined(separator: ", "))]}"
        }.joined(separator: ",\n") + "\n  ]\n}\n"
        return out
    }
}

/// The scan of a set of ELF files, given a way to read them and to find libraries: pure, so a
/// test can feed it any bytes. Files are read breadth-first from the given paths through their
/// DT_NEEDED entries, each once, at most `maxFiles`.
public struct SyscallScanner {
    public static let maxFiles = 512

    /// Reads a file; throws with a message that names the file but shows none of its content.
    public var read: (String) throws -> [UInt8]
    /// The path of library `name` needed by the file at `path` (with its DT_RUNPATH), or nil.
    public var resolve: (_ name: String, _ neededBy: String, _ runPath: [String]) -> String?

    public init(read: @escaping (String) throws -> [UInt8], resolve: @escaping (String, String, [String]) -> String?) {
        self.read = read
        self.resolve = resolve
    }

    public struct Failure: Error, Sendable, CustomStringConvertible {
        public var path: String
        public var message: String
        public var description: String { "\(path): \(message)" }
    }

    /// Scans `paths` and their libraries. `seen`: the names a recording saw, for `--merge`.
    public func scan(_ paths: [String], seen: Set<String>? = nil) throws(Failure) -> SyscallScanReport {
        var queue = paths, done = Set<String>(), files: [SyscallScanReport.FileSummary] = []
        var missing: [String] = []
        var found: [String: [String]] = [:]
        func note(_ name: String, _ place: String) {
            if found[name, default: []].count < 8, !found[name, default: []].contains(place) { found[name, default: []].append(place) }
        }
        var i = 0
        while i < queue.count {
            let path = queue[i]
            i += 1
            guard done.insert(path).inserted else { continue }
            guard done.count <= Self.maxFiles else { throw Failure(path: path, message: "more than \(Self.maxFiles) files in the library closure") }
            let bytes: [UInt8]
            do { bytes = try read(path) } catch { throw Failure(path: path, message: "\(error)") }
            let elf: ELFFile, summary: ELFSyscallSummary
            do {
                elf = try ELFFile.parse(bytes)
                summary = try ELFSyscallSummary.scan(elf, bytes: bytes)
            } catch {
                throw Failure(path: path, message: "not a usable ELF file: \(error.message)")
            }
            let base = path.split(separator: "/").last.map(String.init) ?? path
            let isLibc = LibcSyscalls.sonames.contains(base)
            var direct: [String] = []
            if !isLibc {
                for (nr, _) in summary.direct.sorted(by: { $0.key < $1.key }) {
                    if let n = SyscallTable.name(of: nr, on: .x86_64) { direct.append(n); note(n, "direct: \(base)") } else { direct.append("#\(nr)") }
                }
            }
            var libcImports = 0
            for f in summary.imports {
                if let calls = LibcSyscalls.calls(of: f) {
                    libcImports += 1
                    for c in calls { note(c, "libc: \(f)") }
                }
            }
            files.append(SyscallScanReport.FileSummary(path: path, direct: direct, unresolvedSites: isLibc ? 0 : summary.unresolvedSites,
                                                       libcImports: libcImports, imports: summary.imports.count, needed: summary.needed,
                                                       fromTable: isLibc))
            for n in summary.needed {
                if let p = resolve(n, path, summary.runPath) { queue.append(p) } else if !missing.contains(n) { missing.append(n) }
            }
        }
        return SyscallScanReport.build(files: files, missing: missing, found: found, seen: seen)
    }
}
