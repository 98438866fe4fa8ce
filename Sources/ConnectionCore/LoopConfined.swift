/// A value that only one event loop's thread touches: the loop's handler table, a
/// connection's registered interest and deadline timer. No lock on the hot path; the loop
/// checks the thread in debug builds.
///
/// `@unchecked Sendable` is sound because every access goes through ``withValue(_:)`` on the
/// loop's thread (asserted), so no two threads ever reach the value.
final class LoopConfined<Value>: @unchecked Sendable {
    private var value: Value
    private unowned let loop: EventLoop

    init(_ value: Value, loop: EventLoop) {
        self.value = value
        self.loop = loop
    }

    /// Runs `body` with the value. Loop thread only.
    func withValue<Result>(_ body: (inout Value) -> Result) -> Result {
        assert(loop.inLoop, "Internal inconsistency: loop-confined state used off the loop thread")
        return body(&value)
    }
}
