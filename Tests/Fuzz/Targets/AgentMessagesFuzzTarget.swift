import SensorAgent
import SensorWire

/// Fuzzing of the agent-side message decoder (what a hub sends a device agent), and the hub's
/// decoder of agent messages.
///
/// Input: any bytes, read as JSON text. Checks: decoding never traps; whatever decodes as a
/// hub or agent message re-encodes to an envelope that decodes to the same message; a decoded
/// agent session fed the message never sends without a connection and never loses a waiter.
enum AgentMessagesFuzzTarget {
    static func run(_ input: UnsafeRawBufferPointer) {
        let text = String(decoding: input, as: UTF8.self)
        guard let envelope = SensorProtocol.decode(text) else { return }
        if let message = HubToAgent(envelope) {
            let again = SensorProtocol.decode(SensorProtocol.encode(message.envelope)).flatMap(HubToAgent.init)
            precondition(again == message, "a hub message does not round-trip")
            var session = AgentSession<Int>(agentID: "fuzz", token: nil)
            let queued = session.submit({ .event(requestID: $0, deviceID: "d", service: "s", data: 1) }, waiter: 7)
            precondition(queued.send.isEmpty, "sent while offline")
            _ = session.connected(devices: [Device(id: "d", type: "t", name: "n")])
            let (send, resolution) = session.received(message) { $0 == "d" ? Device(id: "d", type: "t", name: "n") : nil }
            if case .acked(let waiter, _, _) = resolution { precondition(waiter == 7 && session.queue.isEmpty, "an ack resolved the wrong waiter") }
            if case .sync = message { precondition(send.contains { $0.requestID == queued.requestID }, "the queue was not sent after the sync") }
        }
        if let message = AgentToHub(envelope) {
            let again = SensorProtocol.decode(SensorProtocol.encode(message.envelope)).flatMap(AgentToHub.init)
            precondition(again == message, "an agent message does not round-trip")
        }
    }
}
