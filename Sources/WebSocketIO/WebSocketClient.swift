import TCPTransport
import WebSocketCore

extension WebSocketConnection {
    /// Opens a client connection: resolves `host`, connects over TCP (each address in turn,
    /// within `connectTimeout`), performs the opening handshake (within `handshakeTimeout`)
    /// and returns the open connection. Cancelling the calling task abandons the attempt.
    ///
    /// - Parameters:
    ///   - host: A name ("localhost"), an IPv4 or an IPv6 literal.
    ///   - port: The TCP port.
    ///   - path: The request target, e.g. "/" or "/runCase?case=1".
    ///   - configuration: Limits and timeouts.
    /// - Throws: ``WebSocketError/connectFailed(_:)``, ``WebSocketError/handshakeFailed(_:)``,
    ///   ``WebSocketError/handshakeTimedOut`` or ``WebSocketError/cancelled``.
    package static func connect(host: String, port: Int, path: String = "/",
                                configuration: WebSocketConfiguration = .init()) async throws(WebSocketError) -> WebSocketConnection {
        let cancellation = CancellationFlag()
        let result: Result<WebSocketConnection, WebSocketError> = await withTaskCancellationHandler {
            await withCheckedContinuation { continuation in
                startIOThread(name: "WebSocket client \(host):\(port)") {
                    let outcome = openClient(host: host, port: port, path: path, configuration: configuration, cancellation: cancellation)
                    continuation.resume(returning: outcome.map(\.connection))
                    if case .success(let (connection, rest)) = outcome {
                        connection.runIOLoop(initialBytes: rest)
                    }
                }
            }
        } onCancel: {
            cancellation.set()
        }
        return try result.get()
    }

    private static func openClient(host: String, port: Int, path: String, configuration: WebSocketConfiguration,
                                   cancellation: CancellationFlag) -> Result<(connection: WebSocketConnection, rest: [UInt8]), WebSocketError> {
        let socket: Socket
        do {
            socket = try TCPConnector.connect(host: host, port: port, timeout: configuration.connectTimeout,
                                              isCancelled: { cancellation.isSet })
        } catch {
            return .failure(cancellation.isSet ? .cancelled : .connectFailed(error))
        }
        do throws(WebSocketError) {
            let wakeup: WakeupPipe
            do { wakeup = try WakeupPipe() } catch { throw .connectFailed(error) }
            let handshake = ClientHandshake(host: host, port: port, path: path, extraHeaders: configuration.extraHeaders)
            let deadline = ContinuousClock.now + configuration.handshakeTimeout
            let head: HTTPHead
            let rest: [UInt8]
            do {
                try HandshakeIO.writeAll(handshake.request, to: socket, deadline: deadline, cancellation: cancellation)
                (head, rest) = try HandshakeIO.readHead(from: socket, maxSize: configuration.maxHandshakeSize,
                                                        deadline: deadline, cancellation: cancellation)
            } catch {
                switch error {
                case .timedOut: throw .handshakeTimedOut
                case .cancelled: throw .cancelled
                case .socket(let socketError): throw .connectFailed(socketError)
                case .closed: throw .handshakeFailed(.connectionClosed)
                case .head(let headError): throw .handshakeFailed(.malformedHead(headError))
                }
            }
            do { try handshake.validate(head) } catch { throw .handshakeFailed(error) }
            let connection = WebSocketConnection(role: .client, socket: socket, wakeup: wakeup, configuration: configuration,
                                                 path: path, handshakeHead: head,
                                                 remoteAddress: socket.peerAddress?.description ?? "\(host):\(port)")
            return .success((connection, rest))
        } catch {
            socket.close()
            return .failure(error)
        }
    }
}
