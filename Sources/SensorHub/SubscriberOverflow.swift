/// What the hub does when a subscriber cannot keep up (more than `maxBacklog` bytes wait for
/// its socket).
package enum SubscriberOverflow: Sendable, Hashable {
    /// Drop readings for that subscriber (reported as ``HubEvent/readingsDropped(peer:count:)``):
    /// it never grows the hub's memory and never slows anyone else. The default.
    case dropReadings
    /// Drop nothing: stop reading from the agents whose readings it is behind on until it
    /// catches up, so TCP slows those agents down. The cost: one stalled subscriber stalls
    /// every agent publishing to it, and so every other subscriber of those agents' sensors.
    /// In-process agents (``attachAgent(name:sensors:)``) are not held back.
    case backpressure
}
