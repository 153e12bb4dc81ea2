import BerthCore
import Testing

@testable import BerthDaemon

@Suite struct AttemptOutcomeClassifierTests {
    @Test(arguments: [
        (StopIntent.timeout, AttemptOutcome.timedOut),
        (.cancel, .cancelled),
        (.drain, .interrupted),
        (.workspaceQuota, .failed),
        (.leaseLost, .lost),
    ])
    func intentDecidesOverExitCode(intent: StopIntent, expected: AttemptOutcome) {
        // A job that exits 0 on SIGTERM still ends as the daemon intended.
        let clean = AttemptOutcomeClassifier.classify(intent: intent, exit: ContainerExit(exitCode: 0))
        #expect(clean.outcome == expected)
        #expect(clean.exitCode == 0)

        let killed = AttemptOutcomeClassifier.classify(intent: intent, exit: ContainerExit(exitCode: 137, oomKilled: true))
        #expect(killed.outcome == expected)
        #expect(killed.exitCode == 137)
    }

    @Test func exitZeroSucceeds() {
        let result = AttemptOutcomeClassifier.classify(intent: nil, exit: ContainerExit(exitCode: 0))
        #expect(result.outcome == .succeeded)
        #expect(result.exitCode == 0)
        #expect(result.message == nil)
    }

    @Test func nonZeroExitFails() {
        let result = AttemptOutcomeClassifier.classify(intent: nil, exit: ContainerExit(exitCode: 3))
        #expect(result.outcome == .failed)
        #expect(result.exitCode == 3)
        #expect(result.message == "exited with code 3")
    }

    @Test func signalExitNamesTheSignal() {
        let result = AttemptOutcomeClassifier.classify(intent: nil, exit: ContainerExit(exitCode: 137))
        #expect(result.outcome == .failed)
        #expect(result.message == "exited with code 137 (killed by signal 9)")
    }

    @Test func oomFlagMeansOutOfMemory() {
        let result = AttemptOutcomeClassifier.classify(intent: nil, exit: ContainerExit(exitCode: 137, oomKilled: true))
        #expect(result.outcome == .outOfMemory)
        #expect(result.exitCode == 137)
    }

    @Test func initFailureIsStartFailed() {
        let exit = ContainerExit(exitCode: 1, commandNotExecuted: "No such file or directory")
        let result = AttemptOutcomeClassifier.classify(intent: nil, exit: exit)
        #expect(result.outcome == .startFailed)
        #expect(result.exitCode == 1)
        #expect(result.message?.contains("No such file or directory") == true)
    }

    @Test func initFailureNeedsCatatonitsOnlyLine() {
        let line = "ERROR (catatonit:6): failed to exec pid1: No such file or directory"
        #expect(ContainerExit.initFailure(exitCode: 1, standardOutputLines: 0, standardErrorLines: [line]) == "No such file or directory")
        #expect(ContainerExit.initFailure(
            exitCode: 1, standardOutputLines: 0, standardErrorLines: ["ERROR (catatonit:12): failed to exec pid1: Permission denied"])
            == "Permission denied")

        // Anything else means the command ran, or something other than the init printed.
        #expect(ContainerExit.initFailure(exitCode: 2, standardOutputLines: 0, standardErrorLines: [line]) == nil)
        #expect(ContainerExit.initFailure(exitCode: 1, standardOutputLines: 1, standardErrorLines: [line]) == nil)
        #expect(ContainerExit.initFailure(exitCode: 1, standardOutputLines: 0, standardErrorLines: [line, "more"]) == nil)
        #expect(ContainerExit.initFailure(exitCode: 1, standardOutputLines: 0, standardErrorLines: []) == nil)
        #expect(ContainerExit.initFailure(exitCode: 1, standardOutputLines: 0, standardErrorLines: ["failed to exec pid1: x"]) == nil)
        #expect(ContainerExit.initFailure(
            exitCode: 1, standardOutputLines: 0, standardErrorLines: ["ERROR (catatonit:6): failed to exec pid1: "]) == nil)
    }

    @Test func timeoutOutranksInitFailure() {
        let exit = ContainerExit(exitCode: 1, commandNotExecuted: "No such file or directory")
        #expect(AttemptOutcomeClassifier.classify(intent: .timeout, exit: exit).outcome == .timedOut)
    }

    @Test func vanishedContainerIsLost() {
        let result = AttemptOutcomeClassifier.classify(intent: nil, exit: ContainerExit(exitCode: 0, oomKilled: true, vanished: true))
        #expect(result.outcome == .lost)
        #expect(result.exitCode == nil)
    }

    @Test func missingExitCodeIsLost() {
        let result = AttemptOutcomeClassifier.classify(intent: nil, exit: ContainerExit(exitCode: nil))
        #expect(result.outcome == .lost)
        #expect(result.exitCode == nil)
    }
}
