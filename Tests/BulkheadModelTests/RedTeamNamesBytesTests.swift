import Testing
@testable import BulkheadConfig
@testable import BulkheadModel

/// Red team of `names-bytes`: what `ExactName` left on Character semantics. A Swift Character is
/// a grapheme cluster: a Prepend scalar (U+0600 ARABIC NUMBER SIGN, U+0D4E MALAYALAM LETTER DOT
/// REPH) joins the scalar after it into one Character. So in `"x\u{600}/.."` the `/` is not a
/// Character `/` (`split(separator: "/")`, `contains("/")` miss it) though the kernel splits
/// there; and `"\u{D4E};"` is one Character whose first scalar is a letter, so `isLetter` holds
/// for a cluster that carries `;`. Each case below was accepted on `names-bytes`.
@Suite struct RedTeamNamesBytesTests {
    static let prepend = "\u{600}"  // ARABIC NUMBER SIGN: Grapheme_Cluster_Break=Prepend
    static let reph = "\u{D4E}"  // MALAYALAM LETTER DOT REPH: Prepend and Alphabetic

    /// What Swift does, and why the checks below were blind (this is the premise, not the bug).
    @Test func thePremise() {
        let p = "/x\(Self.prepend)/../etc"
        #expect(!p.split(separator: "/").contains(".."))
        #expect(p.utf8.split(separator: UInt8(ascii: "/")).map { String(decoding: $0, as: UTF8.self) } == ["x\(Self.prepend)", "..", "etc"])
        #expect(Character("\(Self.reph);").isLetter)
    }

    /// The "no `..`" rule of every path a profile or flag gives (binds, tmpfs, root, landlock,
    /// workdir): the kernel walks `x\u{600}` then `..`.
    @Test func absolutePathHidesNoDotDot() {
        for text in ["/x\(Self.prepend)/../etc", "/srv/a\(Self.prepend)/..", "/x\(Self.prepend)/../proc/sys"] {
            guard case .failure = FieldRules.absolutePath(text) else {
                Issue.record("accepted \(Array(text.utf8))"); continue
            }
        }
        // normalize splits as the kernel does: "." made by a hidden slash is dropped too.
        #expect(FieldRules.normalize("/a\(Self.prepend)/./b") == "/a\(Self.prepend)/b")
        #expect((try? FieldRules.absolutePath("/srv//data/.").get()) == "/srv/data")
    }

    /// The same rule on an OCI config's mount destination and root path.
    @Test func ociPathsHideNoDotDot() {
        let dest = #""mounts": [{"destination": "/x\#(Self.prepend)/../proc", "type": "bind", "source": "/srv"}]"#
        #expect(throws: ConfigError.self) { _ = try OCIConfig.decode(OCIConfigTests.config(top: dest), bundle: "/b") }
        let src = #""mounts": [{"destination": "/x", "type": "bind", "source": "/srv/y\#(Self.prepend)/.."}]"#
        #expect(throws: ConfigError.self) { _ = try OCIConfig.decode(OCIConfigTests.config(top: src), bundle: "/b") }
        let root = #"{"ociVersion": "1.0.2", "root": {"path": "r\#(Self.prepend)/.."}, "process": {"args": ["x"], "cwd": "/"}, "linux": {"namespaces": [{"type": "mount"}]}}"#
        #expect(throws: ConfigError.self) { _ = try OCIConfig.decode(root, bundle: "/b") }
    }

    /// A mount point is never made under /proc, /sys or /dev, nor through `..`.
    @Test func mountPointThroughHiddenDotDot() {
        #expect(LaunchPlanner.mountPoint("/x\(Self.prepend)/../dev/evil", directory: true) == nil)
    }

    /// A profile's `hostname` and `--hostname` ("letters, digits, '-' and '.") reach
    /// sethostname(2): a reph-led cluster carried `;`, ` `, `/`, `$` past `isLetter`.
    @Test func hostnameIsASCII() {
        for text in ["a\(Self.reph);\(Self.reph) \(Self.reph)/\(Self.reph)$", "h\u{E9}te", "a\(Self.prepend)9"] {
            guard case .failure = FieldRules.hostname(text) else {
                Issue.record("accepted \(Array(text.utf8))"); continue
            }
        }
        guard case .success = FieldRules.hostname("box-1.example") else { Issue.record("refused a plain name"); return }
    }

    /// hugepageLimits' pageSize names a cgroup file (hugetlb.SIZE.max): "2\u{600}MB" passed the
    /// digits check (the prepend rode on the dropped "M").
    @Test func hugepageSizeIsASCII() {
        let linux = #""resources": {"hugepageLimits": [{"pageSize": "2\#(Self.prepend)MB", "limit": 4096}]}"#
        #expect(throws: ConfigError.self) { _ = try OCIConfig.decode(OCIConfigTests.config(linux: linux), bundle: "/b") }
        let ok = #""resources": {"hugepageLimits": [{"pageSize": "2MB", "limit": 4096}]}"#
        #expect(throws: Never.self) { _ = try OCIConfig.decode(OCIConfigTests.config(linux: ok), bundle: "/b") }
    }

    /// A manifest's seccomp `localhostProfile` is relative to the node's root, with no `..`.
    @Test func localhostProfileHiddenDotDot() {
        let pod = """
        apiVersion: v1
        kind: Pod
        metadata: {name: p}
        spec:
          containers:
          - name: c
            image: x
            command: [/bin/true]
            securityContext:
              seccompProfile: {type: Localhost, localhostProfile: "a\(Self.prepend)/../b.json"}
        """
        #expect(throws: ConfigError.self) { _ = try ManifestSet.parse(pod, file: "p.yaml") }
    }

    /// A Kubernetes object name (DNS-1123: ASCII `a-z0-9-.`) names the exported policy, its
    /// file on the node (`--name`, metadata.name) and a label key's prefix. `Character` ranges
    /// let any letter carry combining marks or a ZWJ: "web\u{200D}" looks like "web".
    @Test func kubernetesNameIsASCII() {
        for name in ["web\u{200D}", "b\u{301}", "x\u{E0041}y"] {
            #expect(KubernetesName.problem(name) != nil, "accepted \(Array(name.utf8))")
            #expect(ExactName.isASCII(KubernetesName.sanitized(name)), "\(Array(KubernetesName.sanitized(name).utf8))")
        }
        #expect(KubernetesName.problem("web-1.example") == nil)
        #expect(KubernetesName.sanitized("My_Web") == "my-web")
        #expect(KubernetesLabels.keyProblem("b\u{301}.io/x") != nil)
    }
}
