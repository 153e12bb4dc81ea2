import Foundation
import Testing

/// sd_notify messages of a real daemon, received on a socket the test set as `NOTIFY_SOCKET`.
@Suite("systemd notifications")
struct SystemdNotificationTests {
    @Test("READY comes after reconciliation")
    func readyAfterReconciliation() async throws {
        let scenario = try await DaemonScenario.shared.value
        let ready = try #require(scenario.index { $0.notification?.contains("READY=1") == true }, "no READY=1 was sent")
        let vanished = try #require(
            scenario.index { $0.journal?["JOB_ID"] == "\(scenario.adoptedJob)" && $0.journal?.message.contains("vanished") == true },
            "reconciliation did not log the job whose container vanished; its records: \(scenario.journal.filter { $0["JOB_ID"] == "\(scenario.adoptedJob)" })")
        #expect(vanished < ready)
        #expect(scenario.notifications.filter { $0.contains("READY=1") }.count == 1)
        let readyText = try #require(scenario.notifications.first { $0.contains("READY=1") })
        #expect(readyText.contains("STATUS="))
    }

    @Test("WATCHDOG while healthy")
    func watchdogWhileHealthy() async throws {
        let scenario = try await DaemonScenario.shared.value
        let ready = try #require(scenario.index { $0.notification?.contains("READY=1") == true })
        let pings = scenario.datagrams[ready...].filter { $0.notification == "WATCHDOG=1" }
        // The run lasts several seconds and a one-second watchdog requests a ping at least every half second.
        #expect(pings.count >= 4, "only \(pings.count) watchdog pings after READY")
        let warning = scenario.journal.first { $0.message.contains("engine.callTimeout is longer than half") }
        #expect(warning?["PRIORITY"] == "4", "a 60 s engine call timeout against a 1 s watchdog must be warned about")
    }

    @Test("STOPPING on SIGTERM")
    func stoppingOnSignal() async throws {
        let scenario = try await DaemonScenario.shared.value
        let ready = try #require(scenario.index { $0.notification?.contains("READY=1") == true })
        let stopping = try #require(scenario.index { $0.notification?.contains("STOPPING=1") == true }, "no STOPPING=1 was sent")
        let stopped = try #require(scenario.index { $0.journal?.message == "daemon stopped" })
        #expect(ready < stopping)
        #expect(stopping < stopped)
        #expect(scenario.exit?.status == 0)
        #expect(scenario.notifications.allSatisfy { !$0.contains("READY=1") || $0.hasPrefix("READY=1") })
    }

    @Test("drain extends the stop timeout")
    func drainExtendsTimeout() async throws {
        let scenario = try await DaemonScenario.shared.value
        let stopping = try #require(scenario.index { $0.notification?.contains("STOPPING=1") == true })
        let extend = try #require(
            scenario.index { $0.notification?.hasPrefix("EXTEND_TIMEOUT_USEC=") == true }, "no EXTEND_TIMEOUT_USEC while draining")
        #expect(stopping < extend)
        let stoppingText = try #require(scenario.datagrams[stopping].notification)
        #expect(stoppingText.contains("draining"))

        let sleeping = scenario.journal.filter { $0["JOB_ID"] == "\(scenario.sleepingJob)" }
        let stop = sleeping.first { $0.message == "stopping container" }
        #expect(stop?["REASON"] == "drain")
        #expect(stop?["CONTAINER_ID"] != nil)
        #expect(sleeping.contains { $0.message.hasPrefix("attempt interrupted by the daemon") })
    }

    @Test("STATUS follows running jobs")
    func statusLines() async throws {
        let scenario = try await DaemonScenario.shared.value
        let statuses = scenario.notifications.filter { $0.hasPrefix("STATUS=") }
        #expect(statuses.contains { $0.contains("1 running") || $0.contains("2 running") })
        #expect(statuses.contains { $0.contains("engine healthy") })
    }
}
