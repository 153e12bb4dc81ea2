import BerthEngine
import Testing

@testable import BerthDaemon

@Suite struct StartFailureHintTests {
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

    @Test func missingImageUnderPullPolicyNever() {
        let error = ContainerEngineError.unexpectedOutput(operation: "run", detail: "Error: alpine:3.20: image not known")
        let hint = AttemptRunner.startFailureHint(error, image: "alpine:3.20", pullPolicy: "never")
        #expect(hint == "; engine.pullPolicy is never, so build or pull alpine:3.20 on this host first")
    }

    @Test func missingImageWithPulling() {
        let error = ContainerEngineError.unexpectedOutput(operation: "run", detail: "Error: alpine:3.20: image not known")
        #expect(AttemptRunner.startFailureHint(error, image: "alpine:3.20", pullPolicy: "missing").contains("can pull it"))
    }

    @Test func unknownCauseHasNoHint() {
        let error = ContainerEngineError.unexpectedOutput(operation: "run", detail: "Error: something else")
        #expect(AttemptRunner.startFailureHint(error, image: "alpine:3.20", pullPolicy: "never").isEmpty)
    }
}
