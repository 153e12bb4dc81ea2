import Synchronization

/// A value that is set once and awaited by any number of tasks.
///
/// Waiting does not block a thread: each waiter is a continuation resumed
/// when the value is set, or with nil when the waiting task is cancelled.
final class CompletionLatch<Value: Sendable>: Sendable {
    private struct State {
        var value: Value?
        var waiters: [Int: CheckedContinuation<Value?, Never>] = [:]
        var nextWaiterID = 0
    }

    private let state = Mutex(State())

    init() {}

    /// The value, or nil while it is not set.
    var value: Value? {
        state.withLock { $0.value }
    }

    /// Sets the value and resumes every waiter. Later calls are ignored.
    func complete(with value: Value) {
        let waiters = state.withLock { state -> [CheckedContinuation<Value?, Never>] in
            guard state.value == nil else { return [] }
            state.value = value
            defer { state.waiters.removeAll() }
            return Array(state.waiters.values)
        }
        for waiter in waiters {
            waiter.resume(returning: value)
        }
    }

    /// Waits for the value, and returns nil only when the task is cancelled first.
    func wait() async -> Value? {
        let waiterID = state.withLock { state in
            state.nextWaiterID += 1
            return state.nextWaiterID
        }
        return await withTaskCancellationHandler {
            await withCheckedContinuation { (continuation: CheckedContinuation<Value?, Never>) in
                let immediate: Value?? = state.withLock { state in
                    if let value = state.value {
                        return .some(value)
                    }
                    if Task.isCancelled {
                        return .some(nil)
                    }
                    state.waiters[waiterID] = continuation
                    return .none
                }
                if let immediate {
                    continuation.resume(returning: immediate)
                }
            }
        } onCancel: {
            let waiter = state.withLock { $0.waiters.removeValue(forKey: waiterID) }
            waiter?.resume(returning: nil)
        }
    }

    /// Waits for the value at most `timeout`, and returns nil when the time runs out or the task is cancelled.
    func wait(timeout: Duration) async -> Value? {
        let first = await withTaskGroup(of: Value?.self) { group in
            group.addTask { await self.wait() }
            group.addTask {
                try? await Task.sleep(for: timeout)
                return nil
            }
            let first = await group.next() ?? nil
            group.cancelAll()
            return first
        }
        // The value may have arrived just as the timer fired.
        return first ?? value
    }
}
