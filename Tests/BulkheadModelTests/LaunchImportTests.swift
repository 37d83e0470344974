import Foundation
import Glibc
import Testing

/// The launch path's modules link neither Foundation nor Yams nor ArgumentParser (issue 17: a
/// static binary that links Foundation starts at 3.9 MiB and its conformance tables are what
/// the Swift runtime scans on a launch's first generic uses; BENCHMARKS.md).
///
/// Package.swift keeps Yams and ArgumentParser out of these targets' dependencies, so the build
/// refuses `import Yams` there; Foundation ships with the toolchain and any target can import
/// it, so this suite checks what the compiler actually loaded: every Swift file's dependency
/// file (`.build/<config>/<Module>.build/*.d`) lists the modules its compilation read, the
/// transitive ones included (a dependency that imported Foundation shows up here too).
@Suite struct LaunchImportTests {
    /// The modules a `run` with cached layers and a cached filter runs on: the launch executable
    /// (`bulkhead`, whose sources are Sources/bulkhead-launch) and every module it links.
    static let launchModules = ["BulkheadModel", "BulkheadSystem", "BulkheadLaunch", "bulkhead"]
    /// A module's source directory, where it is not Sources/<module>.
    static let sourceDirectory = ["bulkhead": "bulkhead-launch", "bulkhead_cli": "bulkhead"]
    static func sources(of module: String) -> URL {
        root.appendingPathComponent("Sources/" + (sourceDirectory[module] ?? module))
    }
    /// What none of them may load.
    static let forbidden = ["Foundation", "FoundationEssentials", "FoundationInternationalization", "FoundationNetworking",
                            "FoundationXML", "_FoundationCollections", "CoreFoundation", "Yams", "ArgumentParser"]

    static let root = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
        .deletingLastPathComponent()

    /// The build directory this test binary was built in (its own directory), else `.build/debug`;
    /// `LAUNCH_IMPORT_BUILD_DIR` reads another build's (to see the check fail on one whose
    /// model imported Yams).
    static var buildDirectory: URL {
        if let other = ProcessInfo.processInfo.environment["LAUNCH_IMPORT_BUILD_DIR"] { return URL(fileURLWithPath: other) }
        let exe = URL(fileURLWithPath: (try? FileManager.default.destinationOfSymbolicLink(atPath: "/proc/self/exe")) ?? "")
        var dir = exe.deletingLastPathComponent()
        // swift-testing may run the tests from the bundle's inner executable.
        while dir.path != "/" && !FileManager.default.fileExists(atPath: dir.appendingPathComponent("BulkheadModel.build").path) {
            dir = dir.deletingLastPathComponent()
        }
        return dir.path == "/" ? root.appendingPathComponent(".build/debug") : dir
    }

    /// The module names every compilation of `module`'s files loaded, from their `.d` files.
    static func loadedModules(of module: String) throws -> Set<String> {
        let dir = buildDirectory.appendingPathComponent("\(module).build")
        // Only the dependency files of the module's sources as they are now: an incremental build
        // keeps the `.d` of a file that moved to another module (BulkheadConfig) since.
        let sources = Set((FileManager.default.enumerator(atPath: sources(of: module).path)?
            .compactMap { $0 as? String } ?? []).filter { $0.hasSuffix(".swift") }
            .map { String(($0.split(separator: "/").last ?? "").dropLast(".swift".count)) })
        let files = try FileManager.default.contentsOfDirectory(atPath: dir.path)
            .filter { $0.hasSuffix(".d") && sources.contains(String($0.dropLast(2))) }
        var names = Set<String>()
        for f in files {
            let text = try String(contentsOf: dir.appendingPathComponent(f), encoding: .utf8)
            for word in text.split(whereSeparator: { $0 == " " || $0 == "\n" || $0 == "\\" }) {
                // …/Foundation.swiftmodule/x86_64-unknown-linux-gnu.swiftmodule, …/Modules/Yams.swiftmodule
                for part in word.split(separator: "/") where part.hasSuffix(".swiftmodule") && !part.hasPrefix("x86_64") && !part.hasPrefix("aarch64") {
                    names.insert(String(part.dropLast(".swiftmodule".count)))
                }
            }
        }
        #expect(!files.isEmpty, "no dependency files in \(dir.path): the check would pass without looking")
        return names
    }

