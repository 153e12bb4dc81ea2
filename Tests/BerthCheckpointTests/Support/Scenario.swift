import BerthTestSupport
import Foundation
import Testing

/// Whether the container tests can run here: podman, and root for rootful podman.
let containersAvailable = TestHost.podman != nil && getuid() == 0

/// The checkpoint test image, built from Tests/Fixtures/checkpoint-image on
/// top of berth's test image.
enum CheckpointImage {
    /// A tag of this target's own, so that the fault tests' rebuild of the same fixture never replaces it.
    static let name = "localhost/berth-checkpoint-test:latest"

    /// Returns the image's name once it is built, which happens once per test process.
    static func require() async throws -> String {
        try await TestImage.requireCheckpointImage(tag: name)
    }
}

/// Runs `body` with a fresh sandbox and shuts its daemons and containers down
/// afterwards, also when `body` throws.
func withSandbox(_ body: (Sandbox) async throws -> Void) async throws {
    let sandbox = try Sandbox()
    do {
        try await body(sandbox)
    } catch {
        for daemon in sandbox.daemons {
            print("--- log of daemon \(daemon.workerID)\n\(daemon.log)")
        }
        await sandbox.shutDown()
        throw error
    }
    await sandbox.shutDown()
}

extension Sandbox {
    /// Returns the step numbers of the job's `step` events in `attempt`, in order.
    func steps(_ id: Int64, attempt: Int) throws -> [Int] {
        try events(id, type: "step").filter { $0.attempt == attempt }.compactMap { $0.object["n"] as? Int }
    }

    /// Returns the id of the job's valid checkpoint named `name`.
    func checkpointID(_ id: Int64, named name: String) throws -> Int64 {
        let all = try checkpoints(id)
        let checkpoint = all.last { $0.name == name && $0.valid }
        return try #require(checkpoint?.id, "job \(id) has no valid checkpoint \(name): \(all.map(\.name))")
    }
}
