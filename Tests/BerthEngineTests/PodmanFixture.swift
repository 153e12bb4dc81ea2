import Foundation
import Testing

@testable import BerthEngine

/// Podman, the test image and the test configuration for the container tests.
enum PodmanFixture {
    static let imageName = "localhost/berth-test:latest"
    /// The label on every container the tests create, so that leftovers can be found.
    static let testLabel = "io.berth.test"

    static let fixturesDirectory = URL(fileURLWithPath: #filePath)
        .deletingLastPathComponent().deletingLastPathComponent().appendingPathComponent("Fixtures")
    static let containersConf = fixturesDirectory.appendingPathComponent("containers.conf").path

    /// True when podman is in the PATH the tests use.
    static let isAvailable: Bool = {
        (try? ProcessCommand(executable: "podman", environment: ["PATH": EngineEnvironment.defaultPath])
            .resolvedExecutablePath()) != nil
    }()

    static func environment() throws -> EngineEnvironment {
        try EngineEnvironment(
            home: ProcessInfo.processInfo.environment["HOME"] ?? "/root",
            passthrough: ["CONTAINERS_CONF": containersConf])
    }

    static func engine(commandTimeout: Duration = .seconds(120)) throws -> ContainerEngine {
        try ContainerEngine(
            configuration: ContainerEngineConfiguration(
                selection: .podman, environment: environment(), commandTimeout: commandTimeout))
    }

    /// Builds the test image once per test run and returns its name.
    static func image() async throws -> String {
        try await imageBuild.value
        return imageName
    }

    private static let imageBuild = Task {
        try await buildImage()
    }

    /// Builds the image from Tests/Fixtures/test-image with the host's static busybox.
    private static func buildImage() async throws {
        let context = try makeTemporaryDirectory()
        defer { try? FileManager.default.removeItem(at: context) }

        let source = fixturesDirectory.appendingPathComponent("test-image")
        for file in ["Containerfile", "berth-test-job"] {
            try FileManager.default.copyItem(at: source.appendingPathComponent(file), to: context.appendingPathComponent(file))
        }
        let busybox = ["/bin/busybox", "/usr/bin/busybox"].first { FileManager.default.isExecutableFile(atPath: $0) }
        guard let busybox else {
            throw FixtureError("busybox not found; install Debian's busybox-static")
        }
        try FileManager.default.copyItem(atPath: busybox, toPath: context.appendingPathComponent("busybox").path)

        let engine = try engine()
        let command = ProcessCommand(
            executable: engine.executablePath,
            arguments: ["build", "--tag=\(imageName)", "--file=\(context.path)/Containerfile", context.path],
            environment: try environment().variables)
        let result = try await ChildProcess.run(command, timeout: .seconds(300))
        guard result.status.isSuccess, !result.timedOut else {
            throw FixtureError(
                "podman build of the test image failed (\(result.status)); it needs a static busybox (busybox-static): \(result.standardError.text)")
        }

        // Containers left by an interrupted earlier run.
        for leftover in try await engine.list(labels: [testLabel: "1"]) {
            try? await engine.remove(leftover.id)
        }
    }

    /// Returns a spec for the test image with the settings these machines need.
    static func spec(_ command: [String], name: String = "berth-test-\(UUID().uuidString.prefix(8).lowercased())") -> ContainerRunSpec {
        ContainerRunSpec(
            name: name, image: imageName, command: command, labels: [testLabel: "1"],
            // Listing nproc too, because an explicit --ulimit replaces podman's default_ulimits.
            ulimits: [ContainerUlimit(.nofile, soft: 1024, hard: 1024), ContainerUlimit(.nproc, soft: 4096, hard: 4096)],
            pullPolicy: .never)
    }
}

struct FixtureError: Error, CustomStringConvertible {
    var description: String

    init(_ description: String) {
        self.description = description
    }
}
