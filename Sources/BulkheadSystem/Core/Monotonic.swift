import Glibc

/// CLOCK_MONOTONIC in seconds: phase timings of the sandbox and pods (Bulkhead) and the
/// bench's measured phases (BulkheadBench). `package`: a clock for this package's own layers,
/// not part of the library's public API.
package enum Monotonic {
    package static func now() -> Double {
        var ts = timespec()
        clock_gettime(CLOCK_MONOTONIC, &ts)
        return Double(ts.tv_sec) + Double(ts.tv_nsec) / 1e9
    }
}
