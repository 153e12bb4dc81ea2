import Foundation

/// The containers that test daemons started, found by the `berth.worker`
/// label that berth puts on every container.
///
/// Each sandbox gives its workers unique ids, so these calls never touch the
/// containers of other tests or of other berth installations on the machine.
public enum WorkerContainers {
    /// Returns the ids of the containers of worker `workerID`, running or not.
    public static func ids(ofWorker workerID: String, environment: [String: String]) async throws -> [String] {
        guard let podman = TestHost.podman else { throw TestFailure("podman is not installed") }
        let listed = try await SpawnedProcess.run(
            podman, ["ps", "-aq", "--filter", "label=berth.worker=\(workerID)"], environment: environment)
        guard listed.status == 0 else { throw TestFailure("podman ps failed: \(listed)") }
        return listed.nonEmptyLines
    }

    /// Removes the containers of the workers in `workerIDs`, ignoring failures, because it runs at clean-up.
    public static func remove(ofWorkers workerIDs: some Sequence<String>, environment: [String: String]) async {
        guard let podman = TestHost.podman else { return }
        for workerID in workerIDs {
            let ids = (try? await ids(ofWorker: workerID, environment: environment)) ?? []
            if !ids.isEmpty {
                _ = try? await SpawnedProcess.run(podman, ["rm", "-f", "-t", "0"] + ids, environment: environment)
            }
        }
    }

    /// Does what `remove(ofWorkers:environment:)` does on the calling thread, for `deinit`.
    public static func removeBlocking(ofWorkers workerIDs: some Sequence<String>, environment: [String: String]) {
        guard let podman = TestHost.podman else { return }
        for workerID in workerIDs {
            let listed = try? SpawnedProcess.runBlocking(
                podman, ["ps", "-aq", "--filter", "label=berth.worker=\(workerID)"], environment: environment)
            let ids = listed?.nonEmptyLines ?? []
            if !ids.isEmpty {
                _ = try? SpawnedProcess.runBlocking(podman, ["rm", "-f", "-t", "0"] + ids, environment: environment)
            }
        }
    }
}
