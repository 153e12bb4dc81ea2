import Foundation

/// The scriptable test image `localhost/berth-test:latest`, built from
/// Tests/Fixtures/test-image when it is not present yet.
enum TestImage {
    static let name = "localhost/berth-test:latest"

    static let fixtures = URL(fileURLWithPath: #filePath)
        .deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
        .appendingPathComponent("Fixtures")
    /// podman settings for these machines (cgroupfs, runc, lower ulimits), passed as CONTAINERS_CONF.
    static let containersConf = fixtures.appendingPathComponent("containers.conf").path

    static let podman = ["/usr/bin/podman", "/usr/local/bin/podman"].first {
        FileManager.default.isExecutableFile(atPath: $0)
    }

    static var isPodmanAvailable: Bool { podman != nil }

    /// Returns the image name once the image exists; the build runs at most once per test process.
    static func require() async throws -> String {
        try await build.value
        return name
    }

    private static let build = Task {
        let environment = Processes.baseEnvironment(home: NSTemporaryDirectory())
        guard let podman else { throw TestFailure("podman is not installed") }
        let exists = try await Processes.run(podman, ["image", "exists", name], environment: environment)
        if exists.status == 0 { return }

        // The Containerfile copies a static busybox from the build context.
        let context = URL(fileURLWithPath: NSTemporaryDirectory()).appendingPathComponent("berth-image-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: context, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: context) }
        let source = fixtures.appendingPathComponent("test-image")
        for file in ["Containerfile", "berth-test-job"] {
            try FileManager.default.copyItem(at: source.appendingPathComponent(file), to: context.appendingPathComponent(file))
        }
        guard let busybox = ["/bin/busybox", "/usr/bin/busybox"].first(where: { FileManager.default.isExecutableFile(atPath: $0) }) else {
            throw TestFailure("no /bin/busybox to copy into the test image; install Debian's busybox-static")
        }
        try FileManager.default.copyItem(atPath: busybox, toPath: context.appendingPathComponent("busybox").path)

        let built = try await Processes.run(
            podman, ["build", "--tag=\(name)", "--file=\(context.path)/Containerfile", context.path],
            environment: environment, timeout: .seconds(300))
        guard built.status == 0 else {
            throw TestFailure("podman build of \(name) failed: \(built)")
        }
    }
}
