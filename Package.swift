// swift-tools-version:6.0
import PackageDescription

let package = Package(
    name: "SensorStream",
    platforms: [.macOS(.v15)],
    products: [
        .library(name: "SensorStream", targets: ["SensorStream"]),
    ],
    targets: [
        // Sans-I/O RFC 6455 core: frames, masking, UTF-8, message assembly, close/ping state, handshake.
        .target(name: "WebSocketCore"),
        // A pthread-mutex-protected value box that ThreadSanitizer understands.
        .target(name: "Locking"),
        // POSIX TCP sockets: name resolution, connect with timeout, listener, wake-up pipe.
        .target(name: "TCPTransport"),
        // The I/O edge of the WebSocket stack: client and server connections on real sockets.
        .target(name: "WebSocketIO", dependencies: ["WebSocketCore", "TCPTransport", "Locking"]),
        // The public client library apps import.
        .target(name: "SensorStream", dependencies: ["WebSocketIO", "Locking"]),
        // Autobahn|Testsuite echo peer (client and server roles) for RFC 6455 conformance runs.
        .executableTarget(name: "ws-conformance", dependencies: ["WebSocketIO"]),
        .testTarget(name: "WebSocketCoreTests", dependencies: ["WebSocketCore"]),
        .testTarget(name: "WebSocketIOTests", dependencies: ["WebSocketIO", "TCPTransport"]),
    ],
    swiftLanguageModes: [.v6]
)
