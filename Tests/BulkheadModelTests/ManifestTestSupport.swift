import Testing
@testable import BulkheadConfig
@testable import BulkheadModel

/// Expects `body` to throw a ConfigError with this field path whose message contains `text`.
func expectConfigError<T>(field: String, contains text: String, file: String = "pod.yaml",
                          sourceLocation: SourceLocation = #_sourceLocation, _ body: () throws(ConfigError) -> T) {
    do {
        _ = try body()
        Issue.record("expected an error at \(field) containing \"\(text)\"", sourceLocation: sourceLocation)
    } catch {
        #expect(error.file == file, "\(error)", sourceLocation: sourceLocation)
        #expect(error.field == field, "\(error)", sourceLocation: sourceLocation)
        #expect(error.message.contains(text), "\(error)", sourceLocation: sourceLocation)
    }
}

/// The embedded profiles, by name, base first (what the CLI's profile store does with files).
func embeddedLayers(_ name: String) throws(ConfigError) -> [ProfileLayer] {
    var layers: [ProfileLayer] = []
    var next: String? = name
    while let n = next {
        guard let e = EmbeddedProfiles.files.first(where: { $0.path == "\(n).yaml" }) else {
            throw ConfigError(file: "<profiles>", field: "", message: "no profile named \(n)")
        }
        let l = try ProfileParser.parse(e.text, file: "<embedded:\(n)>")
        layers.insert(l, at: 0)
        next = l.extends
    }
    return layers
}

/// A minimal valid pod, with extra YAML spliced in at the spec level and container level.
func podYAML(meta: String = "", spec: String = "", container: String = "", annotations: String = "") -> String {
    var y = "apiVersion: v1\nkind: Pod\nmetadata:\n  name: web\n"
    if !annotations.isEmpty { y += "  annotations:\n" + annotations }
    y += meta
    y += "spec:\n  restartPolicy: Never\n  containers:\n  - name: app\n    image: busybox\n    command: [/bin/sh]\n"
    y += container
    y += spec
    return y
}
