@testable import Bulkhead
import BulkheadConfig
import BulkheadModel
import BulkheadSystem
import Foundation
import Glibc
import Testing

/// Issue 12, files root reads or writes for a user (items 2, 4, 9, the secret copy): a local
/// unprivileged user (here `nobody`) plants files where root looks; a profile or manifest
/// author names files root should not read. Every file is opened through `TrustedFile`.
@Suite(.enabled(if: Gate.root, Gate.rootReason), .serialized)
struct TrustFileTests {
    static let nobody: uid_t = 65534

    /// A fresh directory under /tmp owned by root, mode 0755.
    func scratch() throws -> String {
        let dir = "/tmp/bh-trust-\(token())"
        guard mkdir(dir, 0o755) == 0 else { throw SystemError("mkdir \(dir)", errno: .current) }
        chmod(dir, 0o755)
        return dir
    }

    func write(_ text: String, _ path: String, mode: mode_t = 0o644, owner: uid_t = 0) throws {
        try text.write(toFile: path, atomically: false, encoding: .utf8)
        chmod(path, mode)
        chown(path, owner, owner)
    }

    /// Runs the built binary with working directory `cwd`, with `env` set and `unset` removed;
    /// a run that does not end within `timeout` is killed and recorded as a failure (a hang).
    func bulkhead(_ args: [String], cwd: String = "/", env: [String: String] = [:], unset: [String] = [],
                  prefix: [String] = [], timeout: Double = 30) throws -> (status: Int32, stdout: String, stderr: String) {
        let p = Process()
        // BULKHEAD_TEST_BINARY (read by Bulkhead.binary): run these attacks against another build.
        let binary = Bulkhead.binary
        p.executableURL = URL(fileURLWithPath: prefix.first ?? binary)
        p.arguments = prefix.isEmpty ? args : Array(prefix.dropFirst()) + [binary] + args
        var e = ProcessInfo.processInfo.environment
        e["BULKHEAD_PROFILE_PATH"] = Bulkhead.packageRoot + "/Profiles"
        for (k, v) in env { e[k] = v }
        for k in unset { e.removeValue(forKey: k) }
        p.environment = e
        p.currentDirectoryURL = URL(fileURLWithPath: cwd)
        let out = Pipe(), err = Pipe()
        p.standardOutput = out
        p.standardError = err
        p.standardInput = FileHandle.nullDevice
        try p.run()
        let o = LockedData(), r = LockedData()
        let group = DispatchGroup()
        for (h, d) in [(out.fileHandleForReading, o), (err.fileHandleForReading, r)] {
            group.enter()
            DispatchQueue.global().async { d.set(h.readDataToEndOfFile()); group.leave() }
        }
        if group.wait(timeout: .now() + timeout) == .timedOut {
            kill(p.processIdentifier, SIGKILL)
            Issue.record("bulkhead \(args) hung: killed after \(timeout) s")
        }
        p.waitUntilExit()
        return (p.terminationStatus, String(decoding: o.get(), as: UTF8.self), String(decoding: r.get(), as: UTF8.self))
    }

    /// The lines of /etc/shadow (a root-only file), none of which may ever reach an error.
    func shadowLines() -> [String] {
        (try? String(contentsOfFile: "/etc/shadow", encoding: .utf8))?.split(separator: "\n").map(String.init).filter { $0.count >= 4 } ?? []
    }

    func expectNoShadow(_ text: String, _ what: String) {
        for line in shadowLines() {
            #expect(!text.contains(line), "\(what) echoes a line of /etc/shadow")
            if let user = line.split(separator: ":").first, let hash = line.split(separator: ":").dropFirst().first, hash.count > 2 {
                #expect(!text.contains(String(hash)), "\(what) echoes a hash of \(user)")
            }
        }
    }

    static let plantedProfile = """
        apiVersion: bulkhead.dev/v1alpha1
        kind: LayerProfile
        metadata: {name: container}
        namespaces: {user: false, pid: true, mount: true, network: true, ipc: true, uts: true, cgroup: true, time: false}
        securityContext:
          seccompProfile: {type: Unconfined}
        env:
          - {name: LD_PRELOAD, value: /tmp/planted-by-nobody.so}
        filesystem: {root: host}

        """

