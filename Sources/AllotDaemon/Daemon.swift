import AllotConfig
import AllotCore
import AllotEngine
import AllotGraph
import AllotObservability
import Foundation
import Logging
import Metrics
import Prometheus
import ServiceLifecycle
import UnixSignals

/// `allot run`: the reconcile loop, the status server and the systemd integration as one
/// service group.
///
/// Start-up: the configuration and policies are loaded (by the caller; invalid ones stop the
/// daemon before it starts), the status port is bound, then `READY=1`. While the loop is
/// healthy, `WATCHDOG=1` every half `WATCHDOG_USEC`; after each cycle a `STATUS=` line.
/// `SIGHUP` reloads (`RELOADING=1` ... `READY=1`), keeping the last good set when the new one
/// is invalid. `SIGTERM`/`SIGINT`: `STOPPING=1`, the cycle in flight stops after its batch in
/// flight, the status server stops last, exit 0.
public enum Daemon {
    /// Runs until SIGTERM or SIGINT. `buildCommit` labels `allot_build_info`.
    public static func run(
        loaded: LoadedConfiguration,
        loader: ConfigurationLoader = ConfigurationLoader(),
        logger: Logger,
        environment: [String: String] = ProcessInfo.processInfo.environment,
        buildCommit: String = "unknown"
    ) async throws {
        MemoryTuning.limitArenas(environment: environment)
        let registry = PrometheusCollectorRegistry()
        var factory = PrometheusMetricsFactory(registry: registry)
        factory.defaultDurationHistogramBuckets = [1, 5, 15, 30, 60, 120, 300, 600, 1200, 1800, 3600].map {
            .seconds($0)
        }
        factory.durationHistogramBuckets["allot_fastpath_duration_seconds"] = [
            50, 100, 250, 500, 1000, 2500, 5000, 15000, 60000,
        ].map { .milliseconds($0) }
        factory.durationHistogramBuckets["allot_fastpath_change_to_license_seconds"] = [
            5, 10, 20, 30, 45, 60, 90, 120, 300, 900,
        ].map { .seconds($0) }
        MetricsSystem.bootstrap(factory)

        let configuration = loaded.configuration
        guard let address = HostPort(parsing: configuration.status.listen) else {
            throw DaemonError(
                "status.listen '\(configuration.status.listen)' is not host:port (for example 127.0.0.1:9464)"
            )
        }
        if !isLoopbackHost(address.host) {
            logger.warning(
                "status.listen is not a loopback address: the status endpoints are reachable from the network",
                metadata: [
                    "listen": .string(configuration.status.listen)
                ]
            )
        }
        let notifier = SystemdNotifier(environment: environment, logger: logger)
        let startedAt = Date()
        let stateStore = StateStore(directory: StateStore.defaultDirectory(environment: environment))
        let lastSuccess = stateStore.load(setAside: false).state.lastSuccessAt.map {
            Date(timeIntervalSince1970: TimeInterval($0))
        }
        DaemonMetrics.registerInitialSeries(
            startedAt: startedAt,
            lastSuccess: lastSuccess,
            version: AllotVersion.current,
            commit: buildCommit
        )
        let status = DaemonStatus(
            startedAt: startedAt,
            interval: configuration.reconcile.interval,
            mode: configuration.reconcile.mode.rawValue,
            policies: ReconcileLoop.statusPolicies(loaded, at: startedAt)
        )
        ReconcileLoop.recordInterval(loaded)
        logger.event(.policyLoaded, "Policies loaded", ReconcileLoop.metadata(loaded))

        let graphConfiguration = try GraphClient.Configuration(configuration, environment: environment)
        try await GraphClient.withGraphClient(configuration: graphConfiguration, logger: logger) { graph in
            let loop = ReconcileLoop(
                configurationPath: loaded.configurationPath,
                loaded: loaded,
                loader: loader,
                graph: graph,
                stateStore: stateStore,
                status: status,
                notifier: notifier,
                logger: logger
            )
            let server = StatusServer(
                host: address.host,
                port: address.port,
                status: status,
                registry: registry,
                logger: logger
            )
            let application = server.application { port in
                notifier.send(.ready, .status("started; waiting for the first cycle"))
                logger.event(
                    .daemonStarted,
                    "Allot \(AllotVersion.current) started",
                    [
                        "listen": .string("\(address.host):\(port)"),
                        "interval_seconds": .stringConvertible(configuration.reconcile.interval.components.seconds),
                        "mode": .string(configuration.reconcile.mode.rawValue),
                    ]
                )
            }
            let group = ServiceGroup(
                configuration: ServiceGroupConfiguration(
                    services: [
                        .init(service: application, serviceName: "status server"),
                        .init(service: WatchdogService(notifier: notifier, status: status), serviceName: "watchdog"),
                        .init(service: loop, serviceName: "reconcile loop"),
                        .init(
                            service: ReloadService(loop: loop, notifier: notifier, logger: logger),
                            serviceName: "reload"
                        ),
                        .init(service: StoppingService(notifier: notifier, logger: logger), serviceName: "stopping"),
                    ],
                    gracefulShutdownSignals: [.sigterm, .sigint],
                    logger: Self.quiet(logger)
                )
            )
            try await group.run()
        }
    }

