// swift-tools-version: 6.2
import PackageDescription

/// Allot: declarative Microsoft 365 license assignment.
///
/// The product's modules, arrows pointing towards the pure core (docs/architecture.md; checked
/// by .ci/check-module-graph):
///
///     allot (CLI) -> {AllotDaemon, AllotConfig} -> AllotEngine -> {AllotCore, AllotGraph}
///     AllotSimulator -> AllotCore
///
/// AllotConfig is a leaf over AllotCore that, in the product, only the CLI and the daemon use.
/// Beside them: AllotTools (SKU catalogue, seeded random generator) for the simulator, the
/// tests and the benchmarks; AllotObservability (every log event and metric, declared once)
/// for the Graph client, the engine and the daemon. The benchmarks, the soak and the fuzzer are the nested
/// package Benchmarks/, so `swift build` here builds only the product. The tests: one in-process target
/// per module, AllotEndToEndTests for what only a process shows, AllotTestSupport shared by both.
let strictSettings: [SwiftSetting] = [
    .enableUpcomingFeature("ExistentialAny"),
    .enableUpcomingFeature("MemberImportVisibility"),
]
/// The planner's core and the simulator are compiled with optimisation in debug builds too: the
/// tests spend most of their time in them (property tests, generated tenants, the simulator in
/// process and as `allot simulate`), and unoptimised generic code there made `swift test` take
/// twice its CPU. It costs a cold build about 45 s; both modules have no `assert` or `#if DEBUG`
/// for `-O` to remove, and overflow checks stay (docs/architecture.md, "Tests").
let optimizedInDebug: [SwiftSetting] = strictSettings + [.unsafeFlags(["-O"], .when(configuration: .debug))]

let package = Package(
    name: "allot",
    platforms: [.macOS(.v15)],
    products: [
        .executable(name: "allot", targets: ["allot"]),
        // The modules the nested package in Benchmarks/ (benchmarks, soak, fuzzer) builds on.
        .library(name: "AllotCore", targets: ["AllotCore"]),
        .library(name: "AllotTools", targets: ["AllotTools"]),
        .library(name: "AllotConfig", targets: ["AllotConfig"]),
        .library(name: "AllotGraph", targets: ["AllotGraph"]),
        .library(name: "AllotSimulator", targets: ["AllotSimulator"]),
        .library(name: "AllotEngine", targets: ["AllotEngine"]),
        .library(name: "AllotTestSupport", targets: ["AllotTestSupport"]),
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
            swiftSettings: optimizedInDebug,
            linkerSettings: [.linkedLibrary("m")]
        ),
        // What the simulator, the tests and the benchmarks make tenants from: the SKU catalogue
        // and a seedable random generator. Not part of the product's decisions.
        .target(
            name: "AllotTools",
            dependencies: ["AllotCore"],
            swiftSettings: optimizedInDebug
        ),
        // The vocabulary: every log event with its fields and every metric with its labels and
        // help text, declared once (docs/log-events.md, docs/metrics.md).
        .target(
            name: "AllotObservability",
            dependencies: [
                .product(name: "Logging", package: "swift-log"),
                .product(name: "Metrics", package: "swift-metrics"),
            ],
            swiftSettings: strictSettings
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
                "AllotObservability",
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
                "AllotTools",
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
                "AllotGraph",
                "AllotObservability",
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
                "AllotObservability",
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
                "AllotTools",
                "AllotEngine",
                "AllotDaemon",
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
                .product(name: "Logging", package: "swift-log"),
            ],
            swiftSettings: strictSettings
        ),
        .testTarget(
            name: "AllotCoreTests",
            dependencies: [
                "AllotCore",
                "AllotTools",
                .product(name: "PropertyBased", package: "swift-property-based"),
            ],
            swiftSettings: strictSettings
        ),
        .testTarget(
            name: "AllotObservabilityTests",
            dependencies: ["AllotObservability"],
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
                "AllotTools",
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
        // What the tests share: workspaces and the test tenant, the built `allot` and child
        // processes with bounded waits, the simulator as a process, loopback ports.
        .target(
            name: "AllotTestSupport",
            dependencies: [
                "AllotSimulator", "AllotCore",
                .product(name: "AsyncHTTPClient", package: "async-http-client"),
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOHTTP1", package: "swift-nio"),
            ],
            path: "Tests/AllotTestSupport",
            swiftSettings: strictSettings
        ),
        .testTarget(
            name: "AllotEngineTests",
            dependencies: [
                "AllotEngine", "AllotCore", "AllotConfig", "AllotGraph", "AllotObservability", "AllotSimulator",
                "AllotTestSupport",
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
                "AllotTestSupport",
                .product(name: "InMemoryLogging", package: "swift-log"),
                .product(name: "AsyncHTTPClient", package: "async-http-client"),
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOHTTP1", package: "swift-nio"),
                .product(name: "HummingbirdTesting", package: "hummingbird"),
                .product(name: "Prometheus", package: "swift-prometheus"),
            ],
            swiftSettings: strictSettings
        ),
        // The tests that need a process: `allot` and the simulator as executables, signals,
        // NOTIFY_SOCKET, the journal, exit statuses, the install script.
        .testTarget(
            name: "AllotEndToEndTests",
            dependencies: [
                "AllotCore", "AllotConfig", "AllotSimulator", "AllotTestSupport",
                // The tests start the built executable.
                "allot",
                .product(name: "AsyncHTTPClient", package: "async-http-client"),
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOHTTP1", package: "swift-nio"),
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
