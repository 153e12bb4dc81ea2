import BerthCore
import Testing

/// One edge of the job life cycle: a state, a transition and the state it leads to.
struct Edge: Sendable, CustomTestStringConvertible {
    let from: JobState
    let transition: JobTransition
    let to: JobState

    var testDescription: String { "\(from) --\(transition.rawValue)--> \(to)" }
}

/// A state and a transition that it must reject.
struct ForbiddenEdge: Sendable, CustomTestStringConvertible {
    let from: JobState
    let transition: JobTransition

    var testDescription: String { "\(transition.rawValue) from \(from)" }
}

/// The life cycle written out edge by edge, independently of `JobTransition.sources`,
/// so that a change to the table in the source shows up here as a failure.
let legalEdges: [Edge] = [
    Edge(from: .held, transition: .approve, to: .queued),
    Edge(from: .held, transition: .cancel, to: .cancelled),
    Edge(from: .queued, transition: .claim, to: .running),
    Edge(from: .queued, transition: .cancel, to: .cancelled),
    Edge(from: .running, transition: .succeed, to: .succeeded),
    Edge(from: .running, transition: .scheduleRetry, to: .failed),
    Edge(from: .running, transition: .bury, to: .dead),
    Edge(from: .running, transition: .cancel, to: .cancelled),
    Edge(from: .running, transition: .pauseForInput, to: .waiting),
    Edge(from: .running, transition: .requeue, to: .queued),
    Edge(from: .waiting, transition: .answer, to: .queued),
    Edge(from: .waiting, transition: .cancel, to: .cancelled),
    Edge(from: .failed, transition: .claim, to: .running),
    Edge(from: .failed, transition: .cancel, to: .cancelled),
    Edge(from: .failed, transition: .retry, to: .queued),
    Edge(from: .failed, transition: .resume, to: .queued),
    Edge(from: .succeeded, transition: .resume, to: .queued),
    Edge(from: .dead, transition: .retry, to: .queued),
    Edge(from: .dead, transition: .resume, to: .queued),
    Edge(from: .cancelled, transition: .retry, to: .queued),
    Edge(from: .cancelled, transition: .resume, to: .queued),
]

/// Every pair of state and transition that `legalEdges` does not list.
let forbiddenEdges: [ForbiddenEdge] = JobState.allCases.flatMap { state in
    JobTransition.allCases.compactMap { transition in
        let isLegal = legalEdges.contains { $0.from == state && $0.transition == transition }
        return isLegal ? nil : ForbiddenEdge(from: state, transition: transition)
    }
}

struct JobStateTests {
    @Test(arguments: legalEdges)
    func legalTransition(edge: Edge) throws {
        let next = try edge.from.applying(edge.transition)

        #expect(next == edge.to)
    }

    @Test(arguments: forbiddenEdges)
    func illegalTransition(edge: ForbiddenEdge) {
        let error = #expect(throws: IllegalTransition.self) {
            try edge.from.applying(edge.transition)
        }

        #expect(error == IllegalTransition(transition: edge.transition, state: edge.from))
    }

    @Test func illegalTableSize() {
        #expect(forbiddenEdges.count == JobState.allCases.count * JobTransition.allCases.count - legalEdges.count)
        #expect(forbiddenEdges.count == 67)
    }

    @Test func illegalTransitionMessage() {
        let error = IllegalTransition(transition: .claim, state: .held)

        #expect(error.description == "cannot claim a job in state held; allowed from: failed, queued")
    }

    @Test func finishedStatesLeaveOnlyByRetryOrResume() {
        for state in JobState.finished {
            let exits = legalEdges.filter { $0.from == state }.map(\.transition)
            #expect(exits.allSatisfy { $0 == .retry || $0 == .resume }, "\(state) leaves by \(exits)")
        }
    }

    @Test func finishedStates() {
        let finished = JobState.allCases.filter(\.isFinished)

        #expect(Set(finished) == [.succeeded, .dead, .cancelled])
    }

    @Test func claimableStates() {
        #expect(Set(JobState.claimable) == [.queued, .failed])
    }

    @Test func rawValuesMatchSchema() {
        // The CHECK constraint on jobs.state in migrations/0001_initial.sql lists these names.
        let names = JobState.allCases.map(\.rawValue)

        #expect(names == ["held", "queued", "running", "waiting", "failed", "succeeded", "dead", "cancelled"])
    }
}
