import Locking

/// Hands a ``StreamListener``'s connections to the server object that owns the listener, held
/// weakly: the listener (which the server keeps) must not keep the server alive, so a server
/// the app lets go of stops listening in its `deinit`. Until ``attach(_:)`` and after the
/// server is gone, connections are refused (aborted).
///
/// ```swift
/// let owner = ListenerOwner<MyServer>()
/// listener = try StreamListener(..., onConnection: owner.forward { server, connection in server.accept(connection) }, ...)
/// owner.attach(self)   // last in init
/// ```
package final class ListenerOwner<Server: AnyObject & Sendable>: Sendable {
    private struct Reference: Sendable {
        weak var server: Server?
    }

    private let reference = LockedValue(Reference())

    package init() {}

    /// The server, once attached and while it lives.
    package var server: Server? { reference.withLock { $0.server } }

    /// Starts handing connections to `server` (call it once `server` is fully initialised).
    package func attach(_ server: Server) {
        reference.withLock { $0.server = server }
    }

    /// An `onConnection` for a listener: `accept` with the server, or the connection aborted.
    package func forward(_ accept: @escaping @Sendable (Server, StreamConnection) -> Void) -> @Sendable (StreamConnection) -> Void {
        { [self] connection in
            guard let server = self.server else {
                connection.abort()
                return
            }
            accept(server, connection)
        }
    }
}