    // MARK: item 2: root takes no profile from the working directory

    /// `./Profiles/container.yaml` and `./Profiles/seccomp/container.json` planted in root's
    /// working directory (by nobody, or even owned by root) change nothing: the effective profile
    /// is the built-in one, seccomp on, a user namespace, no LD_PRELOAD. Before the fix the
    /// planted file replaced the default (Seccomp: 0, LD_PRELOAD set).
    @Test(arguments: [TrustFileTests.nobody, 0])
    func plantedProfileInWorkingDirectoryIsIgnoredByRoot(owner: uid_t) throws {
        let dir = try scratch()
        defer { try? FileManager.default.removeItem(atPath: dir) }
        mkdir(dir + "/Profiles", 0o755); mkdir(dir + "/Profiles/seccomp", 0o755)
        chown(dir + "/Profiles", owner, owner); chown(dir + "/Profiles/seccomp", owner, owner)
        try write(Self.plantedProfile, dir + "/Profiles/container.yaml", owner: owner)
        try write(#"{"defaultAction": "SCMP_ACT_ALLOW", "syscalls": []}"#, dir + "/Profiles/seccomp/container.json", owner: owner)
        let report = dir + "/report.json"
        // No BULKHEAD_PROFILE_PATH: nothing else on the search path hides ./Profiles.
        let r = try bulkhead(["run", "--report", report, "--", "/bin/sh", "-c", "echo LDP=$LD_PRELOAD; grep '^Seccomp:' /proc/self/status"],
                             cwd: dir, unset: ["BULKHEAD_PROFILE_PATH"])
        #expect(r.status == 0, "\(r.stderr)")
        #expect(r.stdout.contains("LDP=\n"), "the planted LD_PRELOAD reached the workload: \(r.stdout)")
        #expect(r.stdout.contains("Seccomp:\t2"), "the workload runs without the default seccomp filter: \(r.stdout)")
        let data = try #require(FileManager.default.contents(atPath: report))
        let decoded = try JSONDecoder().decode(RunReport.self, from: data)
        #expect(decoded.controls.seccomp != nil, "no seccomp filter in the report")
        #expect(decoded.controls.seccomp?.source == "RuntimeDefault" || decoded.controls.seccomp?.source.hasPrefix("Localhost:<embedded") == true
                || !(decoded.controls.seccomp?.source.contains(dir) ?? true), "the filter came from the planted file: \(decoded.controls.seccomp?.source ?? "")")
        #expect(decoded.controls.namespaces.contains("user"), "the planted profile turned the user namespace off")
        let show = try bulkhead(["profile", "show", "container", "--effective"], cwd: dir, unset: ["BULKHEAD_PROFILE_PATH"])
        #expect(!show.stdout.contains("Unconfined") && !show.stdout.contains("LD_PRELOAD"), "\(show.stdout)")
    }

    /// An ordinary user keeps `./Profiles` (the sandbox runs with that user's own privileges),
    /// but only files the user (or root) owns: a `Profiles/container.yaml` another user planted
    /// in the directory is refused, not used.
    @Test func ordinaryUserTakesOnlyOwnProfilesFromWorkingDirectory() throws {
        let dir = try scratch()
        defer { try? FileManager.default.removeItem(atPath: dir) }
        chown(dir, Self.nobody, Self.nobody)
        mkdir(dir + "/Profiles", 0o755); chown(dir + "/Profiles", Self.nobody, Self.nobody)
        let marker = "planted-\(token())"
        try write(Self.plantedProfile.replacingOccurrences(of: "metadata: {name: container}", with: "metadata: {name: container, description: \(marker)}"),
                  dir + "/Profiles/container.yaml", owner: Self.nobody)
        let asNobody = ["/usr/bin/setpriv", "--reuid=65534", "--regid=65534", "--clear-groups"]
        let own = try bulkhead(["profile", "show", "container"], cwd: dir, unset: ["BULKHEAD_PROFILE_PATH"], prefix: asNobody)
        #expect(own.status == 0 && own.stdout.contains(marker), "the user's own ./Profiles was not used: \(own.stderr)")
        chown(dir + "/Profiles/container.yaml", 1, 1)   // another user's (daemon's) file
        let other = try bulkhead(["profile", "show", "container"], cwd: dir, unset: ["BULKHEAD_PROFILE_PATH"], prefix: asNobody)
        #expect(other.status != 0 && !other.stdout.contains(marker), "another user's planted profile was used")
        #expect(other.stderr.contains("owned by uid 1"), "\(other.stderr)")
    }

