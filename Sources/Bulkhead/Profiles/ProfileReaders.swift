import BulkheadConfig
import BulkheadModel
import BulkheadSystem

extension ProfileLayerCache {
    /// The layer `ProfileParser` gives for `text` read from `file`: from the cache when a good
    /// entry is there, else parsed (and stored). Errors are the parser's.
    public func parse(_ text: String, file: String) throws(ConfigError) -> ProfileLayer {
        try parse(text, file: file, parser: ProfileParser.parse)
    }
}
