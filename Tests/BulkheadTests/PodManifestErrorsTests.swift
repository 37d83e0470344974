import Bulkhead
import BulkheadModel
import Foundation
import Glibc
import Testing

/// What a new user sees when a Pod manifest or a file it names is wrong (issue 15): every error
/// of the manifest at once, in file order, each with file, line and field, on stderr and in the
/// `--report`; and a file that cannot be opened (a profile, a `localhostProfile`) with its errno
/// as a field of the report. Everything here fails before the launcher touches the system.
/// Run under the pod lock, as every `pod run` test is.
@Suite(.serialized) struct PodManifestErrorsTests {
    /// `bulkhead pod run` on `yaml` with `--report`, decoded as the typed `PodReport`.
    static func runPod(_ yaml: String) throws -> (status: Int32, report: PodReport?, stderr: String, file: String) {
        let dir = NSTemporaryDirectory() + "bh-poderr-\(token())"
        try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let files = try PodManifestFiles.write(yaml, into: dir)
        let r = try Bulkhead.run(["pod", "run"] + files + ["--report", dir + "/report.json"])
        return (r.status, try ReportFile.decode(PodReport.self, at: dir + "/report.json"), r.stderr, files[0])
    }

    /// Tests/Fixtures/pod-three-errors.yaml: errors on lines 7, 9 and 12, which the parser
    /// finds in the order 9, 12, 7 (ManifestErrorListTests reads the same file): all three are
    /// listed, in file order, with their lines and fields, on stderr and in the report. (Before:
    /// one error, and no report.)
    @Test func everyErrorOfThePodIsListedInFileOrder() throws {
        let fixture = Bulkhead.packageRoot + "/Tests/Fixtures/pod-three-errors.yaml"
        let r = try Self.runPod(try String(contentsOfFile: fixture, encoding: .utf8))
        #expect(r.status == ExitStatus.launchFailed, "\(r.stderr)")
        let report = try #require(r.report, "no report for a manifest that does not parse: \(r.stderr)")
        #expect(report.phase == "Failed" && report.exitCode == ExitStatus.launchFailed && report.containers.isEmpty)
        let e = try #require(report.error)
        let all = try #require(e.errors, "the report lists one error: \(e)")
        #expect(all.map(\.line) == [7, 9, 12], "\(all)")
        #expect(all.map(\.field) == ["metadata.annotations.bulkhead.dev/profil", "spec.hostNetwork", "spec.containers[0].stdin"], "\(all)")
        #expect(all.allSatisfy { $0.file == r.file }, "\(all)")
        #expect(e.line == 7 && e.field == all[0].field && e.errorsNotListed == nil, "\(e)")
        // stderr: the count, then one error a line, in the same order.
        let lines = r.stderr.split(separator: "\n").map(String.init)
        let listed = lines.filter { $0.hasPrefix("  \(r.file):") }
        #expect(lines.first == "bulkhead: cannot start the pod: 3 errors:" || lines.first?.hasSuffix("cannot start the pod: 3 errors:") == true, "\(r.stderr)")
        #expect(listed.count == 3 && listed[0].contains(":7: metadata.annotations") && listed[1].contains(":9: spec.hostNetwork")
                && listed[2].contains(":12: spec.containers[0].stdin"), "\(r.stderr)")
    }

    /// 60 errors: 50 listed, then "and 10 more", on stderr and in the report.
    @Test func aHostileManifestCannotFlood() throws {
        var yaml = "apiVersion: v1\nkind: Pod\nmetadata: {name: flood}\nspec:\n  restartPolicy: Never\n  containers:\n"
        yaml += "  - name: app\n    image: busybox\n    command: [/bin/true]\n    env:\n"
        for i in 0..<60 { yaml += "    - {name: \"\(i)bad\", value: x}\n" }
        let r = try Self.runPod(yaml)
        #expect(r.status == ExitStatus.launchFailed, "\(r.stderr)")
        let e = try #require(r.report?.error, "no report: \(r.stderr)")
        #expect(e.errors?.count == ConfigError.listLimit && e.errorsNotListed == 10, "\(e.errors?.count ?? 0) \(String(describing: e.errorsNotListed))")
        #expect(r.stderr.contains("cannot start the pod: 60 errors:") && r.stderr.contains("  and 10 more"), "\(r.stderr.prefix(300))")
        #expect(r.stderr.split(separator: "\n").count <= ConfigError.listLimit + 3, "\(r.stderr.split(separator: "\n").count) lines")
    }

    /// A pod whose profile does not exist: the report's error has errno ENOENT, the manifest's
    /// file and the container's field.
    @Test func aPodsMissingProfileReportsENOENT() throws {
        let missing = "nosuch-\(token())"
        let r = try Self.runPod(PodTests.pod(name: "noprofile", containers: [("app", "true")],
                                             annotations: "    bulkhead.dev/profile: \(missing)\n"))
        #expect(r.status == ExitStatus.launchFailed, "\(r.stderr)")
        let e = try #require(r.report?.error, "no report: \(r.stderr)")
        #expect(e.errno == "ENOENT", "\(e)")
        #expect(e.file == r.file && e.field == "spec.containers[0]" && e.message.contains(missing), "\(e)")
    }

    /// `run --profile FILE` with no such file: errno ENOENT and the file in the report.
    @Test func aMissingProfileFileReportsENOENT() throws {
        let path = "/nonexistent-\(token())/p.yaml"
        let r = try Bulkhead.run(["run", "--profile", path, "--", "/bin/true"], report: true)
        #expect(r.status == ExitStatus.launchFailed, "\(r.stderr)")
        let e = try #require(r.report?.error, "no report: \(r.stderr)")
        #expect(e.errno == "ENOENT" && e.file == path && e.field == nil, "\(e)")
    }

    /// A profile's `localhostProfile` that does not exist: errno ENOENT as a field, with the
    /// profile's file and the field (not only in the message).
    @Test func aMissingLocalhostProfileReportsENOENT() throws {
        let written = try RootProfileFile.write("securityContext:\n  seccompProfile:\n    type: Localhost\n    localhostProfile: missing-\(token()).json\n",
                                                name: "nolocal")
        chmod(written.dir, 0o755)
        defer { try? FileManager.default.removeItem(atPath: written.dir) }
        let r = try Bulkhead.run(["run", "--profile", written.path, "--", "/bin/true"], report: true)
        #expect(r.status == ExitStatus.launchFailed, "\(r.stderr)")
        let e = try #require(r.report?.error, "no report: \(r.stderr)")
        #expect(e.errno == "ENOENT", "\(e)")
        #expect(e.file == written.path && e.field == "securityContext.seccompProfile.localhostProfile", "\(e)")
    }

    /// `--env-file` of a missing file: ENOENT; a profile path whose last component is a link
    /// another user planted: ELOOP (the checked open does not follow it). Each with the file.
    @Test(.enabled(if: Gate.root, Gate.rootReason)) func envFileAndLinkedProfileReportTheirErrno() throws {
        let missing = "/nonexistent-\(token())/env"
        let env = try Bulkhead.run(["run", "--env-file", missing, "--", "/bin/true"], report: true)
        #expect(env.status == ExitStatus.launchFailed, "\(env.stderr)")
        let ee = try #require(env.report?.error, "no report: \(env.stderr)")
        #expect(ee.errno == "ENOENT" && ee.file == missing, "\(ee)")

        let written = try RootProfileFile.write("", name: "linked")
        chmod(written.dir, 0o755)
        defer { try? FileManager.default.removeItem(atPath: written.dir) }
        let link = written.dir + "/link.yaml"
        #expect(symlink(written.path, link) == 0)
        #expect(lchown(link, 12345, 12345) == 0)
        let r = try Bulkhead.run(["run", "--profile", link, "--", "/bin/true"], report: true)
        #expect(r.status == ExitStatus.launchFailed, "\(r.stderr)")
        let e = try #require(r.report?.error, "no report: \(r.stderr)")
        #expect(e.errno == "ELOOP" && e.file == link, "\(e)")
    }

    /// A default-namespace pod whose container would hold a supplementary group (or run as a
    /// uid) outside the 65536 ids its user namespace maps is refused at admission, by the rule
    /// tenants' pods are admitted by, naming the container, the field and the range; nothing is
    /// started. (Before: the container started and the kernel refused its setgroups step, EINVAL.)
    @Test(.enabled(if: Gate.root, Gate.rootReason)) func defaultNamespaceGroupOutsideTheRangeIsRefusedAtAdmission() throws {
        for (sc, expected) in [
            ("supplementalGroups: [10, 70000]", "container app: supplementary group 70000 (securityContext.supplementalGroups) is outside the 65536 ids namespace default maps (host 2000065536:65536)"),
            ("runAsUser: 65536", "container app: runs as uid 65536 gid 0 (securityContext.runAsUser, runAsGroup), outside the 65536 ids namespace default maps (host 2000065536:65536)"),
        ] {
            let name = "grp-\(token().prefix(8).lowercased())"
            let yaml = PodTests.pod(name: name, containers: [("app", "id")]) + "  securityContext: {\(sc)}\n"
            let r = try Self.runPod(yaml)
            #expect(r.status == ExitStatus.launchFailed, "\(r.stderr)")
            #expect(r.stderr.contains("admission to namespace default refused: \(expected)"), "\(r.stderr)")
            let report = try #require(r.report, "no report: \(r.stderr)")
            #expect(report.phase == "Failed" && report.containers.isEmpty, "a container started: \(report.containers.map(\.report.error))")
            #expect(report.error?.message.contains(expected) == true, "\(String(describing: report.error))")
        }
    }
}
