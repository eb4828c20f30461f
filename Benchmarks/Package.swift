// swift-tools-version: 6.2
import PackageDescription

/// The tools around Allot, kept out of the product (as Hummingbird keeps its benchmarks): the
/// planner, Graph-read, engine and fast-path benchmarks, the daemon soak and the loader fuzzer. They build
/// on the modules of the package one directory up, so `swift build` at the root builds only
/// the product. Build them with `swift build --package-path Benchmarks -c release`; see
/// docs/performance.md and docs/fuzzing.md.
let strictSettings: [SwiftSetting] = [
    .enableUpcomingFeature("ExistentialAny"),
    .enableUpcomingFeature("MemberImportVisibility"),
]

let package = Package(
    name: "allot-benchmarks",
    platforms: [.macOS(.v15)],
    dependencies: [
        .package(name: "allot", path: ".."),
        .package(url: "https://github.com/apple/swift-argument-parser.git", from: "1.5.0"),
        .package(url: "https://github.com/apple/swift-log.git", from: "1.16.0"),
        .package(url: "https://github.com/apple/swift-nio.git", from: "2.81.0"),
        .package(url: "https://github.com/swift-server/async-http-client.git", from: "1.24.0"),
    ],
    targets: [
        // The planner and tenant-model benchmarks; see docs/performance.md.
        .executableTarget(
            name: "AllotBenchmarks",
            dependencies: [
                .product(name: "AllotCore", package: "allot"),
                .product(name: "AllotTools", package: "allot"),
            ],
            swiftSettings: strictSettings
        ),
        // A full Graph read against the simulator; see docs/performance.md.
        .executableTarget(
            name: "AllotGraphBenchmark",
            dependencies: [
                .product(name: "AllotCore", package: "allot"),
                .product(name: "AllotGraph", package: "allot"),
                .product(name: "AllotSimulator", package: "allot"),
                .product(name: "Logging", package: "swift-log"),
            ],
            swiftSettings: strictSettings
        ),
        // A reconcile cycle's writes against `allot simulate` with Graph's write quota on; see
        // docs/performance.md ("Reconcile engine").
        .executableTarget(
            name: "AllotEngineBenchmark",
            dependencies: [
                .product(name: "AllotCore", package: "allot"),
                .product(name: "AllotConfig", package: "allot"),
                .product(name: "AllotEngine", package: "allot"),
                .product(name: "AllotGraph", package: "allot"),
                .product(name: "AllotSimulator", package: "allot"),
                .product(name: "AsyncHTTPClient", package: "async-http-client"),
                .product(name: "Logging", package: "swift-log"),
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOHTTP1", package: "swift-nio"),
            ],
            swiftSettings: strictSettings
        ),
        // The fast path (delta passes between cycles) against the in-process simulator: request
        // counts, CPU, memory and joiner latency; see docs/performance.md ("Fast path").
        .executableTarget(
            name: "AllotFastPathBenchmark",
            dependencies: [
                .product(name: "AllotCore", package: "allot"),
                .product(name: "AllotConfig", package: "allot"),
                .product(name: "AllotEngine", package: "allot"),
                .product(name: "AllotGraph", package: "allot"),
                .product(name: "AllotSimulator", package: "allot"),
                .product(name: "AllotTools", package: "allot"),
                .product(name: "Logging", package: "swift-log"),
            ],
            swiftSettings: strictSettings
        ),
        // The soak of `allot run` against `allot simulate`; see docs/performance.md.
        .executableTarget(
            name: "AllotSoak",
            dependencies: [
                .product(name: "AllotCore", package: "allot"),
                .product(name: "AllotTools", package: "allot"),
                .product(name: "AllotSimulator", package: "allot"),
                .product(name: "AllotTestSupport", package: "allot"),
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
                .product(name: "AsyncHTTPClient", package: "async-http-client"),
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOHTTP1", package: "swift-nio"),
            ],
            swiftSettings: strictSettings
        ),
        // Fuzzes the configuration and policy loaders (libFuzzer with -DALLOT_LIBFUZZER, else a
        // corpus replayer); see docs/fuzzing.md.
        .executableTarget(
            name: "AllotFuzz",
            dependencies: [
                .product(name: "AllotConfig", package: "allot"),
                .product(name: "AllotCore", package: "allot"),
            ],
            swiftSettings: strictSettings
        ),
    ]
)
