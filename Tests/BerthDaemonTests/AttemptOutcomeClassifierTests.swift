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
