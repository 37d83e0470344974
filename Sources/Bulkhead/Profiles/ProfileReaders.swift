import BulkheadConfig
import BulkheadLaunch
import BulkheadModel
import BulkheadSystem

extension ProfileLayerCache {
    /// The layer `ProfileParser` gives for `text` read from `file`: from the cache when a good
    /// entry is there, else parsed (and stored). Errors are the parser's.
    public func parse(_ text: String, file: String) throws(ConfigError) -> ProfileLayer {
        try parse(text, file: file, parser: ProfileParser.parse)
    }
}

extension ConfigReaders {
    /// The readers of this library (BulkheadConfig): profiles with `ProfileParser`, seccomp
    /// policies with `SeccompPolicyParser`. What every store of the full command line uses.
    public static let yaml = ConfigReaders(
        profile: { (text, file) throws(ConfigError) in try ProfileParser.parse(text, file: file) },
        seccompPolicy: { (text, file, context) throws(ConfigError) in try SeccompPolicyParser.load(text: text, file: file, context: context) })
}

extension ProfileStore {
    /// A store with this library's readers (`ConfigReaders.yaml`).
    public init(searchPath: [String], caching: Bool = true) {
        self.init(searchPath: searchPath, caching: caching, readers: .yaml)
    }

    /// The default search path (`standard(caching:readers:)`) with this library's readers.
    public static func standard(caching: Bool = true) -> ProfileStore {
        standard(caching: caching, readers: .yaml)
    }
}
