/// Thrown by ``withRequestTimeout(_:clock:_:)`` when the time is up.
package struct RequestTimedOut: Error, Sendable, Hashable {
    package init() {}
}

/// Runs `operation`, racing it against `timeout` on `clock`: its result, or
/// ``RequestTimedOut`` when the clock gets there first (the operation is cancelled; it must
/// give up its waiter when cancelled, as the request tables' callers do).
package func withRequestTimeout<Value: Sendable>(
    _ timeout: Duration?, clock: any Clock<Duration>, _ operation: @escaping @Sendable () async throws -> Value
) async throws -> Value {
    guard let timeout else { return try await operation() }
    return try await withThrowingTaskGroup(of: Value.self) { group in
        group.addTask { try await operation() }
        group.addTask {
            try await clock.sleep(for: timeout)
            throw RequestTimedOut()
        }
        defer { group.cancelAll() }
        guard let value = try await group.next() else { throw RequestTimedOut() }
        return value
    }
}
