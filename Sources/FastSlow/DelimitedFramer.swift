/// Splits a byte stream into size-prefixed messages (protobuf's `writeDelimitedTo` /
/// `parseDelimitedFrom`): a varint32 size, then that many bytes. Resumable at any split,
/// inside the size prefix too.
public struct DelimitedFramer: Sendable {
    /// Why the stream cannot go on (the connection is closed).
    public enum Failure: Error, Sendable, Hashable {
        /// The size prefix has more than 5 bytes.
        case prefixTooLong
        /// The announced size is above the limit.
        case messageTooLarge(UInt64)
    }

    /// The largest message accepted.
    public let maxMessageSize: Int
    private var size: UInt64 = 0
    private var prefixBytes = 0
    private var expecting: Int?
    private var payload: [UInt8] = []

    /// A framer accepting messages up to `maxMessageSize` bytes.
    /// - Parameter maxMessageSize: The limit (default 1 MiB).
    public init(maxMessageSize: Int = 1 << 20) {
        self.maxMessageSize = maxMessageSize
    }

    /// Appends every message `input` completes, in order.
    /// - Parameters:
    ///   - input: The bytes just read.
    ///   - messages: Where complete message bodies go (without their prefix).
    /// - Throws: ``Failure``; the framer must not be fed after that.
    public mutating func feed(_ input: some Collection<UInt8>, into messages: inout [[UInt8]]) throws(Failure) {
        var index = input.startIndex
        while index != input.endIndex {
            if let length = expecting {
                let available = input.distance(from: index, to: input.endIndex)
                let take = min(available, length - payload.count)
                let end = input.index(index, offsetBy: take)
                payload += input[index..<end]
                index = end
                if payload.count == length {
                    messages.append(payload)
                    payload = []
                    expecting = nil
                }
                continue
            }
            let byte = input[index]
            index = input.index(after: index)
            size |= UInt64(byte & 0x7F) << (7 * UInt64(prefixBytes))
            prefixBytes += 1
            if byte & 0x80 != 0 {
                if prefixBytes == 5 { throw .prefixTooLong }
                continue
            }
            guard size <= UInt64(maxMessageSize) else { throw .messageTooLarge(size) }
            let length = Int(size)
            size = 0
            prefixBytes = 0
            if length == 0 {
                messages.append([])
            } else {
                expecting = length
                payload.reserveCapacity(length)
            }
        }
    }

    /// `message` with its size prefix, ready to write.
    /// - Parameter message: A message body.
    /// - Returns: The prefix and the body.
    public static func frame(_ message: [UInt8]) -> [UInt8] {
        var bytes: [UInt8] = []
        ProtoWire.appendVarint(UInt64(message.count), to: &bytes)
        return bytes + message
    }
}
