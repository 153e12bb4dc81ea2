import BerthTestSupport
import Foundation
import Testing

/// `systemd/berth.service` and its drop-in, checked with `systemd-analyze verify`.
@Suite("systemd unit")
struct SystemdUnitTests {
    static let systemdDirectory = URL(fileURLWithPath: #filePath)
        .deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
        .appendingPathComponent("systemd")

    /// Copies the unit with ExecStart pointing at the built binary, because
    /// verify checks that the command exists; adds the drop-in when asked.
    private static func verify(withDropIn: Bool) async throws -> CommandResult {
        let sandbox = try OperationsSandbox()
        let binary = try BerthBinary.require()
        let unit = try String(contentsOf: systemdDirectory.appendingPathComponent("berth.service"), encoding: .utf8)
        let copy = unit.replacingOccurrences(of: "ExecStart=/usr/local/bin/berth ", with: "ExecStart=\(binary) ")
        #expect(copy != unit, "ExecStart no longer names /usr/local/bin/berth")
        let unitPath = sandbox.directory + "/berth.service"
        try copy.write(toFile: unitPath, atomically: true, encoding: .utf8)
        if withDropIn {
            try FileManager.default.createDirectory(atPath: sandbox.directory + "/berth.service.d", withIntermediateDirectories: true)
            try FileManager.default.copyItem(
                atPath: systemdDirectory.appendingPathComponent("berth-rootful-podman.conf").path,
                toPath: sandbox.directory + "/berth.service.d/rootful-podman.conf")
        }
        let analyze = try #require(
            ["/usr/bin/systemd-analyze", "/bin/systemd-analyze"].first { FileManager.default.isExecutableFile(atPath: $0) },
            "systemd-analyze is not installed (Debian package systemd)")
        return try await SpawnedProcess.run(
            analyze, ["verify", "--man=no", unitPath], environment: sandbox.environment, timeout: .seconds(60))
    }

    @Test("unit passes verify")
    func unitVerifies() async throws {
        let result = try await Self.verify(withDropIn: false)
        #expect(result.status == 0, "\(result)")
        // Unknown keys and bad values are warnings with exit status 0, so any output is a failure.
        #expect(result.standardOutput.isEmpty, "\(result)")
        #expect(result.standardError.isEmpty, "\(result)")
    }

    @Test("rootful podman drop-in passes verify")
    func dropInVerifies() async throws {
        let result = try await Self.verify(withDropIn: true)
        #expect(result.status == 0, "\(result)")
        #expect(result.standardOutput.isEmpty, "\(result)")
        #expect(result.standardError.isEmpty, "\(result)")
    }

    @Test("unit settings for drain and restart")
    func settings() throws {
        let unit = try String(contentsOf: Self.systemdDirectory.appendingPathComponent("berth.service"), encoding: .utf8)
        var settings: [String: [String]] = [:]
        for line in unit.split(separator: "\n") where !line.hasPrefix("#") && line.contains("=") {
            let parts = line.split(separator: "=", maxSplits: 1).map(String.init)
            settings[parts[0], default: []].append(parts.count > 1 ? parts[1] : "")
        }
        #expect(settings["Type"] == ["notify"])
        #expect(settings["NotifyAccess"] == ["main"])
        #expect(settings["KillMode"] == ["mixed"])
        #expect(settings["Restart"] == ["on-failure"])
        #expect(settings["RestartPreventExitStatus"] == ["78"])
        #expect(settings["WatchdogSec"]?.isEmpty == false)
        #expect(settings["TimeoutStopSec"] == ["150s"], "must stay above the default shutdown.deadline of 2m")
        #expect(settings["StateDirectory"] == ["berth"])
        #expect(settings["RuntimeDirectory"] == ["berth"])
        #expect(settings["ConfigurationDirectory"] == ["berth"])
        #expect(settings["After"]?.first?.contains("docker.service") == true)
        #expect(settings["After"]?.first?.contains("podman.socket") == true)
    }
}
