extension SensorClient {
    /// Calls `callback` with every reading of `sensorID`, followed by `callbackArgs`.
    ///
    /// ```swift
    /// func myCallback(_ id: String, _ readings: JSONValue, _ a: String, _ b: Int, _ c: AwesomeClass) { ... }
    /// try await client.registerCallback("CE7238J", myCallback, callbackArgs: ("arg1", 24, someArg))
    /// ```
    ///
    /// A thin adapter over ``readings(_:)`` and `for await`: the callback runs in one task
    /// per registration (never on the main actor unless it hops there itself), one reading
    /// at a time, in arrival order. Subscribes if the sensor is not subscribed yet.
    /// - Parameters:
    ///   - sensorID: The sensor whose readings to pass (1 to 40 characters).
    ///   - callback: Gets the sensor id, the reading's value, then `callbackArgs`.
    ///   - callbackArgs: Extra arguments of any types, passed to every call.
    ///   - buffering: What happens when the callback falls behind (default:
    ///     ``Configuration/readingBuffering``).
    /// - Throws: ``SensorClientError/invalidSensorID(_:)`` (nothing sent),
    ///   ``SensorClientError/disconnected`` after ``disconnect()``.
    public func registerCallback<each Argument>(
        _ sensorID: String,
        _ callback: sending @escaping (String, JSONValue, repeat each Argument) -> Void,
        callbackArgs: sending (repeat each Argument),
        buffering: ReadingBuffering? = nil
    ) async throws(SensorClientError) {
        try SensorClientError.validate(sensorID: sensorID)
        let (queue, consumerID) = engine.attachConsumer(sensorID, buffering: buffering)
        guard let consumerID else { throw .disconnected }
        let task = Task {
            var readings = SensorReadings.Iterator(queue: queue)
            while let reading = await readings.next() {
                callback(reading.sensorID, reading.readings, repeat each callbackArgs)
            }
        }
        let registered = engine.registerCallbackTask(sensorID, consumerID: consumerID, task)
        if !registered { task.cancel() }
    }

    /// Calls `callback` with every reading of `sensorID` (no extra arguments). See
    /// ``registerCallback(_:_:callbackArgs:buffering:)``.
    /// - Parameters:
    ///   - sensorID: The sensor whose readings to pass (1 to 40 characters).
    ///   - callback: Gets the sensor id and the reading's value.
    ///   - buffering: What happens when the callback falls behind (default:
    ///     ``Configuration/readingBuffering``).
    /// - Throws: As ``registerCallback(_:_:callbackArgs:buffering:)``.
    public func registerCallback(_ sensorID: String,
                                 _ callback: sending @escaping (String, JSONValue) -> Void,
                                 buffering: ReadingBuffering? = nil) async throws(SensorClientError) {
        try await registerCallback(sensorID, callback, callbackArgs: (), buffering: buffering)
    }

    /// Removes every callback of `sensorID` and releases the subscription they held
    /// (`unsubscribe_sensor` is sent if nothing else holds the sensor).
    /// - Parameter sensorID: The sensor whose callbacks to remove.
    public func removeCallback(_ sensorID: String) async {
        engine.removeCallbacks(sensorID)
    }
}
