import BerthEngine
import Testing

@testable import BerthDaemon

@Suite struct DoctorStartFailureTests {
    @Test func missingInitBinaryNamesThePackage() {
        let error = ContainerEngineError.unexpectedOutput(
            operation: "start",
            detail: "Error: container-init binary not found on the host: stat /usr/libexec/podman/catatonit: no such file or directory")
        let fix = Doctor.fixForFailedStart(error)
        #expect(fix.contains("apt-get install catatonit"))
        #expect(fix.contains("--init"))
    }

    @Test func otherFailuresPointAtTheEngineLog() {
        let error = ContainerEngineError.unexpectedOutput(operation: "start", detail: "Error: OCI runtime error")
        #expect(Doctor.fixForFailedStart(error).contains("engine's log"))
    }
}
