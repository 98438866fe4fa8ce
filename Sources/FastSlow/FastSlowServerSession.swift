/// What the server does with one connection's requests, without sockets or timers: a fast
/// request is answered now, a slow one after its sleep with the client count of the moment it
/// arrived, anything else closes the connection. The server carries the actions out.
package struct FastSlowServerSession: Sendable {
    /// What to do with a message.
    package enum Action: Sendable, Hashable {
        /// Answer with a `FastResponse` holding the current time.
        case answerFast
        /// Answer `response` after `delay` (unless the client is gone by then).
        case answerLater(after: Duration, SlowResponse)
        /// Close the connection, logging `reason`.
        case close(reason: String)
    }

    /// Slow answers that may wait at once before the connection is closed.
    package let maxPendingSlow: Int
    /// Slow answers waiting now.
    package private(set) var pendingSlow = 0

    /// A session allowing `maxPendingSlow` slow answers to wait at once.
    package init(maxPendingSlow: Int) {
        self.maxPendingSlow = maxPendingSlow
    }

    /// Decides what `message` calls for; `connectedClients` counts the clients connected now,
    /// this one included.
    package mutating func received(_ message: WrapperMessage, connectedClients: Int) -> Action {
        switch message {
        case .requestForFastResponse:
            return .answerFast
        case .requestForSlowResponse(let request):
            guard pendingSlow < maxPendingSlow else {
                return .close(reason: "more than \(maxPendingSlow) slow requests waiting")
            }
            pendingSlow += 1
            let count = UInt32(clamping: connectedClients)
            return .answerLater(after: .seconds(Int64(request.timeInSecondsToSleep)), SlowResponse(connectedClientCount: count))
        case .fastResponse:
            return .close(reason: "a client sent a FastResponse")
        case .slowResponse:
            return .close(reason: "a client sent a SlowResponse")
        }
    }

    /// A slow answer went out (or was dropped).
    package mutating func slowAnswered() {
        pendingSlow = max(0, pendingSlow - 1)
    }
}
