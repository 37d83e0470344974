import BulkheadModel
import Synchronization

/// The readers of configuration text the launch calls when a cache has no entry: a profile's
/// YAML (`ProfileParser.parse`) and a seccomp policy's JSON (`SeccompPolicyParser.load`), both
/// in BulkheadConfig (Yams, Foundation). This layer links neither (LaunchImportTests), so they
/// reach it as a value: the full command line (`bulkhead-cli`, and every other user of the
/// `Bulkhead` library) supplies `ConfigReaders.yaml`; the launch executable (`bulkhead`)
/// supplies readers that record the miss and refuse (`CacheMiss`), and then execs the full
/// command line, which parses, fills the caches and launches (LaunchExec).
public struct ConfigReaders: Sendable {
    /// A profile's text and where it was read from → its layer (errors are the parser's).
    public var profile: @Sendable (_ text: String, _ file: String) throws(ConfigError) -> ProfileLayer
    /// A seccomp policy's text, where it was read from and the context its conditions resolve
    /// in → the policy and what was changed to load it as runc does.
    public var seccompPolicy: @Sendable (_ text: String, _ file: String, _ context: SeccompContext) throws(ConfigError) -> SeccompLoad

    public init(profile: @escaping @Sendable (_ text: String, _ file: String) throws(ConfigError) -> ProfileLayer,
                seccompPolicy: @escaping @Sendable (_ text: String, _ file: String, _ context: SeccompContext) throws(ConfigError) -> SeccompLoad) {
        self.profile = profile
        self.seccompPolicy = seccompPolicy
    }

    /// Readers that parse nothing: each call records itself in `miss` and refuses with a
    /// `ConfigError` (which the launch executable never shows: it execs the full command line
    /// when `miss` is set, before anything was written or started).
    public static func cacheOnly(recordingMissesIn miss: CacheMiss) -> ConfigReaders {
        ConfigReaders(
            profile: { (_, file) throws(ConfigError) in
                miss.record()
                throw ConfigError(file: file, field: "", message: CacheMiss.message)
            },
            seccompPolicy: { (_, file, _) throws(ConfigError) in
                miss.record()
                throw ConfigError(file: file, field: "", message: CacheMiss.message)
            })
    }
}

/// Whether a reader of `ConfigReaders.cacheOnly` was called: a launch needed a parse its caches
/// could not spare it (a profile or policy seen for the first time, a changed file, caches off).
public final class CacheMiss: Sendable {
    private let flag = Atomic<Bool>(false)
    public init() {}
    func record() { flag.store(true, ordering: .relaxed) }
    public var happened: Bool { flag.load(ordering: .relaxed) }
    static let message = "not in the cache, and this binary has no reader of it (the launch executable: bulkhead-cli parses it)"
}
