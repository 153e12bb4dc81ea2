import Foundation
import Testing

@testable import BerthEngine

@Suite("ContainerInspection")
struct ContainerInspectionTests {
    @Test("docker-style inspect output")
    func decodesDockerOutput() throws {
        let json = """
            [{"Id":"abc123","Name":"/job-1",
              "State":{"Status":"exited","Running":false,"ExitCode":137,"OOMKilled":true,
                       "StartedAt":"2024-03-01T10:00:00.5Z","FinishedAt":"2024-03-01T10:00:02.25Z","Error":""},
              "HostConfig":{"Memory":33554432,"MemorySwap":33554432,"PidsLimit":null,"NanoCpus":500000000,
                            "ReadonlyRootfs":true,"CapDrop":["ALL"],"NetworkMode":"none",
                            "Ulimits":[{"Name":"nofile","Soft":1024,"Hard":2048}]},
              "Config":{"Image":"localhost/app:1","Labels":{"io.berth.job":"42"}}}]
            """
        let inspection = try ContainerInspection.decode(Data(json.utf8))

        #expect(inspection.id == "abc123")
        #expect(inspection.name == "job-1")
        #expect(inspection.image == "localhost/app:1")
        #expect(inspection.labels == ["io.berth.job": "42"])
        #expect(inspection.state.exitCode == 137)
        #expect(inspection.state.isOOMKilled)
        #expect(!inspection.state.isRunning)
        #expect(inspection.state.startedAt == Date(timeIntervalSince1970: 1_709_287_200.5))
        #expect(inspection.state.finishedAt == Date(timeIntervalSince1970: 1_709_287_202.25))
        #expect(inspection.limits.memory == 33_554_432)
        #expect(inspection.limits.pidsLimit == nil)
        #expect(inspection.limits.nanoCPUs == 500_000_000)
        #expect(inspection.limits.readOnlyRootFilesystem)
        #expect(inspection.limits.capabilitiesDropped == ["ALL"])
        #expect(inspection.limits.networkMode == "none")
        #expect(inspection.limits.ulimits == [ContainerUlimit(.nofile, soft: 1024, hard: 2048)])
        #expect(inspection.staticDirectory == nil)
    }

    @Test("podman ulimit names")
    func podmanUlimitNames() throws {
        let json = """
            [{"Id":"x","Name":"n","StaticDir":"/var/lib/containers/x/userdata",
              "HostConfig":{"Ulimits":[{"Name":"RLIMIT_NPROC","Soft":4096,"Hard":4096},
                                       {"Name":"RLIMIT_RTPRIO","Soft":0,"Hard":0}]},
              "Config":{"Labels":null}}]
            """
        let inspection = try ContainerInspection.decode(Data(json.utf8))

        #expect(inspection.limits.ulimits == [ContainerUlimit(.nproc, soft: 4096, hard: 4096)])
        #expect(inspection.labels.isEmpty)
        #expect(inspection.staticDirectory == "/var/lib/containers/x/userdata")
    }

    @Test("malformed output is an error")
    func malformedOutput() {
        #expect(throws: ContainerEngineError.self) { try ContainerInspection.decode(Data("[]".utf8)) }
        #expect(throws: ContainerEngineError.self) { try ContainerInspection.decode(Data("Error".utf8)) }
    }

    @Test("timestamps", arguments: [
        ("1970-01-01T00:00:00Z", 0.0),
        ("2024-02-29T12:30:15Z", 1_709_209_815.0),
        ("2024-12-04T19:55:00.123456789Z", 1_733_342_100.123456789),
        ("2024-12-04T20:55:00+01:00", 1_733_342_100.0),
        ("2024-12-04T14:25:00.5-05:30", 1_733_342_100.5),
    ])
    func timestamps(text: String, seconds: Double) throws {
        let date = try #require(EngineTimestamp.parse(text))
        #expect(abs(date.timeIntervalSince1970 - seconds) < 1e-6)
    }

    @Test("unset and invalid timestamps", arguments: [
        "0001-01-01T00:00:00Z", "", "yesterday", "2024-13-01T00:00:00Z", "2024-12-04T19:55:00", "2024-12-04T19:55:00Zjunk",
    ])
    func invalidTimestamps(text: String) {
        #expect(EngineTimestamp.parse(text) == nil)
    }
}
