import BulkheadModel

package enum ReportJSON {
    /// Stable, readable JSON (sorted keys) for reports, written without Foundation by
    /// `JSONText` (the bytes JSONEncoder wrote with `[.prettyPrinted, .sortedKeys,
    /// .withoutEscapingSlashes]`; JSONTextTests compares them).
    package static func encode<T: Encodable>(_ value: T) -> String {
        (try? JSONText.encode(value)) ?? "{}"
    }
}
