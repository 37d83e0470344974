import Bulkhead
import BulkheadModel
import Foundation
import Glibc
import Testing

/// Red team of issue 15's merged changes (errors15, sandbox15, 6a1b5e2) through the binary: a
/// manifest author or whoever passes flags against `pod run`'s collected errors and its
/// report for a pod refused before launch, and `policy apply` of aliased documents.
/// Runs `pod run` and `policy apply`: under the pod lock only.
@Suite(.serialized) struct RedTeamMergedTests {
    let t = TrustFileTests()

    /// A root-only Pod manifest (in a directory only root enters) with errors whose field paths
    /// hold the author's keys: `pod run` lists every error, on stderr and in the report, and
    /// none of them shows a key of the file (before the fix: `metadata.labels.SECRET…`,
    /// `metadata.annotations.bulkhead.dev/SECRET…`, `spec.containers[0].SECRET…`,
    /// `…resources.limits.SECRET…`).
    @Test func rootOnlyManifestErrorsShowNoKeyOfIt() throws {
        let dir = try t.scratch()
        defer { try? FileManager.default.removeItem(atPath: dir) }
        chmod(dir, 0o700)
        let pod = dir + "/pod.yaml"
        let fixture = try String(contentsOfFile: Bulkhead.packageRoot + "/Tests/Fixtures/pod-private-keys.yaml", encoding: .utf8)
        try t.write(fixture, pod, mode: 0o600)
        let report = dir + "/report.json"
        let r = try t.bulkhead(["pod", "run", pod, "--report", report])
        #expect(r.status == ExitStatus.launchFailed, "\(r.stderr)")
        #expect(r.stderr.contains("5 errors:") && r.stderr.contains("not readable by everyone"), "\(r.stderr)")
        let json = (try? String(contentsOfFile: report, encoding: .utf8)) ?? ""
        for text in [r.stdout, r.stderr, json] {
            #expect(!text.uppercased().contains("REDTEAMSECRET"), "\(text)")
        }
        let e = try #require(try ReportFile.decode(PodReport.self, at: report)?.error)
        #expect(e.errors?.count == 5 && e.errors?.allSatisfy { $0.line != nil && $0.file == pod } == true, "\(e)")
        #expect(e.errors?.map(\.field) == ["metadata.labels", "metadata.annotations", "metadata.annotations", "spec.containers[0]", "spec.containers[0].resources.limits"], "\(e)")
    }

    /// `pod run --report` for a pod refused before launch (the new report) into a link another
    /// user planted in a sticky directory: not followed, the link's target unchanged, and the
    /// refusal still says why the pod was refused.
    @Test func refusedPodsReportDoesNotFollowAPlantedLink() throws {
        let dir = try t.scratch()
        defer { try? FileManager.default.removeItem(atPath: dir) }
        chmod(dir, 0o1777)
        let target = dir + "/root-only", link = dir + "/report.json", pod = dir + "/pod.yaml"
        try t.write("root-only content\n", target, mode: 0o600)
        symlink(target, link)
        lchown(link, TrustFileTests.nobody, TrustFileTests.nobody)
        try t.write("apiVersion: v1\nkind: Pod\nmetadata: {name: x}\nspec:\n  hostNetwork: true\n  containers: [{name: a, image: b, command: [/bin/true], stdinn: 1}]\n", pod)
        let r = try t.bulkhead(["pod", "run", pod, "--report", link])
        #expect(r.status == ExitStatus.launchFailed, "\(r.stderr)")
        #expect(r.stderr.contains("2 errors:") && r.stderr.contains("symbolic link owned by uid 65534"), "\(r.stderr)")
        #expect(try String(contentsOfFile: target, encoding: .utf8) == "root-only content\n", "the link's target was overwritten")
    }

    /// `policy apply` of a 2 KB NetworkPolicy whose aliases expand to 10^6 selector values: it
    /// read its file through `ManifestSet`, which never applied the alias limit, and stored the
    /// policy written out (every pod's attach parses it again under the node lock). Refused,
    /// nothing stored.
    @Test func policyApplyOfAliasedDocumentsIsRefused() throws {
        let dir = try t.scratch()
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let file = dir + "/bomb.yaml"
        defer { _ = try? t.bulkhead(["policy", "delete", "-n", "a", "redteam15b"]) }
        try t.write(RedTeamMergedBomb.policy, file)
        let r = try t.bulkhead(["policy", "apply", file])
        #expect(r.status != 0 && r.stderr.contains("anchors and aliases"), "\(r.status) \(r.stderr.prefix(400))")
        let ls = try t.bulkhead(["policy", "ls"])
        #expect(!ls.stdout.contains("redteam15b"), "\(ls.stdout)")
    }

    /// The report's `errno` (issue 15) against whoever names a path in a directory only root
    /// enters: a missing file is ENOENT, a present one root reads (private: no byte shown). The
    /// field says what the message already said, no more (docs/security.md lists the existence
    /// of a path as what naming it tells; the errno field adds nothing to it).
    @Test func errnoFieldSaysNoMoreThanTheMessage() throws {
        let dir = try t.scratch()
        defer { try? FileManager.default.removeItem(atPath: dir) }
        chmod(dir, 0o700)
        try t.write("REDTEAMSECRET: 1\n", dir + "/present.yaml", mode: 0o600)
        for (name, flag) in [("missing.yaml", "--profile"), ("missing.env", "--env-file"), ("present.yaml", "--profile")] {
            let r = try Bulkhead.run(["run", flag, dir + "/" + name, "--", "/bin/true"], report: true)
            #expect(r.status == ExitStatus.launchFailed, "\(r.stderr)")
            #expect(!(r.stdout + r.stderr).contains("REDTEAMSECRET"), "\(r.stderr)")
            let e = try #require(r.report?.error, "no report: \(r.stderr)")
            if name.hasPrefix("missing") {
                #expect(e.errno == "ENOENT" && e.message.contains("No such file") , "\(e)")
            } else {
                #expect(e.errno == nil && e.message.contains("not readable by everyone"), "\(e)")
            }
        }
    }
}

/// The same three levels of 100 aliases as `RedTeamNumberTests.aliasesDoNotAmplify`.
enum RedTeamMergedBomb {
    static let policy: String = {
        let values = "[&v x" + String(repeating: ", *v", count: 99) + "]"
        let peers = "[&f {podSelector: {matchExpressions: [{key: k, operator: In, values: \(values)}]}}" + String(repeating: ", *f", count: 99) + "]"
        return "apiVersion: networking.k8s.io/v1\nkind: NetworkPolicy\nmetadata: {name: redteam15b, namespace: a}\nspec:\n  podSelector: {}\n  policyTypes: [Ingress]\n  ingress:\n    - &r {from: \(peers)}\n"
            + String(repeating: "    - *r\n", count: 99)
    }()
}