    @Test(arguments: launchModules)
    func launchModuleLoadsNoFoundation(module: String) throws {
        let loaded = try Self.loadedModules(of: module)
        #expect(loaded.contains("Swift"), "the dependency files of \(module) name no standard library: not read right")
        let bad = loaded.intersection(Self.forbidden)
        #expect(bad.isEmpty, "\(module) is on the launch path and its compilation loaded \(bad.sorted()): move the code that needs it to a module above (BulkheadConfig)")
    }

    /// The control: the same reading finds Foundation and Yams where they are (BulkheadConfig), so
    /// the check above can fail.
    @Test func readingFindsFoundationWhereItIs() throws {
        let loaded = try Self.loadedModules(of: "BulkheadConfig")
        #expect(loaded.contains("Yams"))
        #expect(loaded.contains("Foundation"))
    }

    /// The sources say it too, before any build: no launch module's file imports one of them
    /// (any spelling: `@preconcurrency import`, `internal import`, `import struct Foundation.X`).
    @Test(arguments: launchModules)
    func launchModuleSourcesImportNoFoundation(module: String) throws {
        let dir = Self.sources(of: module)
        let files = FileManager.default.enumerator(at: dir, includingPropertiesForKeys: nil)?
            .compactMap { $0 as? URL }.filter { $0.pathExtension == "swift" } ?? []
        #expect(!files.isEmpty, "no sources in \(dir.path)")
        for file in files {
            let text = try String(contentsOf: file, encoding: .utf8)
            for line in text.split(separator: "\n") where !line.drop(while: { $0 == " " }).hasPrefix("//") {
                let words = line.split(whereSeparator: { $0 == " " || $0 == "\t" || $0 == "." || $0 == "(" || $0 == ")" })
                guard let i = words.firstIndex(where: { $0 == "import" || $0 == "#if" || $0 == "#elseif" }) else { continue }
                for w in words[(i + 1)...] {
                    let name = w.hasPrefix("canImport") ? String(w.dropFirst("canImport".count)) : String(w)
                    #expect(!Self.forbidden.contains(name), "\(file.lastPathComponent): \(line)")
                }
            }
        }
    }

    /// What the linker put in: the launch executable as built (next to this test bundle, or
    /// `LAUNCH_IMPORT_BINARY`) holds no symbol of Foundation, Yams or ArgumentParser and needs
    /// no Foundation library (a debug build links them dynamically, a release build statically:
    /// either way their names are in the file). Catches what the per-file check cannot: a
    /// dependency added in Package.swift whose code is linked without a file importing it.
    static let forbiddenInBinary = ["$s10Foundation", "$s20FoundationEssentials", "$s4Yams", "$s14ArgumentParser",
                                    "libFoundation", "lib_FoundationICU"]

    static func binary(_ name: String) -> URL {
        if name == "bulkhead", let other = ProcessInfo.processInfo.environment["LAUNCH_IMPORT_BINARY"] { return URL(fileURLWithPath: other) }
        return buildDirectory.appendingPathComponent(name)
    }

    /// Which of `needles` occur in the file's bytes.
    static func occurring(_ needles: [String], in file: URL) throws -> [String] {
        let data = try Data(contentsOf: file, options: .alwaysMapped)
        #expect(data.count > 4096, "\(file.path) is not a binary")
        return needles.filter { data.range(of: Data($0.utf8)) != nil }
    }

    @Test func launchExecutableLinksNoFoundation() throws {
        let found = try Self.occurring(Self.forbiddenInBinary, in: Self.binary("bulkhead"))
        #expect(found.isEmpty, "the launch executable \(Self.binary("bulkhead").path) links \(found): something on its path depends on them")
    }

    /// The control: the full command line, built in the same directory, does link them, and the
    /// same search finds them there.
    @Test func searchFindsFoundationInTheFullCommandLine() throws {
        let found = try Self.occurring(Self.forbiddenInBinary, in: Self.binary("bulkhead-cli"))
        #expect(found.contains("$s14ArgumentParser"), "\(found)")
        #expect(found.contains("$s10Foundation") || found.contains("libFoundation"), "\(found)")
    }
}
