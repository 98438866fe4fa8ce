// swift-tools-version:6.1
import PackageDescription

let package = Package(
    name: "SensorStream",
    platforms: [.macOS(.v15), .iOS(.v18)],
    products: [
        .library(name: "SensorStream", targets: ["SensorStream"]),
        .library(name: "MetricStore", targets: ["MetricStore"]),
        .library(name: "FastSlow", targets: ["FastSlow"]),
        .library(name: "Lantern", targets: ["Lantern"]),
        .library(name: "SensorAgent", targets: ["SensorAgent"]),
        .library(name: "MQTT", targets: ["MQTT"]),
    ],
    traits: [
        .trait(name: "TLS", description: "wss:// and TLS for every client and server through the system's OpenSSL 3 (libssl-dev)"),
    ],
    targets: [
        // An incremental UTF-8 validator shared by the WebSocket core and the JSON parser.
        .target(name: "UTF8Validation"),
        // Sans-I/O RFC 6455 core: frames, masking, message assembly, close/ping state, handshake.
        .target(name: "WebSocketCore", dependencies: ["UTF8Validation", "CZlib"]),
        // zlib as a system library (permessage-deflate); Debian's zlib1g-dev, which the Swift toolchain needs anyway.
        .systemLibrary(name: "CZlib", providers: [.apt(["zlib1g-dev"]), .brew(["zlib"])]),
        // A pthread-mutex-protected value box that ThreadSanitizer understands.
        .target(name: "Locking"),
        // POSIX TCP sockets: name resolution, connect with timeout, listener, wake-up pipe.
        .target(name: "TCPTransport"),
        // The one I/O edge: an event loop (epoll) running any sans-I/O codec over TCP, reconnect
        // state machine, request correlation, bounded consumer queues and broadcasters.
        .target(name: "ConnectionCore", dependencies: ["CSystemShims", "TCPTransport", "Locking",
                                                       .target(name: "COpenSSL", condition: .when(traits: ["TLS"]))]),
        // OpenSSL 3 as a system library, only with the TLS trait.
        .systemLibrary(name: "COpenSSL", pkgConfig: "openssl", providers: [.apt(["libssl-dev"]), .brew(["openssl@3"])]),
        // System headers Glibc's module map leaves out (epoll).
        .target(name: "CSystemShims"),
        // WebSocket on the core: the RFC 6455 codec and opening handshakes, client and server.
        .target(name: "WebSocketIO", dependencies: ["ConnectionCore", "WebSocketCore", "TCPTransport"]),
        // The sensor wire protocol both sides speak: envelopes, messages, JSONValue, our JSON parser and serializer.
        .target(name: "SensorWire", dependencies: ["UTF8Validation"]),
        // MQTT 3.1.1 (issue #30): the sans-I/O packet codec and session, and the client on the
        // connection core.
        .target(name: "MQTT", dependencies: ["UTF8Validation", "ConnectionCore", "Locking"]),
        // The public client library apps import.
        .target(name: "SensorStream", dependencies: ["ConnectionCore", "SensorWire", "WebSocketIO", "WebSocketCore", "Locking"]),
        // SensorAgent: the device side: devices and their stores, the agent protocol, the
        // agent's sans-I/O session and its client on the core over our WebSocket stack.
        .target(name: "SensorAgent", dependencies: ["ConnectionCore", "WebSocketIO", "WebSocketCore", "SensorWire", "Locking"]),
        // The reference aggregator server (hub): sans-I/O state plus its WebSocket server.
        .target(name: "SensorHub", dependencies: ["ConnectionCore", "SensorWire", "SensorAgent", "MetricStore", "WebServer", "WebSocketIO", "WebSocketCore", "Locking"]),
        // MetricStore: the put/get metrics line protocol (sans-I/O parser, store, answers), its
        // server (journaled) and client on the connection core.
        .target(name: "MetricStore", dependencies: ["ConnectionCore", "Locking"]),
        // FastSlow: size-prefixed protobuf (proto2) requests: our codec, framer, server (timers
        // on the event loop) and serial client on the connection core.
        .target(name: "FastSlow", dependencies: ["ConnectionCore", "Locking"], exclude: ["fastslow.proto"]),
        // A small HTTP/1.1 server on the core (sans-I/O request parser, limits, keep-alive,
        // WebSocket upgrades on the same port): the Lantern stand's API and page, the hub's dashboard.
        .target(name: "WebServer", dependencies: ["ConnectionCore", "WebSocketCore", "WebSocketIO", "TCPTransport", "Locking"]),
        // Lantern: a TLV-controlled lantern (sans-I/O decoder, registry, state reduction), its
        // client on the connection core, and the control server of its test stand.
        .target(name: "Lantern", dependencies: ["ConnectionCore", "Locking"]),
        // The lantern test stand: the TLV control server with a JSON API and a live web page.
        .target(name: "LanternStand", dependencies: ["ConnectionCore", "Lantern", "WebServer", "WebSocketIO", "SensorWire", "Locking"]),
        // The command-line tool: demo, hub, watch, status, metrics, fastslow, lantern.
        .executableTarget(name: "sensorctl", dependencies: ["SensorStream", "SensorHub", "MetricStore", "FastSlow", "Lantern", "LanternStand", "SensorAgent", "SensorWire", "WebSocketCore", "ConnectionCore", "Locking", "MQTT"]),
        // Benchmarks: `swift run -c release SensorStreamBenchmarks [filter]`.
        .executableTarget(name: "SensorStreamBenchmarks", dependencies: ["ConnectionCore", "WebSocketCore", "WebSocketIO", "SensorWire", "SensorStream", "SensorHub", "MetricStore", "FastSlow", "MQTT", "Locking", "TCPTransport", "TestSupport"],
                          path: "Benchmarks", exclude: ["README.md", "metricstore_asyncio.py", "fastslow_asyncio.py", "mqtt_paho_sub.py", "NIOPeer"]),
        // The dashboard's browser check: drives headless Chromium over the DevTools protocol
        // with our WebSocket client (run by .ci/browser).
        .executableTarget(name: "browser-check", dependencies: ["WebSocketIO", "SensorWire", "TCPTransport"], path: "Tests/Browser/Check"),
        // Autobahn|Testsuite echo peer (client and server roles) for RFC 6455 conformance runs.
        .executableTarget(name: "ws-conformance", dependencies: ["WebSocketIO", "WebSocketCore", "ConnectionCore"]),
        // Test helpers shared by the test targets: raw TCP peers, a manual clock.
        .target(name: "TestSupport", dependencies: ["WebSocketIO", "WebSocketCore", "TCPTransport", "Locking"], path: "Tests/TestSupport"),
        // The fuzz targets as plain functions: replayed over the committed corpus by the unit tests,
        // linked into a libFuzzer binary by Tests/Fuzz/fuzz.sh.
        .target(name: "FuzzTargets", dependencies: ["ConnectionCore", "UTF8Validation", "WebSocketCore", "WebSocketIO", "SensorWire", "SensorStream", "MetricStore", "FastSlow", "Lantern", "WebServer", "SensorAgent", "SensorHub", "MQTT"], path: "Tests/Fuzz/Targets"),
        // The signatures of swift-async-algorithms that collide with our operators, for the coexistence test.
        .target(name: "AsyncAlgorithmsMirror", path: "Tests/AsyncAlgorithmsMirror"),
        .testTarget(name: "OperatorCoexistenceTests", dependencies: ["SensorStream", "AsyncAlgorithmsMirror"]),
        .testTarget(name: "MetricStoreTests", dependencies: ["MetricStore", "ConnectionCore", "Locking", "TestSupport"]),
        .testTarget(name: "SensorAgentTests", dependencies: ["SensorAgent", "SensorHub", "SensorStream", "SensorWire", "WebSocketIO", "WebSocketCore", "Locking", "TestSupport"]),
        .testTarget(name: "WebServerTests", dependencies: ["WebServer", "WebSocketIO", "WebSocketCore", "TCPTransport", "TestSupport"]),
        .testTarget(name: "LanternTests", dependencies: ["Lantern", "LanternStand", "WebServer", "WebSocketIO", "WebSocketCore", "TCPTransport", "Locking", "TestSupport"]),
        .testTarget(name: "MQTTTests", dependencies: ["MQTT", "ConnectionCore", "Locking", "TCPTransport", "TestSupport"]),
        .testTarget(name: "FastSlowTests", dependencies: ["FastSlow", "ConnectionCore", "TCPTransport", "Locking", "TestSupport"], exclude: ["ReferenceVectors"]),
        .testTarget(name: "TransportTests", dependencies: ["TCPTransport", "Locking", "TestSupport"]),
        .testTarget(name: "ConnectionCoreTests", dependencies: ["ConnectionCore", "TCPTransport", "Locking", "TestSupport"]),
        .testTarget(name: "WebSocketCoreTests", dependencies: ["WebSocketCore", "UTF8Validation", "TestSupport", "FuzzTargets"]),
        .testTarget(name: "WebSocketIOTests", dependencies: ["WebSocketIO", "WebSocketCore", "ConnectionCore", "TCPTransport", "TestSupport"]),
        .testTarget(name: "SensorHubTests", dependencies: ["ConnectionCore", "SensorHub", "SensorAgent", "SensorWire", "TCPTransport", "SensorStream", "MetricStore", "FastSlow", "Lantern", "WebSocketIO", "WebSocketCore", "TestSupport", "Locking"]),
        .testTarget(name: "SensorStreamTests", dependencies: ["SensorStream", "ConnectionCore", "SensorWire", "UTF8Validation", "SensorHub", "WebSocketIO", "WebSocketCore", "TCPTransport", "TestSupport", "Locking"],
                    exclude: ["JSONTestSuite"]),
    ],
    swiftLanguageModes: [.v6]
)

// The libFuzzer binary exists only for Tests/Fuzz/fuzz.sh, which sets this variable and builds
// with `-sanitize=fuzzer,address -parse-as-library` (it has no `main`: libFuzzer provides it).
if Context.environment["SENSORSTREAM_FUZZ"] == "1" {
    package.targets.append(.executableTarget(name: "sensorstream-fuzz", dependencies: ["FuzzTargets"], path: "Tests/Fuzz/Runner"))
}
