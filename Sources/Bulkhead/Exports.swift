// The launch (Sandbox, ProfileStore, RunRequest, ...) lives in BulkheadLaunch, the layer the
// launch executable links without Foundation or Yams; users of this library see it as before.
@_exported import BulkheadLaunch
