import BulkheadModel
import BulkheadSystem

/// A request the pool accepted, on its way to one waiting init (`Supervisor.handOver`).
package struct PoolHandoff {
    /// What the init receives: the client's argv, the environment after the profile's policy,
    /// the candidate paths of argv[0], the working directory.
    package var request: PoolRequest
    package var timeoutSeconds: Double?
    /// When the pool received the request (CLOCK_MONOTONIC): the report's times start here.
    package var receivedAt: Double
    /// When the request was sent to the init (CLOCK_MONOTONIC): the hand-over phase's end.
    package var sentAt: Double?
    /// The client's connection (the pool's; the supervisor polls it while the workload runs for
    /// the signals the client forwards and for its hang-up, and does not close it).
    package var connection: Int32?
    package var report: PoolRunReport

    package init(request: PoolRequest, timeoutSeconds: Double?, receivedAt: Double, report: PoolRunReport) {
        self.request = request; self.timeoutSeconds = timeoutSeconds; self.receivedAt = receivedAt; self.report = report
    }
}

/// The warm pool's side of one prepared sandbox (`PoolSlot`, module Bulkhead): the supervisor
/// hands its waiting init over and sends the client its exit status early. An interface here
/// because the pool itself (threads, conditions: Foundation) is not part of the launch.
package protocol PoolHandOver: AnyObject, Sendable {
    /// Called on the supervisor's thread when the init waits for its request: blocks until the
    /// pool assigns a client's request (sent to the init), nil when none comes (the pool stops).
    func handOver(_ child: SandboxInit) -> PoolHandoff?
    /// Once the workload was reaped: the exit status and the message, to the client.
    func sendStatus(_ report: RunReport)
}

/// OCI `create`'s result (`Supervisor.create`): the init left running and its cgroup.
package struct OCICreated: Sendable {
    package var pid: Int32
    package var cgroupDirectories: [String]
}
