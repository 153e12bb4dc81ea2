import Foundation

/// Makes sure `localhost/berth-test:latest` exists, building it from
/// Tests/Fixtures/test-image with the host's static busybox when it does not.
enum LocalTestImage {
    static func ensure() async throws {
        try await build.value
    }

    private static let build = Task {
        guard let podman = OperationsSandbox.podmanPath else {
            throw OperationsTestError("podman is not installed; run .ci/setup")
        }
        let environment = ["PATH": "/usr/sbin:/usr/bin:/sbin:/bin", "HOME": "/root", "CONTAINERS_CONF": OperationsSandbox.containersConf]
        if try run(podman, ["image", "exists", OperationsSandbox.imageName], environment) == 0 { return }

        let context = FileManager.default.temporaryDirectory.appendingPathComponent("bops-image-\(UUID().uuidString.prefix(8))")
        try FileManager.default.createDirectory(at: context, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: context) }
        let source = OperationsSandbox.fixtures.appendingPathComponent("test-image")
        for file in ["Containerfile", "berth-test-job"] {
            try FileManager.default.copyItem(at: source.appendingPathComponent(file), to: context.appendingPathComponent(file))
        }
        guard let busybox = ["/bin/busybox", "/usr/bin/busybox"].first(where: { FileManager.default.isExecutableFile(atPath: $0) }) else {
            throw OperationsTestError("busybox is not installed; install Debian's busybox-static")
        }
        try FileManager.default.copyItem(atPath: busybox, toPath: context.appendingPathComponent("busybox").path)
        let status = try run(podman, ["build", "--tag=\(OperationsSandbox.imageName)", "--file=\(context.path)/Containerfile", context.path], environment)
        guard status == 0 else { throw OperationsTestError("podman build of the test image exited with \(status)") }
    }

    private static func run(_ executable: String, _ arguments: [String], _ environment: [String: String]) throws -> Int32 {
        let process = try Spawned([executable] + arguments, environment: environment, outputDirectory: NSTemporaryDirectory())
        return try process.waitBlocking().status
    }
}
