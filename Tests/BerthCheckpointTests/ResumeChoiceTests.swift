import BerthCore
import Testing

@testable import BerthDaemon
@testable import BerthStore

/// Which checkpoint a resume starts from, decided without I/O.
struct ResumeChoiceTests {
    static let perstack = PerstackAdapter(options: JobSpec.PerstackOptions(expert: "writer", query: "q"), jobID: 5)

    static func record(
        _ id: Int64, _ name: String, valid: Bool = true, superseded: Bool = false, metadata: String? = nil, refused: String? = nil
    ) -> CheckpointRecord {
        CheckpointRecord(
            id: id, jobID: 5, attempt: 1, name: name, sha256: refused == nil ? "00" : nil, size: 1,
            storedPath: refused == nil ? "/store/5/00" : nil, valid: valid && refused == nil, refusedReason: refused,
            metadata: metadata, superseded: superseded, capturedAt: 0)
    }

    /// Makes a Perstack checkpoint row with the metadata that capture would store.
    static func perstackRecord(
        _ id: Int64, expert: String = "writer", status: String = "proceeding", step: Int = 1, delegatedBy: String? = nil
    ) -> CheckpointRecord {
        var object: [String: Any] = ["id": "c\(id)", "expert": ["key": expert], "status": status, "stepNumber": step]
        if let delegatedBy { object["delegatedBy"] = ["expert": ["key": delegatedBy]] }
        let info = PerstackCheckpointInfo(checkpoint: object)!
        return record(id, "c\(id).json", metadata: info.encoded())
    }

    @Test func genericChoosesNewestValid() {
        let records = [
            Self.record(1, "step-1"), Self.record(2, "step-2"), Self.record(3, "step-3", valid: false),
            Self.record(4, "evil", refused: "is a FIFO, not a regular file"),
        ]

        #expect(GenericAdapter().chooseResumePoint(records, answeredCheckpoint: nil)?.id == 2)
    }

    @Test func supersededNeverChosen() {
        let records = [Self.record(1, "step-1"), Self.record(2, "step-2", superseded: true)]

        #expect(GenericAdapter().chooseResumePoint(records, answeredCheckpoint: nil)?.id == 1)
    }

    @Test func nothingResumableChoosesNone() {
        let records = [Self.record(1, "step-1", valid: false), Self.record(2, "x", refused: "the name is empty")]

        #expect(GenericAdapter().chooseResumePoint(records, answeredCheckpoint: nil) == nil)
    }

    @Test func perstackSkipsDelegatedAndForeign() {
        let records = [
            Self.perstackRecord(1, step: 1),
            Self.perstackRecord(2, step: 2),
            Self.perstackRecord(3, expert: "helper", step: 1, delegatedBy: "writer"),
            Self.perstackRecord(4, expert: "helper", status: "completed", step: 2, delegatedBy: "writer"),
            Self.perstackRecord(5, expert: "other", step: 9),
        ]

        #expect(Self.perstack.chooseResumePoint(records, answeredCheckpoint: nil)?.id == 2)
    }

    @Test func perstackSkipsStopsThatNeedInput() {
        let records = [
            Self.perstackRecord(1, step: 1),
            Self.perstackRecord(2, status: "stoppedByDelegate", step: 2),
            Self.perstackRecord(3, status: "stoppedByInteractiveTool", step: 3),
        ]

        #expect(Self.perstack.chooseResumePoint(records, answeredCheckpoint: nil)?.id == 1)
        #expect(Self.perstack.chooseResumePoint(records, answeredCheckpoint: 3)?.id == 3)
    }

    @Test(arguments: ["completed", "stoppedByError", "stoppedByExceededMaxSteps", "init", "proceeding"])
    func perstackResumableStatus(status: String) {
        #expect(Self.perstack.resumeProblem(Self.perstackRecord(1, status: status), answeredCheckpoint: nil) == nil)
    }

    @Test func perstackInvalidContentNotChosen() {
        let records = [Self.perstackRecord(1), Self.record(2, "c2.json", valid: false)]

        #expect(Self.perstack.chooseResumePoint(records, answeredCheckpoint: nil)?.id == 1)
    }

    @Test func perstackProblemsNameTheReason() {
        let delegated = Self.perstack.resumeProblem(
            Self.perstackRecord(1, expert: "helper", delegatedBy: "writer"), answeredCheckpoint: nil)
        let foreign = Self.perstack.resumeProblem(Self.perstackRecord(2, expert: "other"), answeredCheckpoint: nil)
        let opaque = Self.perstack.resumeProblem(Self.record(3, "c3.json"), answeredCheckpoint: nil)

        #expect(delegated == "it was written by expert helper while delegated by writer; a resume starts from a checkpoint of the job's own expert")
        #expect(foreign == "it belongs to expert other, not to the job's expert writer")
        #expect(opaque == "its content is not a Perstack checkpoint")
    }

    @Test func perstackInspectionChecksIdAndExpert() {
        let content = Array(#"{"id":"c7","expert":{"key":"writer"},"status":"proceeding","stepNumber":7}"#.utf8)

        #expect(Self.perstack.inspect(content, name: "c7.json").valid)
        #expect(!Self.perstack.inspect(content, name: "c8.json").valid)
        #expect(!Self.perstack.inspect(Array(#"{"id":"c7","expert":{"#.utf8), name: "c7.json").valid)
        #expect(!Self.perstack.inspect(Array(#"{"id":"c7"}"#.utf8), name: "c7.json").valid)
    }

    @Test func perstackNameDecisions() {
        #expect(Self.perstack.decide(name: "c7.json") == .capture)
        #expect(Self.perstack.decide(name: ".c7.json.swp") == .ignore)
        #expect(Self.perstack.decide(name: "c7.json.tmp") == .ignore)
        if case .refuse = Self.perstack.decide(name: "notes.txt") {} else {
            Issue.record("a name that is not ID.json must be refused")
        }
    }

    @Test func genericInspectionChecksJSONOnly() {
        #expect(GenericAdapter().inspect(Array(#"{"step":3}"#.utf8), name: "s.json").valid)
        #expect(!GenericAdapter().inspect(Array(#"{"step":"#.utf8), name: "s.json").valid)
        #expect(GenericAdapter().inspect(Array(#"{"step":"#.utf8), name: "s.bin").valid)
    }

    @Test func genericPreparationSetsResumePath() {
        let job = ClaimedJob(
            lease: Lease(jobID: 5, attempt: 2, owner: "w"), queue: "default", spec: JobSpec(image: "i", command: ["x"]),
            attemptsUsed: 1, leaseExpiresAt: 0, resumeFrom: nil, inputAnswer: nil)

        let preparation = GenericAdapter().preparation(for: job, resumingFrom: Self.record(9, "step-3.json"), answer: nil, environmentFile: "/run/e")

        #expect(preparation.environment == [
            "BERTH_JOB_ID": "5", "BERTH_ATTEMPT": "2", "BERTH_CHECKPOINT_DIR": "/workspace/checkpoints",
            "BERTH_RESUME_FROM": "/workspace/checkpoints/step-3.json",
        ])
        #expect(preparation.command == nil)
        #expect(preparation.resumedFrom == 9)
    }
}
