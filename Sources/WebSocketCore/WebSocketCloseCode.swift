/// A close status code (RFC 6455 section 7.4).
///
/// A struct rather than an enum: the registered range (3000-3999) and the private range
/// (4000-4999) are open-ended, and an application may use any code in them.
package struct WebSocketCloseCode: RawRepresentable, Hashable, Sendable, CustomStringConvertible {
    package var rawValue: UInt16

    package init(rawValue: UInt16) { self.rawValue = rawValue }
    package init(_ rawValue: UInt16) { self.rawValue = rawValue }

    /// 1000: the purpose of the connection is fulfilled.
    package static let normalClosure = Self(1000)
    /// 1001: the endpoint is going away (server shutdown, page navigation).
    package static let goingAway = Self(1001)
    /// 1002: the peer broke the protocol.
    package static let protocolError = Self(1002)
    /// 1003: the endpoint received a data type it cannot accept.
    package static let unsupportedData = Self(1003)
    /// 1005: reserved; stands for "the close frame had no status code". Never sent on the wire.
    package static let noStatusReceived = Self(1005)
    /// 1006: reserved; stands for "the connection was lost without a close frame". Never sent.
    package static let abnormalClosure = Self(1006)
    /// 1007: a text message (or close reason) was not valid UTF-8.
    package static let invalidPayloadData = Self(1007)
    /// 1008: a message violated the endpoint's policy.
    package static let policyViolation = Self(1008)
    /// 1009: a message or frame was larger than the endpoint accepts.
    package static let messageTooBig = Self(1009)
    /// 1010: the client expected an extension the server did not negotiate.
    package static let mandatoryExtension = Self(1010)
    /// 1011: the server met an unexpected condition.
    package static let internalError = Self(1011)

    /// Whether this code may appear in a close frame on the wire (RFC 6455 section 7.4.1 and
    /// the IANA registry): 1000-1003, 1007-1011, 3000-4999. 1004-1006, 1015 and the unassigned
    /// rest of 1000-2999 are invalid, and so is anything below 1000 or above 4999.
    package var isSendable: Bool {
        switch rawValue {
        case 1000...1003, 1007...1011, 3000...4999: true
        default: false
        }
    }

    package var description: String { String(rawValue) }
}
