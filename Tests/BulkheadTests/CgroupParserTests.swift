import Testing
@testable import BulkheadSystem
