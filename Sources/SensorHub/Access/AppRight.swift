/// What an app's token allows it on the hub.
package enum AppRight: String, Sendable, Hashable, Comparable, CaseIterable {
    /// Connection status, subscribe and unsubscribe, the sensor list, statistics.
    case read
    /// `read`, and commands to devices.
    case command
    /// Everything an app can do (`command` today).
    case admin

    package static func < (lhs: AppRight, rhs: AppRight) -> Bool {
        allCases.firstIndex(of: lhs)! < allCases.firstIndex(of: rhs)!
    }
}
