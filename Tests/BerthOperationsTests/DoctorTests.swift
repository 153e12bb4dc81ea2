import BerthTestSupport
import Foundation
import Testing

/// `berth doctor` on a host set up the way the daemon leaves it, and on one broken in several ways.
@Suite("berth doctor")
struct DoctorTests {
    /// Creates the database through the command line, with one held job, and
    /// the directories as the daemon does.
    private static func healthySandbox() async throws -> OperationsSandbox {
        let sandbox = try OperationsSandbox()
        try sandbox.writeConfiguration()
        let submitted = try await sandbox.berth(["submit", "--hold", "--image", TestImage.name, "--", "true"])
        #expect(submitted.status == 0, "\(submitted)")
        for directory in [sandbox.workspaces, sandbox.checkpoints, sandbox.runtime] {
            try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true, attributes: [.posixPermissions: 0o755])
        }
        return sandbox
    }

    private static func lines(_ result: CommandResult) -> [String] {
        result.standardOutput.split(separator: "\n").map(String.init)
    }

    @Test("healthy host passes every check")
    func healthyHost() async throws {
        _ = try await TestImage.require()
        let sandbox = try await Self.healthySandbox()

        let result = try await sandbox.berth(["doctor", "--config", sandbox.configurationPath, "--image", TestImage.name])

        #expect(result.status == 0, "\(result)")
        let checks = Self.lines(result)
        for name in ["configuration", "database", "database integrity", "database schema", "database file modes",
                     "workspaces directory", "checkpoints directory", "runtime directory", "secrets directory",
                     "engine", "container limits", "container"] {
            #expect(checks.contains { $0.hasPrefix("ok    \(name): ") }, "no passing \(name) check in\n\(result)")
        }
        #expect(!checks.contains { $0.hasPrefix("FAIL") }, "\(result)")
        #expect(checks.contains { $0.contains("memory 64 MiB") || $0.contains("memory 64m") }, "\(result)")
    }

    @Test("broken host fails with fixes")
    func brokenHost() async throws {
        let sandbox = try await Self.healthySandbox()
        chmod(sandbox.databasePath, 0o644)
        try FileManager.default.removeItem(atPath: sandbox.checkpoints)
        chmod(sandbox.runtime, 0o777)
        try FileManager.default.createDirectory(atPath: sandbox.secrets, withIntermediateDirectories: true, attributes: [.posixPermissions: 0o700])
        try "value".write(toFile: sandbox.secrets + "/API_KEY", atomically: true, encoding: .utf8)
        chmod(sandbox.secrets + "/API_KEY", 0o644)
        try sandbox.writeConfiguration(engine: #"{ kind: "podman", path: "/nonexistent/podman" }"#)

        let result = try await sandbox.berth(["doctor", "--config", sandbox.configurationPath])

        #expect(result.status == 1, "\(result)")
        let checks = Self.lines(result)
        let failures = checks.filter { $0.hasPrefix("FAIL") }
        #expect(failures.contains { $0.hasPrefix("FAIL  database file modes: \(sandbox.databasePath) has mode 0644") }, "\(result)")
        #expect(failures.contains { $0.hasPrefix("FAIL  checkpoints directory: \(sandbox.checkpoints) does not exist") }, "\(result)")
        let runtime = failures.first { $0.hasPrefix("FAIL  runtime directory: ") }
        #expect(runtime?.contains("0777") == true, "\(result)")
        let secrets = failures.first { $0.hasPrefix("FAIL  secrets directory: ") }
        #expect(secrets?.contains("API_KEY") == true, "\(result)")
        #expect(failures.contains { $0.hasPrefix("FAIL  engine: ") }, "\(result)")
        #expect(checks.contains { $0.hasPrefix("ok    database integrity: ") }, "\(result)")
        // Every failure is followed by the fix.
        for (index, line) in checks.enumerated() where line.hasPrefix("FAIL") {
            let next = index + 1 < checks.count ? checks[index + 1] : ""
            #expect(next.hasPrefix("      fix: "), "\(line)")
        }
    }

    @Test("invalid configuration fails first")
    func invalidConfiguration() async throws {
        let sandbox = try OperationsSandbox()
        try "{ metrics: { interval: \"never\" } }".write(toFile: sandbox.configurationPath, atomically: true, encoding: .utf8)

        let result = try await sandbox.berth(["doctor", "--config", sandbox.configurationPath])

        #expect(result.status == 1, "\(result)")
        let checks = Self.lines(result)
        #expect(checks.first?.hasPrefix("FAIL  configuration: \(sandbox.configurationPath):1:14: metrics.interval: ") == true, "\(result)")
    }

    @Test("file that is not a database")
    func notADatabase() async throws {
        let sandbox = try await Self.healthySandbox()
        try FileManager.default.removeItem(atPath: sandbox.databasePath)
        try Data(repeating: 0x41, count: 8192).write(to: URL(fileURLWithPath: sandbox.databasePath))
        chmod(sandbox.databasePath, 0o600)

        let result = try await sandbox.berth(["doctor", "--config", sandbox.configurationPath])

        #expect(result.status == 1, "\(result)")
        #expect(Self.lines(result).contains { $0.hasPrefix("FAIL  database: \(sandbox.databasePath) does not open") }, "\(result)")
    }
}
