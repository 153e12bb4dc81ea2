import Testing

@testable import BerthDaemon

@Suite struct AttemptLifecycleTests {
    @Test func freshAttemptRunsToRemoval() {
        var lifecycle = AttemptLifecycle()
        #expect(lifecycle.phase == .preparing)

        #expect(lifecycle.handle(.created) == [.startContainer])
        #expect(lifecycle.phase == .starting)
        #expect(lifecycle.handle(.started) == [])
        #expect(lifecycle.phase == .running)
        #expect(lifecycle.handle(.exited) == [.recordResult])
        #expect(lifecycle.phase == .exited)
        #expect(lifecycle.handle(.recorded) == [.removeContainer])
        #expect(lifecycle.phase == .finished)
        #expect(lifecycle.intent == nil)
    }

    @Test func stopWhileRunningRecordsIntentFirst() {
        var lifecycle = AttemptLifecycle()
        _ = lifecycle.handle(.created)
        _ = lifecycle.handle(.started)

        #expect(lifecycle.handle(.stopRequested(.cancel)) == [.recordIntentAndStop(.cancel)])
        #expect(lifecycle.phase == .stopping(.cancel))
        #expect(lifecycle.intent == .cancel)
        #expect(lifecycle.handle(.exited) == [.recordResult])
    }

    @Test func firstStopIntentWins() {
        var lifecycle = AttemptLifecycle()
        _ = lifecycle.handle(.created)
        _ = lifecycle.handle(.started)
        _ = lifecycle.handle(.stopRequested(.cancel))

        #expect(lifecycle.handle(.stopRequested(.timeout)) == [])
        #expect(lifecycle.handle(.stopRequested(.drain)) == [])
        #expect(lifecycle.intent == .cancel)
        #expect(lifecycle.phase == .stopping(.cancel))
    }

    @Test func stopBeforeCreateSkipsTheStart() {
        var lifecycle = AttemptLifecycle()
        #expect(lifecycle.handle(.stopRequested(.drain)) == [])
        #expect(lifecycle.phase == .preparing)

        #expect(lifecycle.handle(.created) == [.recordIntent(.drain), .recordResult])
        #expect(lifecycle.phase == .exited)
        #expect(lifecycle.intent == .drain)
    }

    @Test func stopWhileStartingActsOnceStarted() {
        var lifecycle = AttemptLifecycle()
        _ = lifecycle.handle(.created)
        #expect(lifecycle.handle(.stopRequested(.timeout)) == [])
        #expect(lifecycle.phase == .starting)

        #expect(lifecycle.handle(.started) == [.recordIntentAndStop(.timeout)])
        #expect(lifecycle.phase == .stopping(.timeout))
    }

    @Test func stopAfterExitIsIgnored() {
        var lifecycle = AttemptLifecycle()
        _ = lifecycle.handle(.created)
        _ = lifecycle.handle(.started)
        _ = lifecycle.handle(.exited)

        #expect(lifecycle.handle(.stopRequested(.cancel)) == [])
        #expect(lifecycle.intent == nil)
        _ = lifecycle.handle(.recorded)
        #expect(lifecycle.handle(.stopRequested(.cancel)) == [])
        #expect(lifecycle.phase == .finished)
    }

    @Test func detachStopsFollowingOnly() {
        var lifecycle = AttemptLifecycle()
        _ = lifecycle.handle(.created)
        _ = lifecycle.handle(.started)

        #expect(lifecycle.handle(.detachRequested) == [.stopFollowing])
        #expect(lifecycle.phase == .detached)
        #expect(lifecycle.handle(.stopRequested(.cancel)) == [])
        #expect(lifecycle.handle(.detachRequested) == [])
        #expect(lifecycle.intent == nil)
    }

    @Test func detachWhileStarting() {
        var lifecycle = AttemptLifecycle()
        _ = lifecycle.handle(.created)
        #expect(lifecycle.handle(.detachRequested) == [.stopFollowing])
        #expect(lifecycle.phase == .detached)
    }

    @Test func detachBeforeCreateDoesNothing() {
        var lifecycle = AttemptLifecycle()
        #expect(lifecycle.handle(.detachRequested) == [])
        #expect(lifecycle.phase == .preparing)
    }

    @Test func detachDuringStopKeepsStopping() {
        var lifecycle = AttemptLifecycle()
        _ = lifecycle.handle(.created)
        _ = lifecycle.handle(.started)
        _ = lifecycle.handle(.stopRequested(.drain))

        #expect(lifecycle.handle(.detachRequested) == [])
        #expect(lifecycle.phase == .stopping(.drain))
    }

    @Test func adoptedWithoutIntentIsRunning() {
        var lifecycle = AttemptLifecycle(adoptingWithIntent: nil)
        #expect(lifecycle.phase == .running)
        #expect(lifecycle.handle(.stopRequested(.timeout)) == [.recordIntentAndStop(.timeout)])
    }

    @Test func adoptedWithIntentKeepsIt() {
        var lifecycle = AttemptLifecycle(adoptingWithIntent: .cancel)
        #expect(lifecycle.phase == .stopping(.cancel))
        #expect(lifecycle.intent == .cancel)
        #expect(lifecycle.handle(.stopRequested(.timeout)) == [])
        #expect(lifecycle.handle(.exited) == [.recordResult])
        #expect(lifecycle.intent == .cancel)
    }

    @Test func unexpectedEventTraps() async {
        await #expect(processExitsWith: .failure) {
            var lifecycle = AttemptLifecycle()
            _ = lifecycle.handle(.recorded)
        }
    }
}

@Suite struct ShutdownLifecycleTests {
    @Test func drainThenExitOnSecondSignal() {
        var shutdown = ShutdownLifecycle(mode: .drain)
        #expect(shutdown.isAcceptingWork)

        #expect(shutdown.signalReceived() == .drain)
        #expect(shutdown.phase == .stopping(.drain))
        #expect(!shutdown.isAcceptingWork)
        #expect(shutdown.signalReceived() == .exitNow)
        #expect(shutdown.phase == .exiting)
        #expect(shutdown.signalReceived() == .none)
    }

    @Test func detachMode() {
        var shutdown = ShutdownLifecycle(mode: .detach)
        #expect(shutdown.signalReceived() == .detach)
        #expect(shutdown.phase == .stopping(.detach))
        #expect(shutdown.signalReceived() == .exitNow)
    }

    @Test func deadlineOnlyMattersWhileStopping() {
        var shutdown = ShutdownLifecycle(mode: .drain)
        #expect(shutdown.deadlinePassed() == .none)
        #expect(shutdown.phase == .running)

        _ = shutdown.signalReceived()
        #expect(shutdown.deadlinePassed() == .exitNow)
        #expect(shutdown.phase == .exiting)
        #expect(shutdown.deadlinePassed() == .none)
    }
}