    // MARK: item 4: profiles and policies named by path

    enum Planted: String, CaseIterable, Sendable {
        case ownedByNobody, groupWritable, symlink, fifo, inDirectoryOwnedByNobody, inGroupWritableDirectory
    }

    /// Plants a profile (or policy, `text`) as `kind`; returns its path.
    func plant(_ kind: Planted, text: String, in dir: String, name: String) throws -> String {
        let path = dir + "/" + name
        switch kind {
        case .ownedByNobody: try write(text, path, owner: Self.nobody)
        case .groupWritable: try write(text, path, mode: 0o664)
        case .symlink:
            try write(text, dir + "/real-" + name)
            symlink(dir + "/real-" + name, path)
        case .fifo: mkfifo(path, 0o644)
        case .inDirectoryOwnedByNobody:
            mkdir(dir + "/sub", 0o755); chown(dir + "/sub", Self.nobody, Self.nobody)
            try write(text, dir + "/sub/" + name)
            return dir + "/sub/" + name
        case .inGroupWritableDirectory:
            mkdir(dir + "/sub", 0o775); chmod(dir + "/sub", 0o775)
            try write(text, dir + "/sub/" + name)
            return dir + "/sub/" + name
        }
        return path
    }

    /// A profile named by path that nobody owns, that is group-writable, a symlink, a FIFO, or
    /// in a directory another user owns or can write: refused before anything runs, within the
    /// harness's timeout (a FIFO does not hang the launcher). Before the fix each was read.
    @Test(arguments: Planted.allCases)
    func untrustedProfileFileIsRefused(kind: Planted) throws {
        let dir = try scratch()
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let text = try String(contentsOfFile: Bulkhead.packageRoot + "/Profiles/container.yaml", encoding: .utf8)
        let path = try plant(kind, text: text, in: dir, name: "p.yaml")
        let marker = dir + "/ran"
        let r = try bulkhead(["run", "--profile", path, "--", "/bin/sh", "-c", "echo > /dev/null"], timeout: 20)
        #expect(r.status != 0, "the \(kind) profile was used")
        #expect(!FileManager.default.fileExists(atPath: marker))
        let says = ["owned by uid 65534", "writable by its group", "symbolic link", "a FIFO, not a regular file"]
        #expect(says.contains { r.stderr.contains($0) }, "the error does not say why: \(r.stderr)")
    }