    /// The service group's own lifecycle messages: warnings and errors only.
    private static func quiet(_ logger: Logger) -> Logger {
        var quiet = logger
        quiet.logLevel = .warning
        return quiet
    }
}

/// Sends `WATCHDOG=1` at half `WATCHDOG_USEC` while the reconcile loop is healthy: a loop that
/// stops ticking stops the pings, and systemd restarts the daemon.
struct WatchdogService: Service {
    let notifier: SystemdNotifier
    let status: DaemonStatus

    func run() async throws {
        guard let interval = notifier.watchdogInterval else {
            try? await gracefulShutdown()
            return
        }
        while !Task.isShuttingDownGracefully {
            pingIfHealthy(now: Date())
            do {
                try await cancelWhenGracefulShutdown { try await Task.sleep(for: interval) }
            } catch {
                return
            }
        }
    }

    /// One beat of the loop: `WATCHDOG=1` if `/healthz` would answer 200 at `now`. Returns
    /// whether it was sent.
    @discardableResult
    func pingIfHealthy(now: Date) -> Bool {
        status.health(now: now).ok && notifier.send(.watchdog)
    }
}

/// Reloads on SIGHUP: `RELOADING=1` with `MONOTONIC_USEC`, the reload, then `READY=1`.
struct ReloadService: Service {
    let loop: ReconcileLoop
    let notifier: SystemdNotifier
    let logger: Logger

    func run() async throws {
        let signals = await UnixSignalsSequence(trapping: .sighup)
        await cancelWhenGracefulShutdown {
            for await _ in signals {
                notifier.send(.reloading)
                logger.event(.daemonReloading, "Reloading the configuration and policies (SIGHUP)")
                loop.reload()
                notifier.send(.ready)
            }
        }
    }
}

/// Announces shutdown as soon as it begins: `STOPPING=1` and `daemon.stopping`. Started last,
/// so it is the first to hear of a graceful shutdown.
struct StoppingService: Service {
    let notifier: SystemdNotifier
    let logger: Logger

    func run() async throws {
        try? await gracefulShutdown()
        notifier.send(.stopping)
        logger.event(.daemonStopping, "Stopping: the batch in flight finishes, then Allot exits")
    }
}

extension Daemon {
    /// Logs `daemon.failed` (critical): `allot run` could not start, or stopped on an error.
    /// `errors` lists every problem of an invalid configuration or policy set.
    public static func logFailure(_ logger: Logger, _ message: Logger.Message, error: String, errors: [String]? = nil) {
        var metadata: Logger.Metadata = ["error": .string(error)]
        if let errors { metadata["errors"] = .array(errors.map { .string($0) }) }
        logger.event(.daemonFailed, level: .critical, message, metadata)
    }
}
