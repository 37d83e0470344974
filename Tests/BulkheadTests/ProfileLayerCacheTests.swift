import BulkheadConfig
import BulkheadModel
@testable import BulkheadSystem
import Foundation
import Testing

/// The parsed-layer cache (`ProfileLayerCache`): a launch with an unchanged profile takes its
/// layer from the cache, and nothing but an entry the caller wrote for exactly this profile text,
/// file and binary is ever used. A flipped byte, a planted file of another user, a symlink, an
/// entry others may write, a directory others may enter: refused, the YAML parsed, the entry
/// rewritten. A changed profile, source or binary is another key.
@Suite(.serialized) struct ProfileLayerCacheTests {
    static let text = EmbeddedProfiles.files.first { $0.path == "container.yaml" }!.text
    static let file = "/etc/bulkhead/profiles/container.yaml"

    func freshCache() throws -> ProfileLayerCache {
        let dir = NSTemporaryDirectory() + "bh-layer-cache-\(token())"
        try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: false, attributes: [.posixPermissions: 0o700])
        return ProfileLayerCache(directory: dir)
    }
    func entryPath(_ c: ProfileLayerCache) -> String { c.directory + "/" + ProfileLayerCache.name(of: ProfileLayerCache.key(text: Self.text, file: Self.file)) }
    var key: [UInt8] { ProfileLayerCache.key(text: Self.text, file: Self.file) }
    var parsed: ProfileLayer { get throws { try ProfileParser.parse(Self.text, file: Self.file) } }

    @Test func storedLayerIsFoundAndEqual() throws {
        let c = try freshCache()
        defer { try? FileManager.default.removeItem(atPath: c.directory) }
        #expect(c.lookup(key: key) == .failure(.missing))
        #expect(try c.parse(Self.text, file: Self.file) == parsed)
        #expect(try c.lookup(key: key).get() == parsed)
        var st = stat()
        #expect(lstat(entryPath(c), &st) == 0 && st.st_mode & 0o777 == 0o600 && st.st_uid == geteuid())
        // The same entry under another key (another profile's name) is refused: the checksum covers the key.
        let other = ProfileLayerCache.key(text: Self.text + "\n", file: Self.file)
        try FileManager.default.copyItem(atPath: entryPath(c), toPath: c.directory + "/" + ProfileLayerCache.name(of: other))
        #expect(c.lookup(key: other) == .failure(.checksumMismatch))
    }

    /// Every byte of an entry flipped in turn: never a layer, and the next parse rebuilds it.
    @Test func everyFlippedByteIsRefusedAndRebuilt() throws {
        let c = try freshCache()
        defer { try? FileManager.default.removeItem(atPath: c.directory) }
        _ = try c.parse(Self.text, file: Self.file)
        let good = try [UInt8](Data(contentsOf: URL(fileURLWithPath: entryPath(c))))
        for i in good.indices {
            var bad = good
            bad[i] ^= 0x01
            try Data(bad).write(to: URL(fileURLWithPath: entryPath(c)))
            chmod(entryPath(c), 0o600)
            guard case .failure = c.lookup(key: key) else { Issue.record("byte \(i) flipped was accepted"); continue }
        }
        // Truncated and extended.
        try Data(good.dropLast()).write(to: URL(fileURLWithPath: entryPath(c)))
        #expect(c.lookup(key: key) == .failure(.badLength))
        try Data(good + [0]).write(to: URL(fileURLWithPath: entryPath(c)))
        #expect(c.lookup(key: key) == .failure(.badLength))
        #expect(try c.parse(Self.text, file: Self.file) == parsed)
        // Rebuilt (a dictionary's order may differ from one encoding to the next: compared decoded).
        #expect(try c.lookup(key: key).get() == parsed)
    }

    /// A file of another user, a symlink, an entry others may write, a directory others may
    /// enter: refused; the parse still gives the profile's own layer.
    @Test(.enabled(if: Gate.root, Gate.rootReason)) func plantedEntriesAreRefused() throws {
        let c = try freshCache()
        defer { try? FileManager.default.removeItem(atPath: c.directory) }
        // A forged entry: a valid encoding of another layer, under this profile's key.
        var forged = try parsed
        forged.namespaces[.network] = false
        forged.capabilities = CapabilitySpec(add: ["ALL"])
        let bytes = ProfileLayerCache.encodeEntry(forged, key: key)!
        func plant(owner: uid_t, mode: mode_t) throws {
            unlink(entryPath(c))
            try Data(bytes).write(to: URL(fileURLWithPath: entryPath(c)))
            chown(entryPath(c), owner, owner)
            chmod(entryPath(c), mode)
        }
        try plant(owner: 65534, mode: 0o600)
        #expect(c.lookup(key: key) == .failure(.notOwned))
        #expect(try c.parse(Self.text, file: Self.file) == parsed)
        #expect(try c.lookup(key: key).get() == parsed)

        try plant(owner: geteuid(), mode: 0o666)
        #expect(c.lookup(key: key) == .failure(.writableByOthers))
        try plant(owner: geteuid(), mode: 0o620)
        #expect(c.lookup(key: key) == .failure(.writableByOthers))
        #expect(try c.parse(Self.text, file: Self.file) == parsed)

        // A symlink to a good-looking file elsewhere.
        let elsewhere = NSTemporaryDirectory() + "bh-layer-forged-\(token())"
        defer { unlink(elsewhere) }
        try Data(bytes).write(to: URL(fileURLWithPath: elsewhere))
        chmod(elsewhere, 0o600)
        unlink(entryPath(c))
        symlink(elsewhere, entryPath(c))
        #expect(c.lookup(key: key) == .failure(.notRegularFile))
        #expect(try c.parse(Self.text, file: Self.file) == parsed)
        var st = stat()
        #expect(lstat(entryPath(c), &st) == 0 && st.st_mode & S_IFMT == S_IFREG, "the symlink was replaced by an entry")

        // The directory: others may enter it, or it belongs to someone else, or it is a symlink.
        try plant(owner: geteuid(), mode: 0o600)
        chmod(c.directory, 0o711)
        #expect(c.lookup(key: key) == .failure(.directoryNotPrivate))
        #expect(try c.parse(Self.text, file: Self.file) == parsed)
        chmod(c.directory, 0o700)
        chown(c.directory, 65534, 65534)
        #expect(c.lookup(key: key) == .failure(.directoryNotPrivate))
        chown(c.directory, geteuid(), getegid())
        let link = c.directory + ".link"
        defer { unlink(link) }
        symlink(c.directory, link)
        #expect(ProfileLayerCache(directory: link).lookup(key: key) == .failure(.directoryNotPrivate))
    }

    /// What the layer depends on is in the key: the text, where it was read, the binary.
    @Test func keyCoversTextFileAndBinary() {
        let base = ProfileLayerCache.key(text: Self.text, file: Self.file, binary: "1 2 3 4.5 6.7")
        #expect(base == ProfileLayerCache.key(text: Self.text, file: Self.file, binary: "1 2 3 4.5 6.7"))
        #expect(base != ProfileLayerCache.key(text: Self.text + " ", file: Self.file, binary: "1 2 3 4.5 6.7"))
        #expect(base != ProfileLayerCache.key(text: Self.text, file: Self.file + "x", binary: "1 2 3 4.5 6.7"))
        #expect(base != ProfileLayerCache.key(text: Self.text, file: Self.file, binary: "1 2 3 4.5 6.8"))
        #expect(ProfileLayerCache.key(text: Self.text, file: Self.file) == ProfileLayerCache.key(text: Self.text, file: Self.file, binary: ProfileLayerCache.binaryIdentity))
    }

    /// End to end: `bulkhead run` with a profile, the profile changed, a flag over it, the
    /// cached entry corrupted: every launch runs with the settings it was given, never stale ones.
    @Test(.enabled(if: Gate.root, Gate.rootReason)) func launchesNeverUseStaleSettings() throws {
        let cache = try freshCache()
        defer { try? FileManager.default.removeItem(atPath: cache.directory) }
        let env = ["BULKHEAD_PROFILE_CACHE": cache.directory]
        let p = try RootProfileFile.write("hostname: first\n", name: "cached")
        defer { try? FileManager.default.removeItem(atPath: p.dir) }
        func hostname(_ flags: [String] = []) throws -> String {
            let r = try Bulkhead.run(["run", "--profile", p.path] + flags + ["--", "/bin/cat", "/proc/sys/kernel/hostname"], env: env)
            #expect(r.status == 0, "\(r.stderr)")
            return r.stdout.trimmingCharacters(in: .whitespacesAndNewlines)
        }
        #expect(try hostname() == "first")
        let entries = { (try? FileManager.default.contentsOfDirectory(atPath: cache.directory))?.filter { !$0.hasPrefix(".") } ?? [] }
        #expect(entries().count == 2, "the profile and its parent `container` are cached: \(entries())")
        #expect(try hostname() == "first")
        #expect(try hostname(["--hostname", "flag"]) == "flag")
        // The profile changed (same length, same file): another key.
        try "apiVersion: bulkhead.dev/v1alpha1\nkind: LayerProfile\nmetadata:\n  name: cached\nextends: container\nhostname: secon\n"
            .write(toFile: p.path, atomically: true, encoding: .utf8)
        chmod(p.path, 0o644)
        #expect(try hostname() == "secon")
        // Every entry corrupted: the launch parses the YAML again.
        for e in entries() {
            let path = cache.directory + "/" + e
            var b = try [UInt8](Data(contentsOf: URL(fileURLWithPath: path)))
            b[b.count - 1] ^= 0xFF
            try Data(b).write(to: URL(fileURLWithPath: path))
        }
        #expect(try hostname() == "secon")
    }
}
