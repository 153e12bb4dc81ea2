import BerthEngine
import Foundation

/// The checkpoint test image, built from Tests/Fixtures/checkpoint-image on top
/// of berth's test image, which is built from Tests/Fixtures/test-image first
/// when it is missing. Both build from a static busybox, with no registry.
enum CheckpointImage {
    static let baseName = "localhost/berth-test:latest"
    static let name = "localhost/berth-checkpoint-test:latest"

    static let fixtures = URL(fileURLWithPath: #filePath)
        .deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
        .appendingPathComponent("Fixtures")
    /// Podman settings for these test machines, passed as CONTAINERS_CONF.
    static let containersConf = fixtures.appendingPathComponent("containers.conf").path

    static let podman = ["/usr/bin/podman", "/usr/local/bin/podman"].first {
        FileManager.default.isExecutableFile(atPath: $0)
    }

    /// Returns the image name once it is built; the build runs once per test process.
    static func require() async throws -> String {
        try await build.value
        return name
    }

    private static let build = Task {
        guard let podman else { throw TestFailure("podman is not installed") }
        let environment = Commands.environment(home: NSTemporaryDirectory())
        if try await Commands.run(podman, ["image", "exists", baseName], environment: environment).status != 0 {
            guard let busybox = ["/bin/busybox", "/usr/bin/busybox"].first(where: { FileManager.default.isExecutableFile(atPath: $0) }) else {
                throw TestFailure("no static busybox to copy into the test image; install Debian's busybox-static")
            }
            try await buildImage(
                baseName, from: "test-image", files: ["Containerfile", "berth-test-job"], extra: [(busybox, "busybox")],
                podman: podman, environment: environment)
        }
        // Always rebuilt, so that edits to the fixtures take effect; cached layers make it quick.
        try await buildImage(
            name, from: "checkpoint-image",
            files: ["Containerfile", "berth-step-job", "berth-hostile-job", "perstack", "perstack.toml"], extra: [],
            podman: podman, environment: environment)
    }

    private static func buildImage(
        _ tag: String, from fixture: String, files: [String], extra: [(source: String, name: String)], podman: String,
        environment: [String: String]
    ) async throws {
        let context = URL(fileURLWithPath: NSTemporaryDirectory()).appendingPathComponent("berth-image-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: context, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: context) }
        let source = fixtures.appendingPathComponent(fixture)
        for file in files {
            try FileManager.default.copyItem(at: source.appendingPathComponent(file), to: context.appendingPathComponent(file))
        }
        for (path, name) in extra {
            try FileManager.default.copyItem(atPath: path, toPath: context.appendingPathComponent(name).path)
        }
        let built = try await Commands.run(
            podman, ["build", "--tag=\(tag)", "--file=\(context.path)/Containerfile", context.path],
            environment: environment, timeout: .seconds(300))
        guard built.status == 0 else {
            throw TestFailure("podman build of \(tag) failed: \(built)")
        }
    }
}
