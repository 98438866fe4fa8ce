/// Text messages encoded once as unmasked, uncompressed frames, for writing the same messages
/// to many server connections (the hub's fan-out): each connection copies the frames into its
/// output instead of framing every message again. A connection that cannot use them as they
/// are (a client, which masks; permessage-deflate, which compresses per connection) frames
/// ``texts`` itself.
package struct EncodedTextMessages: Sendable {
    /// The messages, in order.
    package let texts: [String]
    /// Their frames, one FIN text frame each, concatenated, without a mask; nil when they
    /// were not framed (messages for one connection frame as they are queued: no copy).
    package let serverFrames: [UInt8]?

    /// Frames `texts` once, or (`framed: false`) keeps them to be framed by the one
    /// connection they go to.
    package init(_ texts: [String], framed: Bool = true) {
        self.texts = texts
        guard framed else {
            serverFrames = nil
            return
        }
        var frames: [UInt8] = []
        frames.reserveCapacity(texts.reduce(0) { $0 + $1.utf8.count + 4 })
        for var text in texts {
            text.withUTF8 { FrameEncoder.append(opcode: .text, payload: UnsafeRawBufferPointer($0), maskingKey: nil, to: &frames) }
        }
        serverFrames = frames
    }
}
