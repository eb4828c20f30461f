// swift-tools-version: 6.2
import PackageDescription

/// Allot: declarative Microsoft 365 license assignment.
///
/// Layers, arrows pointing towards the core:
/// `allot` (thin CLI) -> AllotEngine -> AllotGraph / AllotConfig -> AllotCore.
/// AllotSimulator (the built-in Graph simulator) depends on AllotCore only.
let strictSettings: [SwiftSetting] = [
    .enableUpcomingFeature("ExistentialAny"),
    .enableUpcomingFeature("MemberImportVisibility"),
]

let package = Package(
    name: "allot",
    platforms: [.macOS(.v15)],
    products: [
        .executable(name: "allot", targets: ["allot"]),
        .library(name: "AllotCore", targets: ["AllotCore"]),
    ],
    dependencies: [
        .package(url: "https://github.com/apple/swift-argument-parser.git", from: "1.5.0"),
        .package(url: "https://github.com/jpsim/Yams.git", from: "6.0.0"),
        .package(url: "https://github.com/apple/swift-log.git", from: "1.16.0"),
        .package(url: "https://github.com/apple/swift-crypto.git", "3.12.3"..<"5.0.0"),
        .package(url: "https://github.com/apple/swift-certificates.git", from: "1.10.0"),
        .package(url: "https://github.com/apple/swift-asn1.git", from: "1.1.0"),
        .package(url: "https://github.com/apple/swift-nio.git", from: "2.81.0"),
        .package(url: "https://github.com/apple/swift-nio-ssl.git", from: "2.30.0"),
        .package(url: "https://github.com/swift-server/async-http-client.git", from: "1.24.0"),
        .package(url: "https://github.com/hummingbird-project/hummingbird.git", from: "2.5.0"),
        .package(url: "https://github.com/apple/swift-http-types.git", from: "1.0.0"),
        .package(url: "https://github.com/swift-server/swift-service-lifecycle.git", from: "2.6.0"),
        .package(url: "https://github.com/x-sheep/swift-property-based.git", from: "2.0.0"),
        .package(url: "https://github.com/apple/swift-metrics.git", from: "2.5.0"),
        .package(url: "https://github.com/swift-server/swift-prometheus.git", from: "2.1.0"),
    ],
    targets: [
        // The pure core: policy language, tenant model, planner. No I/O, no clock.
        .target(
            name: "AllotCore",
            swiftSettings: strictSettings,
            linkerSettings: [.linkedLibrary("m")]
        ),
        // Loads allot.yaml and policy directories, reporting FILE:LINE:COLUMN diagnostics.
        .target(
            name: "AllotConfig",
            dependencies: [
                "AllotCore",
                .product(name: "Yams", package: "Yams"),
                .product(name: "Crypto", package: "swift-crypto"),
            ],
            swiftSettings: strictSettings
        ),
        // The Microsoft Graph client: auth, paged reads into a TenantModel, batched paced writes.
        .target(
            name: "AllotGraph",
            dependencies: [
                "AllotCore",
                .product(name: "AsyncHTTPClient", package: "async-http-client"),
                .product(name: "Crypto", package: "swift-crypto"),
                .product(name: "_CryptoExtras", package: "swift-crypto"),
                .product(name: "X509", package: "swift-certificates"),
                .product(name: "SwiftASN1", package: "swift-asn1"),
                .product(name: "Logging", package: "swift-log"),
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOHTTP1", package: "swift-nio"),
                .product(name: "NIOSSL", package: "swift-nio-ssl"),
                .product(name: "Metrics", package: "swift-metrics"),
            ],
            swiftSettings: strictSettings
        ),
        // The built-in Microsoft Graph simulator (Hummingbird), served by `allot simulate`.
        .target(
            name: "AllotSimulator",
            dependencies: [
                "AllotCore",
                .product(name: "Hummingbird", package: "hummingbird"),
                .product(name: "HummingbirdTLS", package: "hummingbird"),
                .product(name: "HTTPTypes", package: "swift-http-types"),
                .product(name: "Crypto", package: "swift-crypto"),
                .product(name: "_CryptoExtras", package: "swift-crypto"),
                .product(name: "X509", package: "swift-certificates"),
                .product(name: "SwiftASN1", package: "swift-asn1"),
                .product(name: "Logging", package: "swift-log"),
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOPosix", package: "swift-nio"),
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
                .product(name: "NIOSSL", package: "swift-nio-ssl"),
            ],
            swiftSettings: strictSettings
        ),
        // The reconcile engine: read, plan, apply, report; structured logs; the state file.
        .target(
            name: "AllotEngine",
            dependencies: [
                "AllotCore",
                "AllotConfig",
                "AllotGraph",
                .product(name: "Logging", package: "swift-log"),
                .product(name: "Metrics", package: "swift-metrics"),
            ],
            swiftSettings: strictSettings
        ),
        // The daemon behind `allot run`: reconcile loop, status server, and the systemd integration.
        .target(
            name: "AllotDaemon",
            dependencies: [
                "AllotCore",
                "AllotConfig",
                "AllotEngine",
                "AllotGraph",
                .product(name: "Hummingbird", package: "hummingbird"),
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
                .product(name: "UnixSignals", package: "swift-service-lifecycle"),
                .product(name: "Metrics", package: "swift-metrics"),
                .product(name: "Prometheus", package: "swift-prometheus"),
                .product(name: "Logging", package: "swift-log"),
            ],
            swiftSettings: strictSettings
        ),
        // The thin command-line executable.
        .executableTarget(
            name: "allot",
            dependencies: [
                "AllotCore",
                "AllotConfig",
                "AllotGraph",
                "AllotSimulator",
                "AllotEngine",
                "AllotDaemon",
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
                .product(name: "Logging", package: "swift-log"),
            ],
            swiftSettings: strictSettings
        ),
        // Release-built benchmark of a full Graph read against the simulator; see docs/performance.md.
        .executableTarget(
            name: "AllotGraphBenchmark",
            dependencies: [
                "AllotCore",
                "AllotGraph",
                "AllotSimulator",
                .product(name: "Logging", package: "swift-log"),
            ],
            swiftSettings: strictSettings
        ),
        // Release-built soak of `allot run` against `allot simulate`; see docs/performance.md.
        .executableTarget(
            name: "AllotSoak",
            dependencies: [
                "AllotCore",
                "AllotSimulator",
                "AllotProcessTesting",
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
                .product(name: "AsyncHTTPClient", package: "async-http-client"),
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOHTTP1", package: "swift-nio"),
            ],
            swiftSettings: strictSettings
        ),
        // Release-built benchmark of a reconcile cycle's writes against the simulator with Graph's
        // write quota on; see docs/performance.md ("Reconcile engine").
        .executableTarget(
            name: "AllotEngineBenchmark",
            dependencies: [
                "AllotCore",
                "AllotConfig",
                "AllotEngine",
                "AllotGraph",
                "AllotSimulator",
                .product(name: "AsyncHTTPClient", package: "async-http-client"),
                .product(name: "Logging", package: "swift-log"),
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOHTTP1", package: "swift-nio"),
            ],
            swiftSettings: strictSettings
        ),
        // Release-built benchmark of the fast path (delta passes between cycles) against the
        // in-process simulator; see docs/performance.md ("Fast path").
        .executableTarget(
            name: "AllotFastPathBenchmark",
            dependencies: [
                "AllotCore",
                "AllotConfig",
                "AllotEngine",
                "AllotGraph",
                "AllotSimulator",
                .product(name: "Logging", package: "swift-log"),
            ],
            swiftSettings: strictSettings
        ),
        // Release-built benchmarks; see docs/performance.md.
        .executableTarget(
            name: "AllotBenchmarks",
            dependencies: ["AllotCore"],
            swiftSettings: strictSettings
        ),
        // Fuzzes the configuration and policy loaders (libFuzzer with -DALLOT_LIBFUZZER,
        // else a corpus replayer); see docs/fuzzing.md.
        .executableTarget(
            name: "AllotFuzz",
            dependencies: ["AllotConfig", "AllotCore"],
            swiftSettings: strictSettings
        ),
        .testTarget(
            name: "AllotCoreTests",
            dependencies: [
                "AllotCore",
                .product(name: "PropertyBased", package: "swift-property-based"),
            ],
            swiftSettings: strictSettings
        ),
        .testTarget(
            name: "AllotConfigTests",
            dependencies: ["AllotConfig", "AllotCore"],
            resources: [.copy("Fixtures")],
            swiftSettings: strictSettings
        ),
        .testTarget(
            name: "AllotSimulatorTests",
            dependencies: [
                "AllotSimulator",
                "AllotCore",
                .product(name: "AsyncHTTPClient", package: "async-http-client"),
                .product(name: "Crypto", package: "swift-crypto"),
                .product(name: "_CryptoExtras", package: "swift-crypto"),
                .product(name: "X509", package: "swift-certificates"),
                .product(name: "SwiftASN1", package: "swift-asn1"),
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOHTTP1", package: "swift-nio"),
                .product(name: "NIOSSL", package: "swift-nio-ssl"),
            ],
            swiftSettings: strictSettings
        ),
        // What the process tests share: the built `allot`, child processes with bounded waits,
        // loopback ports.
        .target(
            name: "AllotProcessTesting",
            dependencies: ["AllotSimulator"],
            path: "Tests/AllotProcessTesting",
            swiftSettings: strictSettings
        ),
        .testTarget(
            name: "AllotEngineTests",
            dependencies: [
                "AllotEngine", "AllotCore", "AllotConfig", "AllotGraph", "AllotSimulator", "AllotProcessTesting", "allot",
                .product(name: "InMemoryLogging", package: "swift-log"),
                .product(name: "Logging", package: "swift-log"),
                .product(name: "AsyncHTTPClient", package: "async-http-client"),
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOHTTP1", package: "swift-nio"),
            ],
            swiftSettings: strictSettings
        ),
        .testTarget(
            name: "AllotDaemonTests",
            dependencies: [
                "AllotDaemon",
                "AllotCore",
                "AllotEngine",
                "AllotSimulator",
                "AllotProcessTesting",
                // The process tests start the built executable.
                "allot",
                .product(name: "InMemoryLogging", package: "swift-log"),
                .product(name: "AsyncHTTPClient", package: "async-http-client"),
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOHTTP1", package: "swift-nio"),
                .product(name: "HummingbirdTesting", package: "hummingbird"),
                .product(name: "Prometheus", package: "swift-prometheus"),
            ],
            swiftSettings: strictSettings
        ),
        .testTarget(
            name: "AllotGraphTests",
            dependencies: [
                "AllotGraph",
                "AllotSimulator",
                "AllotCore",
                .product(name: "Crypto", package: "swift-crypto"),
                .product(name: "_CryptoExtras", package: "swift-crypto"),
                .product(name: "X509", package: "swift-certificates"),
                .product(name: "SwiftASN1", package: "swift-asn1"),
                .product(name: "Logging", package: "swift-log"),
                .product(name: "InMemoryLogging", package: "swift-log"),
            ],
            resources: [.copy("Fixtures")],
            swiftSettings: strictSettings
        ),
    ]
)
