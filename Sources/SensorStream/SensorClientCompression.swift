import WebSocketCore

extension SensorClient {
    /// WebSocket compression, permessage-deflate (RFC 7692), as the client offers it.
    ///
    /// The client offers it in its opening handshake; the server decides. A server that
    /// declines costs nothing but the offer's one header line: no compressor is allocated
    /// until a compressed message is sent or received. When the server accepts, every message
    /// is compressed with zlib and inflated under ``Configuration/maxMessageSize`` (a message
    /// that inflates beyond it closes the connection with 1009 before memory grows past it).
    public struct Compression: Sendable, Hashable {
        /// Whether the client offers compression. Default true.
        public var isEnabled: Bool
        /// The LZ77 window the client compresses with, as a power of two: 9 (512 bytes) to 15
        /// (32 KiB, the default). Smaller windows take less memory and compress less.
        public var windowBits: Int
        /// Compress every message on its own, without the memory of earlier ones: less memory
        /// between messages, much less compression for streams of similar messages. Default false.
        public var noContextTakeover: Bool

        /// A compression setting; every parameter left out keeps its default.
        /// - Parameters:
        ///   - isEnabled: See ``isEnabled``.
        ///   - windowBits: See ``windowBits``; clamped to 9...15.
        ///   - noContextTakeover: See ``noContextTakeover``.
        public init(isEnabled: Bool = true, windowBits: Int = 15, noContextTakeover: Bool = false) {
            self.isEnabled = isEnabled
            self.windowBits = min(max(windowBits, 9), 15)
            self.noContextTakeover = noContextTakeover
        }

        /// No offer: messages always travel uncompressed.
        public static let disabled = Compression(isEnabled: false)

        /// What the WebSocket layer offers for this setting.
        var deflateConfiguration: PerMessageDeflateConfiguration? {
            isEnabled ? PerMessageDeflateConfiguration(windowBits: windowBits, noContextTakeover: noContextTakeover) : nil
        }
    }
}
