import BerthCore
import BerthStore
import BerthTestSupport
import Foundation
import Testing

/// Workers whose wall clocks disagree, at the store level.
///
/// The daemon reads wall-clock time only through `Clock.nowMilliseconds()`
/// and passes it to the store as `now:`. Its intervals (heartbeats, polls,
/// the timeout of a running attempt) use the monotonic clock, which a jump
/// of the wall clock does not move. So each test plays two workers on one
/// database by passing each worker's own reading of the clock as `now:`.
///
/// A lease is valid until `lease_expires_at`, which the owner computes from
/// its own clock, and a rescuer compares that time with its own clock. Skew
/// shorter than the lease duration minus the heartbeat interval is harmless.
/// An owner whose clock runs behind by more than that has its live job
/// rescued. An owner whose clock runs ahead delays the rescue of its jobs by
/// its skew when it dies.
@Suite final class ClockSkew {
    /// The true time at the start of each scenario, in Unix milliseconds.
    static let start: Int64 = 1_800_000_000_000
    static let lease = TimeSpan.seconds(60)
    static let heartbeat: Int64 = 10_000

    let directory: String
    let store: JobStore

    init() throws {
        var template = Array((NSTemporaryDirectory() + "/berth-clock-XXXXXX").utf8CString)
        guard let created = mkdtemp(&template) else { throw TestFailure("mkdtemp failed: \(String(cString: strerror(errno)))") }
        directory = String(cString: created)
        store = try JobStore(options: DatabaseOptions(path: directory + "/berth.db"), now: Self.start)
        let spec = JobSpec(image: "localhost/berth-test:latest", command: ["true"])
        // Submitted a day early, so that a worker whose clock runs behind finds it ready.
        _ = try store.submit([spec], now: Self.start - 86_400_000)
    }

    deinit {
        try? FileManager.default.removeItem(atPath: directory)
    }

    /// Claims the job as `worker` whose clock reads `clock`.
    func claim(worker: String, clock: Int64) throws -> Lease {
        try #require(try store.claim(queue: nil, worker: worker, leaseDuration: Self.lease, now: clock)).lease
    }

    /// The attempt result that a rescuer records.
    let lost = AttemptResult(outcome: .lost, message: "worker stopped renewing its lease")

    @Test func smallSkewKeepsLiveLease() throws {
        // The owner runs 45 s behind and the rescuer is right: the margin is
        // the lease (60 s) minus the heartbeat interval (10 s).
        let skew: Int64 = -45_000
        let lease = try claim(worker: "behind", clock: Self.start + skew)

        for beat in 1...6 {
            let now = Self.start + Int64(beat) * Self.heartbeat
            // The rescuer looks just before the owner's next renewal.
            #expect(try store.expiredLeases(now: now - 1).isEmpty, "rescuable \(beat) heartbeats in")
            _ = try store.renewLease(lease, leaseDuration: Self.lease, now: now + skew)
        }
        #expect(try store.requireJob(id: lease.jobID).leaseOwner == "behind")
    }

    @Test func ownerFarBehindLosesLiveLease() throws {
        // Skew past the lease duration: the lease is already over by the rescuer's clock.
        let skew: Int64 = -61_000
        let lease = try claim(worker: "behind", clock: Self.start + skew)

        let expired = try store.expiredLeases(now: Self.start)
        #expect(expired.map(\.lease) == [lease])
        try store.rescueExpiredLease(lease, result: lost, decision: .retry(after: .seconds(1)), now: Self.start)

        // The owner's next write is fenced out, so it stops its container.
        #expect(throws: StoreError.leaseLost(lease)) {
            try store.renewLease(lease, leaseDuration: Self.lease, now: Self.start + Self.heartbeat + skew)
        }
    }

    @Test func rescuerBehindStealsNothing() throws {
        let lease = try claim(worker: "right", clock: Self.start)
        let rescuerClock = Self.start + 30_000 - 3_600_000

        #expect(try store.expiredLeases(now: rescuerClock).isEmpty)
        #expect(throws: StoreError.leaseLost(lease)) {
            try store.rescueExpiredLease(lease, result: lost, decision: .retry(after: .seconds(1)), now: rescuerClock)
        }
        #expect(try store.requireJob(id: lease.jobID).state == .running)
    }

    @Test func ownerAheadDelaysRescue() throws {
        // The owner's clock jumped an hour ahead; then the owner dies.
        let skew: Int64 = 3_600_000
        let lease = try claim(worker: "ahead", clock: Self.start)
        _ = try store.renewLease(lease, leaseDuration: Self.lease, now: Self.start + Self.heartbeat + skew)

        // A right clock finds the lease live for the skew past the usual expiry.
        let usualExpiry = Self.start + Self.heartbeat + Self.lease.milliseconds
        #expect(try store.expiredLeases(now: usualExpiry + 1).isEmpty)
        #expect(try store.expiredLeases(now: usualExpiry + skew - 1).isEmpty)
        #expect(try store.expiredLeases(now: usualExpiry + skew + 1).map(\.lease) == [lease])
    }

    @Test func ownerClockJumpBackKeepsExpiry() throws {
        // A renewal never moves the expiry earlier, so after the owner's clock
        // jumped back two minutes the expiry of the last renewal before the
        // jump stays, and the lease runs out then unless the clock catches up.
        let lease = try claim(worker: "jumps", clock: Self.start)
        _ = try store.renewLease(lease, leaseDuration: Self.lease, now: Self.start + Self.heartbeat)
        _ = try store.renewLease(lease, leaseDuration: Self.lease, now: Self.start + 2 * Self.heartbeat - 120_000)

        let usualExpiry = Self.start + Self.heartbeat + Self.lease.milliseconds
        let expiresAt = try #require(try store.requireJob(id: lease.jobID).leaseExpiresAt)
        #expect(expiresAt == usualExpiry)
        #expect(try store.expiredLeases(now: Self.start + 2 * Self.heartbeat).isEmpty)
        #expect(try store.expiredLeases(now: usualExpiry + 1).map(\.lease) == [lease])
    }
}
