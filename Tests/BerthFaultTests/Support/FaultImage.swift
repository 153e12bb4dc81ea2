import Foundation

/// The image of the fault suite: the files of Tests/Fixtures/checkpoint-image
/// on top of berth's test image from Tests/Fixtures/test-image, built locally
/// from a static busybox. It has its own tag, so that builds of other test
/// targets running at the same time never replace it under a running test.
enum FaultImage {
    static let baseName = "localhost/berth-test:latest"
    static let name = "localhost/berth-fault-test:latest"

    private static let fixtures = URL(fileURLWithPath: Shell.containersConf).deletingLastPathComponent()

    /// Returns the image's name once it is built, which happens once per test process.
    static func require() async throws -> String {
        try await build.value
        return name
    }

    private static let build = Task {
        guard let podman = Shell.podman else { throw FaultTestError("podman is not installed") }
        let environment = Shell.environment(home: NSTemporaryDirectory())
        let exists = try await Shell.run(podman, ["image", "exists", baseName], environment: environment)
        if exists.status != 0 {
            guard let busybox = ["/bin/busybox", "/usr/bin/busybox"].first(where: { FileManager.default.isExecutableFile(atPath: $0) }) else {
                throw FaultTestError("no static busybox for the test image; install Debian's busybox-static")
            }
            try await buildImage(baseName, fixture: "test-image", extraFiles: [busybox: "busybox"], podman: podman, environment: environment)
        }
        try await buildImage(name, fixture: "checkpoint-image", extraFiles: [:], podman: podman, environment: environment)
    }

    /// Builds `tag` from a copy of the fixture directory plus `extraFiles` (source path to name in the context).
    private static func buildImage(
        _ tag: String, fixture: String, extraFiles: [String: String], podman: String, environment: [String: String]
    ) async throws {
        let context = URL(fileURLWithPath: NSTemporaryDirectory()).appendingPathComponent("berth-fault-image-\(UUID().uuidString)")
        try FileManager.default.copyItem(at: fixtures.appendingPathComponent(fixture), to: context)
        defer { try? FileManager.default.removeItem(at: context) }
        for (source, name) in extraFiles {
            try FileManager.default.copyItem(atPath: source, toPath: context.appendingPathComponent(name).path)
        }

        let built = try await Shell.run(
            podman, ["build", "--tag=\(tag)", "--file=\(context.path)/Containerfile", context.path],
            environment: environment, timeout: .seconds(300))
        guard built.status == 0 else {
            throw FaultTestError("podman build of \(tag) failed: \(built)")
        }
    }
}
