/// What one connection may ask of the hub, so a hostile or broken client meets a limit
/// instead of growing the hub's memory or work without end. Past a limit: commands and history
/// requests get an answer with status 429, everything else closes the connection with 1008
/// (logged as a protocol violation); every case is counted (`hub_statistics`: `limits_exceeded`).
package struct HubLimits: Sendable, Hashable {
    /// Sensors one connection may subscribe to at once. Default 10,000.
    package var subscriptionsPerConnection: Int
    /// Commands of one connection waiting for their agents. Default 100.
    package var pendingCommandsPerConnection: Int
    /// Commands a second per connection, on average; a burst of twice as many. Default 50.
    package var commandsPerSecond: Int
    /// `list_sensors` and `hub_statistics` requests a second per connection, on average; a
    /// burst of twice as many. Default 5.
    package var listsPerSecond: Int
    /// `sensor_history` requests a second per connection, on average; a burst of twice as many
    /// (a dashboard asks for every sensor's chart when it opens). Default 20.
    package var historyRequestsPerSecond: Int
    /// History requests of one connection being read from the store at once (each holds the
    /// points of its range in the hub's memory until it is answered). Default 4.
    package var pendingHistoryReadsPerConnection: Int
    /// History requests being read from the store at once, over every connection; past it a
    /// request gets 503 (busy). Default 32.
    package var historyReadsAtOnce: Int

    /// Limits; the defaults suit a dashboard or an app with many sensors.
    package init(subscriptionsPerConnection: Int = 10_000, pendingCommandsPerConnection: Int = 100,
                 commandsPerSecond: Int = 50, listsPerSecond: Int = 5, historyRequestsPerSecond: Int = 20,
                 pendingHistoryReadsPerConnection: Int = 4, historyReadsAtOnce: Int = 32) {
        self.subscriptionsPerConnection = subscriptionsPerConnection
        self.pendingCommandsPerConnection = pendingCommandsPerConnection
        self.commandsPerSecond = commandsPerSecond
        self.listsPerSecond = listsPerSecond
        self.historyRequestsPerSecond = historyRequestsPerSecond
        self.pendingHistoryReadsPerConnection = pendingHistoryReadsPerConnection
        self.historyReadsAtOnce = historyReadsAtOnce
    }

    /// One connection's buckets under these limits.
    package func buckets() -> (commands: TokenBucket, lists: TokenBucket, histories: TokenBucket) {
        (TokenBucket(rate: Double(commandsPerSecond), burst: 2 * commandsPerSecond),
         TokenBucket(rate: Double(listsPerSecond), burst: 2 * listsPerSecond),
         TokenBucket(rate: Double(historyRequestsPerSecond), burst: 2 * historyRequestsPerSecond))
    }
}