    /// The same for a seccomp policy named with `--seccomp FILE`.
    @Test(arguments: [Planted.ownedByNobody, .symlink, .fifo, .inGroupWritableDirectory])
    func untrustedPolicyFileIsRefused(kind: Planted) throws {
        let dir = try scratch()
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let path = try plant(kind, text: #"{"defaultAction": "SCMP_ACT_ALLOW", "syscalls": []}"#, in: dir, name: "p.json")
        let r = try bulkhead(["run", "--seccomp", path, "--", "/bin/true"], timeout: 20)
        #expect(r.status != 0, "the \(kind) policy was used")
        #expect(r.stderr.contains("seccomp policy"), "\(r.stderr)")
    }

    /// /etc/shadow named as a profile or a seccomp policy: refused, and no line (no hash) of it
    /// in the error. Before the fix its first line came back in the message.
    @Test(arguments: [["run", "--profile", "/etc/shadow", "--", "/bin/true"],
                      ["run", "--seccomp", "/etc/shadow", "--", "/bin/true"],
                      ["profile", "show", "/etc/shadow"]])
    func shadowNamedAsAProfileIsNotEchoed(args: [String]) throws {
        try #require(!shadowLines().isEmpty, "this test needs a non-empty /etc/shadow")
        let r = try bulkhead(args)
        #expect(r.status != 0)
        #expect(r.stderr.contains("/etc/shadow"), "the error does not name the file: \(r.stderr)")
        expectNoShadow(r.stderr + r.stdout, "bulkhead \(args.joined(separator: " "))")
    }

    /// A root-only YAML file that parses but is not a profile: the error names the file, line
    /// and column, and shows none of its values (before the fix: `found "the-secret-value"`).
    @Test func privateYAMLErrorsShowNoValue() throws {
        let dir = try scratch()
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let secret = "s3cr3t-\(token())"
        // The unknown key (whose error quotes it) comes first: errors are reported by position.
        try write("apiVersion: bulkhead.dev/v1alpha1\nkind: LayerProfile\n\(secret)-key: 1\nhostname: [\(secret)]\n", dir + "/private.yaml", mode: 0o600)
        let r = try bulkhead(["run", "--profile", dir + "/private.yaml", "--", "/bin/true"])
        #expect(r.status != 0)
        #expect(!r.stderr.contains(secret), "\(r.stderr)")
        #expect(r.stderr.contains("private.yaml:") && r.stderr.contains("column"), "\(r.stderr)")
        // The same file readable by everyone keeps the full message: its author can see it anyway.
        chmod(dir + "/private.yaml", 0o644)
        let open = try bulkhead(["run", "--profile", dir + "/private.yaml", "--", "/bin/true"])
        #expect(open.status != 0 && open.stderr.contains(secret), "\(open.stderr)")
    }

    // MARK: item 4: manifests

    func podManifest(annotations: String = "", securityContext: String = "") -> String {
        """
        apiVersion: v1
        kind: Pod
        metadata:
          name: trust
        \(annotations.isEmpty ? "" : "  annotations:\n" + annotations)
        spec:
          restartPolicy: Never
          containers:
          - name: app
            image: busybox
            command: [/bin/true]
        \(securityContext)
        """
    }

    /// A Pod whose annotation names a file, or whose localhostProfile is absolute or climbs with
    /// `..`: refused while the manifest is read, naming the field, with nothing of the file
    /// (before the fix: accepted, the file read as root at launch).
    @Test(arguments: [
        ("    bulkhead.dev/profile: /etc/shadow\n", ""),
        ("    bulkhead.dev/profile: ../../etc/shadow.yaml\n", ""),
        ("    bulkhead.dev/profile.app: shadow.yaml\n", ""),
        ("", "    securityContext:\n      seccompProfile: {type: Localhost, localhostProfile: /etc/shadow}\n"),
        ("", "    securityContext:\n      seccompProfile: {type: Localhost, localhostProfile: ../../../../etc/shadow}\n"),
        ("", "    securityContext:\n      seccompProfile: {type: Localhost, localhostProfile: profiles/../../x.json}\n"),
    ])
    func manifestCannotNameAFile(annotation: String, securityContext: String) throws {
        let dir = try scratch()
        defer { try? FileManager.default.removeItem(atPath: dir) }
        try write(podManifest(annotations: annotation, securityContext: securityContext), dir + "/pod.yaml")
        let store = ProfileStore(searchPath: [Bulkhead.packageRoot + "/Profiles"])
        do {
            _ = try PodLoader.load(files: [dir + "/pod.yaml"], store: store)
            Issue.record("the manifest was accepted")
        } catch {
            let text = "\(error)"
            #expect(text.contains(annotation.isEmpty ? "localhostProfile" : "bulkhead.dev/profile"), "\(text)")
            expectNoShadow(text, "the manifest error")
        }
    }

    /// A manifest's relative localhostProfile resolves under the seccomp root (the profile
    /// path's `seccomp/` here), through the checks.
    @Test func manifestLocalhostProfileIsUnderTheSeccompRoot() throws {
        let store = ProfileStore(searchPath: [Bulkhead.packageRoot + "/Profiles"])
        let r = try store.readReferenced("container.json", relativeTo: ProfileLayer.seccompRootMarker)
        #expect(r.location == Bulkhead.packageRoot + "/Profiles/seccomp/container.json")
        #expect(throws: ConfigError.self) { try store.readReferenced("/etc/shadow", relativeTo: ProfileLayer.seccompRootMarker) }
        #expect(throws: ConfigError.self) { try store.readReferenced("../container.yaml", relativeTo: ProfileLayer.seccompRootMarker) }
    }

    /// A manifest file itself (`pod run -f`) nobody owns or that is a FIFO: refused, no hang.
    @Test(arguments: [Planted.ownedByNobody, .fifo, .symlink])
    func untrustedManifestIsRefused(kind: Planted) throws {
        let dir = try scratch()
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let path = try plant(kind, text: podManifest(), in: dir, name: "pod.yaml")
        let store = ProfileStore(searchPath: [Bulkhead.packageRoot + "/Profiles"])
        #expect(throws: LaunchError.self) { try PodLoader.load(files: [path], store: store) }
    }

    /// A Tenant whose secretsDirectory is /etc and a pod that mounts secret `ssh`: refused (before
    /// the fix /etc/ssh, host keys included, was copied into the pod). Another tenant's directory
    /// under the secrets root is refused the same way: a tenant's secrets are its own directory.
    @Test(arguments: ["/etc", "/var/lib/bulkhead/secrets/team-y", "/var/lib/bulkhead/secrets/team-x/../team-y"])
    func tenantSecretsOutsideTheSecretsRootAreRefused(_ secretsDirectory: String) throws {
        let dir = try scratch()
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let yaml = """
            apiVersion: bulkhead.dev/v1alpha1
            kind: Tenant
            metadata: {name: team-x}
            spec:
              hostIDRange: "2200000000:65536"
              allowedProfiles: [restricted, container]
              secretsDirectory: \(secretsDirectory)
            ---
            apiVersion: v1
            kind: Pod
            metadata: {name: s, namespace: team-x}
            spec:
              restartPolicy: Never
              containers:
              - name: app
                image: busybox
                command: [/bin/true]
                volumeMounts: [{name: keys, mountPath: /keys}]
              volumes:
              - name: keys
                secret: {secretName: ssh}

            """
        let files = try PodManifestFiles.write(yaml, into: dir)
        let store = ProfileStore(searchPath: [Bulkhead.packageRoot + "/Profiles"])
        do {
            let loaded = try PodLoader.load(files: files, store: store)
            Issue.record("loaded, secret source \(loaded.admission.secretSources)")
        } catch {
            #expect("\(error)".contains("secretsDirectory"), "\(error)")
        }
    }

    // MARK: item 9: output files

    /// `--report /tmp/x` (and `seccomp export -o /tmp/x`) where nobody planted /tmp/x as a symlink
    /// to a root-only file: refused, the target unchanged. Before the fix root followed the link and overwrote the file.
    @Test func reportDoesNotFollowAnotherUsersSymlink() throws {
        let dir = try scratch()
        defer { try? FileManager.default.removeItem(atPath: dir) }
        chmod(dir, 0o1777)
        let target = dir + "/root-only", link = dir + "/report.json"
        try write("root-only content\n", target, mode: 0o600)
        symlink(target, link)
        lchown(link, Self.nobody, Self.nobody)
        for args in [["run", "--report", link, "--", "/bin/true"], ["seccomp", "export", "--profile", "container", "-o", link]] {
            let r = try bulkhead(args)
            #expect(r.status != 0, "\(args[0]) followed nobody's link")
            #expect(r.stderr.contains("symbolic link owned by uid 65534"), "\(r.stderr)")
        }
        #expect(try String(contentsOfFile: target, encoding: .utf8) == "root-only content\n", "the link's target was overwritten")
    }

    /// An existing report file that belongs to another user, or a hard link to a root-only file:
    /// refused and unchanged (before the fix: truncated and overwritten).
    @Test(arguments: [false, true])
    func reportRefusesSomeoneElsesFile(hardLink: Bool) throws {
        let dir = try scratch()
        defer { try? FileManager.default.removeItem(atPath: dir) }
        chmod(dir, 0o1777)
        let file = dir + "/report.json"
        if hardLink {
            try write("root-only content\n", dir + "/root-only", mode: 0o600)
            link(dir + "/root-only", file)
        } else {
            try write("root-only content\n", file, mode: 0o666, owner: Self.nobody)
        }
        let r = try bulkhead(["run", "--report", file, "--", "/bin/true"])
        #expect(r.status != 0, "the report overwrote another user's file")
        // Refused for that reason, named: not a run that failed for another one.
        #expect(r.stderr.contains(hardLink ? "with 2 hard links: refused" : "owned by uid \(Self.nobody)"), "\(r.stderr)")
        #expect(try String(contentsOfFile: file, encoding: .utf8) == "root-only content\n")
    }

    /// What must keep working: /dev/null, /dev/stdout (a link to /proc/self/fd/1, handled as fd 1),
    /// a new file, the caller's own existing file (truncated in place).
    @Test func reportStillGoesToDevicesAndOwnFiles() throws {
        let dir = try scratch()
        defer { try? FileManager.default.removeItem(atPath: dir) }
        #expect(try bulkhead(["run", "--report", "/dev/null", "--", "/bin/true"]).status == 0)
        let out = try bulkhead(["run", "--report", "/dev/stdout", "--", "/bin/true"])
        #expect(out.status == 0 && out.stdout.contains("\"controls\""), "\(out.stderr)")
        let file = dir + "/mine.json"
        #expect(try bulkhead(["run", "--report", file, "--", "/bin/true"]).status == 0)
        #expect(try bulkhead(["run", "--report", file, "--", "/bin/true"]).status == 0)
        let text = try String(contentsOfFile: file, encoding: .utf8)
        #expect(text.hasPrefix("{"))
    }

    // MARK: rootfs directories

    /// A rootfs directory another user owns, or that its group can write: refused before
    /// anything runs (before the fix it was used: its owner could swap what root mounts there).
    @Test(arguments: [true, false])
    func untrustedRootfsIsRefused(ownedByNobody: Bool) throws {
        let dir = try scratch()
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let root = dir + "/rootfs"
        for d in ["", "/bin", "/proc", "/dev", "/sys", "/tmp", "/etc"] { mkdir(root + d, 0o755) }
        for tool in ["/bin/sh", "/bin/true"] where FileManager.default.fileExists(atPath: "/bin/busybox") {
            try? FileManager.default.copyItem(atPath: "/bin/busybox", toPath: root + tool)
        }
        if ownedByNobody { chown(root, Self.nobody, Self.nobody) } else { chmod(root, 0o775) }
        let r = try bulkhead(["run", "--rootfs", root, "--env", "PATH=/bin", "--", "/bin/true"])
        #expect(r.status != 0, "the rootfs was used")
        #expect(r.stderr.contains("rootfs") && (r.stderr.contains("owned by uid 65534") || r.stderr.contains("writable by its group")), "\(r.stderr)")
    }

    // MARK: the secret copy

    enum SecretAttack: String, CaseIterable, Sendable {
        case directoryOwnedByNobody, fileOwnedByNobody, symlinkToShadow, fifo, tooLarge
    }

    /// A tenant's secret directory or a file in it that another user controls, a symlink to a
    /// root-only file, a FIFO, an oversized file: refused (no hang), nothing copied, nothing of the
    /// file in the error. Before the fix a symlink or FIFO was skipped silently and a directory or
    /// file owned by nobody was copied.
    @Test(arguments: SecretAttack.allCases)
    func secretCopyRefusesUntrustedFiles(attack: SecretAttack) throws {
        let dir = try scratch()
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let secrets = dir + "/secret", volume = dir + "/volume"
        mkdir(secrets, 0o700); mkdir(volume, 0o700)
        try #require(mount("bh-trust-test", volume, "tmpfs", 0, "size=4m,mode=0700") == 0)
        defer { umount2(volume, Int32(MNT_DETACH)) }
        try write("good-\(token())", secrets + "/a-good", mode: 0o600)
        switch attack {
        case .directoryOwnedByNobody: chown(secrets, Self.nobody, Self.nobody)
        case .fileOwnedByNobody: try write("x", secrets + "/b", mode: 0o600, owner: Self.nobody)
        case .symlinkToShadow: symlink("/etc/shadow", secrets + "/b"); lchown(secrets + "/b", Self.nobody, Self.nobody)
        case .fifo: mkfifo(secrets + "/b", 0o600)
        case .tooLarge: try write(String(repeating: "x", count: (1 << 20) + 1), secrets + "/b", mode: 0o600)
        }
        do {
            try PodState.copySecret(from: secrets, to: volume, owner: 0, volume: "s")
            Issue.record("the secret directory was copied")
        } catch {
            expectNoShadow("\(error)", "the secret copy's error")
        }
        #expect(!FileManager.default.fileExists(atPath: volume + "/b"), "the untrusted entry was copied")
    }

    /// A good secret is copied byte for byte (binary too), mode 0400, and the volume made read-only.
    @Test func secretCopyCopiesBytes() throws {
        let dir = try scratch()
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let secrets = dir + "/secret", volume = dir + "/volume"
        mkdir(secrets, 0o700); mkdir(volume, 0o700)
        try #require(mount("bh-trust-test", volume, "tmpfs", 0, "size=4m,mode=0700") == 0)
        defer { umount2(volume, Int32(MNT_DETACH)) }
        let bytes: [UInt8] = [0, 0xff, 0xfe, 0x80, 10, 65]
        #expect(FileManager.default.createFile(atPath: secrets + "/bin", contents: Data(bytes), attributes: [.posixPermissions: 0o600]))
        try PodState.copySecret(from: secrets, to: volume, owner: 0, volume: "s")
        #expect(FileManager.default.contents(atPath: volume + "/bin").map { [UInt8]($0) } == bytes)
        var st = stat()
        #expect(stat(volume + "/bin", &st) == 0 && st.st_mode & 0o777 == 0o400)
    }

    // MARK: TrustedFile itself

    /// The walk refuses a directory on the path that another user owns, even when the file in
    /// it is root's; a sticky directory (/tmp) is passed when the entry is trusted.
    @Test func walkChecksEveryDirectory() throws {
        let dir = try scratch()
        defer { try? FileManager.default.removeItem(atPath: dir) }
        mkdir(dir + "/a", 0o755); mkdir(dir + "/a/b", 0o755)
        try write("x: 1\n", dir + "/a/b/f.yaml")
        #expect(try TrustedFile.read(dir + "/a/b/f.yaml", what: "test").text == "x: 1\n")
        chown(dir + "/a", Self.nobody, Self.nobody)
        #expect(throws: SystemError.self) { try TrustedFile.read(dir + "/a/b/f.yaml", what: "test") }
        chown(dir + "/a", 0, 0)
        // A link on the way that nobody owns is not followed; root's own is.
        symlink(dir + "/a", dir + "/via")
        #expect(try TrustedFile.read(dir + "/via/b/f.yaml", what: "test").path == dir + "/a/b/f.yaml")
        lchown(dir + "/via", Self.nobody, Self.nobody)
        #expect(throws: SystemError.self) { try TrustedFile.read(dir + "/via/b/f.yaml", what: "test") }
        // Not a regular file: a device is not even opened for reading, a FIFO does not block.
        #expect(throws: SystemError.self) { try TrustedFile.read("/dev/zero", what: "test") }
        mkfifo(dir + "/a/b/fifo", 0o644)
        #expect(throws: SystemError.self) { try TrustedFile.read(dir + "/a/b/fifo", what: "test") }
        // The size cap.
        #expect(throws: SystemError.self) { try TrustedFile.read(dir + "/a/b/f.yaml", what: "test", limit: 2) }
    }
}
