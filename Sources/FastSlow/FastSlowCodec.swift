import ConnectionCore

/// The FastSlow wire protocol as a codec for the shared connection core, for both sides:
/// received bytes go through the ``DelimitedFramer`` and ``WrapperMessage/decode(_:)``;
/// ``WrapperMessage``s go out size-prefixed. No handshake, no probe; closing is closing TCP
/// once the output is written.
///
/// Events: one `[WrapperMessage]` per read (the messages it completed, in order), then, if
/// the stream broke the protocol, one ``FastSlowStreamFailure`` and the end of input: nothing
/// after a bad message is read.
package struct FastSlowCodec: BufferedTransportCodec, MessageCodec {
    /// The messages one read completed, in order.
    package typealias Inbound = [WrapperMessage]
    /// One request or answer.
    package typealias Outbound = WrapperMessage
    /// A broken size prefix or message ends the stream.
    package typealias Failure = FastSlowStreamFailure

    private var framer: DelimitedFramer
    package var output: [UInt8] = []
    package var closed = false
    private var failed = false
    private var bodies: [[UInt8]] = []

    package init(maxMessageSize: Int) {
        framer = DelimitedFramer(maxMessageSize: maxMessageSize)
    }

    package mutating func receive(_ input: UnsafeMutableRawBufferPointer, into events: inout [CodecEvent]) {
        guard !closed, !failed else { return }
        var failure: FastSlowStreamFailure?
        do throws(DelimitedFramer.Failure) {
            try framer.feed(UnsafeRawBufferPointer(input), into: &bodies)
        } catch {
            failure = .framing(error)
        }
        var messages: [WrapperMessage] = []
        messages.reserveCapacity(bodies.count)
        for body in bodies {
            do throws(ProtoDecodeError) {
                messages.append(try WrapperMessage.decode(body))
            } catch {
                // The messages before it count; the rest of the stream does not.
                failure = .decoding(error)
                break
            }
        }
        bodies.removeAll(keepingCapacity: true)
        if !messages.isEmpty { events.append(.message(messages, byteCount: input.count)) }
        if let failure {
            failed = true
            events.append(.failed(failure))
        }
    }

    package mutating func queue(_ message: WrapperMessage) throws(ConnectionError) {
        guard !closed else { throw .closed }
        message.appendDelimited(to: &output)
    }

    package var isReading: Bool { !closed && !failed }
}

/// Why a FastSlow byte stream cannot go on: the connection is closed after the messages that
/// came before.
public enum FastSlowStreamFailure: Error, Sendable, Hashable, CustomStringConvertible {
    /// The size prefix is over 5 bytes, or announces more than the configured maximum.
    case framing(DelimitedFramer.Failure)
    /// A message is not a valid `WrapperMessage`.
    case decoding(ProtoDecodeError)

    /// A readable explanation.
    public var description: String {
        switch self {
        case .framing(.prefixTooLong): "size prefix longer than 5 bytes"
        case .framing(.messageTooLarge(let size)): "message of \(size) bytes is above the limit"
        case .decoding(let error): "malformed message: \(error)"
        }
    }
}
