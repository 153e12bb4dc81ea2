import Foundation
import Synchronization

/// The local container images of the tests, built from Tests/Fixtures with
/// a static busybox, so that no test needs a registry.
public enum TestImage {
    /// The scriptable test image, built from Tests/Fixtures/test-image.
    public static let name = "localhost/berth-test:latest"

    public static var isPodmanAvailable: Bool { TestHost.podman != nil }

    /// Returns `name` once the image exists.
    ///
    /// The image is built only when it is missing, at most once per test
    /// process, because every suite of the process shares it.
    public static func require() async throws -> String {
        try await baseBuild.value
        return name
    }

    /// Builds `tag` from Tests/Fixtures/checkpoint-image, which adds the
    /// checkpointing jobs to the test image, and returns `tag`.
    ///
    /// The build runs once per tag and test process, even when the image
    /// exists, so that edits to the fixtures take effect. Cached layers make
    /// a rebuild quick.
    /// Each test target passes a tag of its own, so that a rebuild for one
    /// target never replaces the image under a running test of another.
    public static func requireCheckpointImage(tag: String) async throws -> String {
        let build = checkpointBuilds.withLock { builds in
            if let build = builds[tag] { return build }
            let build = Task {
                try await baseBuild.value
                try await buildImage(tag, fixture: "checkpoint-image", extraFiles: [:])
            }
            builds[tag] = build
            return build
        }
        try await build.value
        return tag
    }

    private static let checkpointBuilds = Mutex<[String: Task<Void, any Error>]>([:])

    private static let baseBuild = Task {
        let podman = try requirePodman()
        let exists = try await SpawnedProcess.run(podman, ["image", "exists", name], environment: buildEnvironment)
        if exists.status == 0 { return }
        guard let busybox = TestHost.busybox else {
            throw TestFailure("no static busybox to copy into the test image; install Debian's busybox-static")
        }
        try await buildImage(name, fixture: "test-image", extraFiles: [busybox: "busybox"])
    }

    private static var buildEnvironment: [String: String] {
        TestHost.environment(home: NSTemporaryDirectory())
    }

    private static func requirePodman() throws -> String {
        guard let podman = TestHost.podman else { throw TestFailure("podman is not installed") }
        return podman
    }

    /// Builds `tag` from a copy of the fixture directory plus `extraFiles`
    /// (source path to file name in the build context).
    private static func buildImage(_ tag: String, fixture: String, extraFiles: [String: String]) async throws {
        let podman = try requirePodman()
        let context = URL(fileURLWithPath: NSTemporaryDirectory()).appendingPathComponent("berth-image-\(UUID().uuidString)")
        try FileManager.default.copyItem(at: TestHost.fixtures.appendingPathComponent(fixture), to: context)
        defer { try? FileManager.default.removeItem(at: context) }
        for (source, name) in extraFiles {
            try FileManager.default.copyItem(atPath: source, toPath: context.appendingPathComponent(name).path)
        }

        let built = try await SpawnedProcess.run(
            podman, ["build", "--tag=\(tag)", "--file=\(context.path)/Containerfile", context.path],
            environment: buildEnvironment, timeout: .seconds(300))
        guard built.status == 0 else {
            throw TestFailure("podman build of \(tag) failed: \(built)")
        }
    }
}
