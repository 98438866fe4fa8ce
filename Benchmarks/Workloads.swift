import SensorStream
import TestSupport
import WebSocketCore

/// The inputs of the benchmarks, generated once from a fixed seed.
enum Workloads {
    /// A ~130-byte `new_sensor_data` message, varied by `index`.
    static func sensorMessage(_ index: Int, using generator: inout SeededGenerator) -> String {
        let temperature = Double(Int.random(in: 1500...2500, using: &generator)) / 100
        let humidity = Double(Int.random(in: 300...700, using: &generator)) / 10
        return #"{"event":"new_sensor_data","data":{"sensor_id":"A0\#(index % 10)-S\#(index % 7)","sensor_readings":{"temperature":\#(temperature),"humidity":\#(humidity),"seq":\#(index)}}}"#
    }

    /// `count` single-frame text messages, masked (client -> server) or not.
    static func textFrames(count: Int, masked: Bool) -> (bytes: [UInt8], payloadBytes: Int) {
        var generator = SeededGenerator(seed: 1)
        var keys = FixedMaskingKeys([WebSocketMaskingKey(0x12, 0x34, 0x56, 0x78), WebSocketMaskingKey(0x9A, 0xBC, 0xDE, 0xF0)])
        var bytes: [UInt8] = []
        bytes.reserveCapacity(count * 140)
        var payloadBytes = 0
        for index in 0..<count {
            let text = sensorMessage(index, using: &generator)
            payloadBytes += text.utf8.count
            FrameEncoder.append(opcode: .text, payload: Array(text.utf8), maskingKey: masked ? keys.nextKey() : nil, to: &bytes)
        }
        return (bytes, payloadBytes)
    }

    /// `count` binary frames of `size` bytes, unmasked.
    static func binaryFrames(count: Int, size: Int) -> [UInt8] {
        var generator = SeededGenerator(seed: 2)
        let payload = (0..<size).map { _ in UInt8.random(in: 0...255, using: &generator) }
        var bytes: [UInt8] = []
        bytes.reserveCapacity(count * (size + 10))
        for _ in 0..<count { FrameEncoder.append(opcode: .binary, payload: payload, maskingKey: nil, to: &bytes) }
        return bytes
    }

    /// `count` text messages in 3 fragments each, with a ping every 10 messages, unmasked.
    static func fragmentedMessages(count: Int) -> (bytes: [UInt8], frames: Int) {
        var generator = SeededGenerator(seed: 3)
        var bytes: [UInt8] = []
        var frames = 0
        for index in 0..<count {
            let text = Array(sensorMessage(index, using: &generator).utf8)
            let third = text.count / 3
            FrameEncoder.append(opcode: .text, fin: false, payload: Array(text[..<third]), maskingKey: nil, to: &bytes)
            FrameEncoder.append(opcode: .continuation, fin: false, payload: Array(text[third..<(2 * third)]), maskingKey: nil, to: &bytes)
            FrameEncoder.append(opcode: .continuation, fin: true, payload: Array(text[(2 * third)...]), maskingKey: nil, to: &bytes)
            frames += 3
            if index % 10 == 9 {
                FrameEncoder.append(opcode: .ping, payload: [1, 2, 3, 4], maskingKey: nil, to: &bytes)
                frames += 1
            }
        }
        return (bytes, frames)
    }
}
