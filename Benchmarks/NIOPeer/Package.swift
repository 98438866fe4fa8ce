// swift-tools-version:6.1
//
// nio-latency-peer: a SwiftNIO WebSocket client used as the peer of a latency benchmark.
// Standalone package; it is not a dependency of SensorStream. Build it from this directory,
// then run the benchmark with it from the repository's root:
//
//   swift build -c release --scratch-path ../../.build-nio
//   NIO_LATENCY_PEER=.build-nio/release/nio-latency-peer swift run -c release SensorStreamBenchmarks "client latency"
//
// This directory lies inside the root package's `SensorStreamBenchmarks` target (path "Benchmarks"),
// whose sources SwiftPM collects recursively: that target must keep "NIOPeer" in its `exclude:` list.
import PackageDescription

let package = Package(
    name: "NIOPeer",
    platforms: [.macOS(.v14)],
    products: [
        .executable(name: "nio-latency-peer", targets: ["nio-latency-peer"]),
    ],
    dependencies: [
        .package(url: "https://github.com/apple/swift-nio.git", from: "2.90.0"),
    ],
    targets: [
        .executableTarget(
            name: "nio-latency-peer",
            dependencies: [
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOPosix", package: "swift-nio"),
                .product(name: "NIOHTTP1", package: "swift-nio"),
                .product(name: "NIOWebSocket", package: "swift-nio"),
            ]
        ),
    ],
    swiftLanguageModes: [.v6]
)
