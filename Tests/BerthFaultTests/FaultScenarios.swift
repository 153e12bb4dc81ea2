import BerthTestSupport
import Foundation
import Testing

/// Every test of this target that starts daemons and containers. They run one
/// at a time, because several of them fill the two cores of a CI machine and
/// some mount file systems.
@Suite(.serialized, .enabled(if: faultSuiteCanRun, "needs root, podman and sqlite3"))
struct FaultScenarios {}

/// Whether the suite can run its containers: rootful podman and sqlite3's shell.
let faultSuiteCanRun = getuid() == 0 && TestHost.podman != nil && TestHost.sqlite3 != nil

/// The image of the fault suite: the files of Tests/Fixtures/checkpoint-image
/// on top of berth's test image.
enum FaultImage {
    /// A tag of its own, so that the checkpoint tests' rebuild of the same
    /// fixture never replaces the image under a running fault test.
    static let name = "localhost/berth-fault-test:latest"

    /// Returns the image's name once it is built, which happens once per test process.
    static func require() async throws -> String {
        try await TestImage.requireCheckpointImage(tag: name)
    }
}

/// Runs `body` with a fresh sandbox and tears it down afterwards, printing
/// the daemons' logs when `body` throws. With `databaseFileSystem` (a size
/// such as "8m") the database's directory is a tmpfs of that size.
func withFaultSandbox(databaseFileSystem: String? = nil, _ body: (FaultSandbox) async throws -> Void) async throws {
    let sandbox = try await FaultSandbox()
    do {
        if let databaseFileSystem {
            try await sandbox.mountTmpfs(at: sandbox.databaseDirectory, size: databaseFileSystem)
        }
        try await sandbox.createDatabase()
        try await body(sandbox)
    } catch {
        print(sandbox.daemonLogs)
        await sandbox.tearDown()
        throw error
    }
    await sandbox.tearDown()
}
