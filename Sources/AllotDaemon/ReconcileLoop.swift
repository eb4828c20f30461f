import AllotConfig
import AllotCore
import AllotEngine
import AllotGraph
import AllotObservability
import Foundation
import Logging
import Metrics
import ServiceLifecycle
import Synchronization

/// The daemon's heart: a reconcile cycle every `reconcile.interval` (with ±10% jitter so that
/// several daemons do not beat in step), one at a time.
///
/// Before each cycle the policy directory is read again, so a `git pull` by a GitOps agent is
/// picked up without a signal; `reload()` (SIGHUP) re-reads the configuration too. Either way a
/// new set replaces the running one only when it is valid (validate, then swap). On graceful
/// shutdown the cycle in flight is cancelled at its next safe point: the Graph client finishes
/// the batch in flight and sends nothing more, and the state file is written.
final class ReconcileLoop: Service, Sendable {
    private let configurationPath: String
    private let loader: ConfigurationLoader
    private let graph: GraphClient
    private let stateStore: StateStore
    private let status: DaemonStatus
    private let notifier: SystemdNotifier
    private let logger: Logger
    private let current: Mutex<LoadedConfiguration>
    /// The problems last reported as `policy.invalid`, and where they lie.
    private let reloadState = Mutex(ReloadState())
    /// The fast path's model and delta links between passes. Held here, and taken out for a
    /// pass, so that the pass owns the only copy and updates the model in place.
    private let fastPath = Mutex<FastPathState?>(nil)
    private let now: @Sendable () -> Date

    init(
        configurationPath: String,
        loaded: LoadedConfiguration,
        loader: ConfigurationLoader,
        graph: GraphClient,
        stateStore: StateStore,
        status: DaemonStatus,
        notifier: SystemdNotifier,
        logger: Logger,
        now: @escaping @Sendable () -> Date = Date.init
    ) {
        self.configurationPath = configurationPath
        self.loader = loader
        self.graph = graph
        self.stateStore = stateStore
        self.status = status
        self.notifier = notifier
        self.logger = logger
        self.current = Mutex(loaded)
        self.now = now
    }

    func run() async throws {
        while !Task.isShuttingDownGracefully && !Task.isCancelled {
            refreshPolicies()
            let loaded = current.withLock { $0 }
            let engine = makeEngine(loaded)
            status.cycleStarted(at: now())
            // The last cycle's model goes before this cycle reads a new one.
            fastPath.withLock { $0 = nil }
            let report = await cancelWhenGracefulShutdown {
                let run = await engine.runSeedingFastPath(policies: loaded.policies)
                self.fastPath.withLock { $0 = run.fastPath }
                return run.outcome.report
            }
            let wait = Self.jittered(loaded.configuration.reconcile.interval)
            let finished = Task.isShuttingDownGracefully || Task.isCancelled
            status.cycleFinished(report, nextAt: finished ? nil : now().addingTimeInterval(wait.timeInterval))
            notifier.send(.status(status.systemdStatusLine()))
            guard !finished else { return }
            MemoryTuning.returnFreedMemory()
            do {
                try await fastPasses(until: ContinuousClock.now + wait, revision: loaded.policies.revision)
            } catch {
                return
            }
        }
    }

    private func makeEngine(_ loaded: LoadedConfiguration) -> ReconcileEngine {
        ReconcileEngine(
            settings: loaded.configuration.reconcile,
            graph: graph,
            stateStore: stateStore,
            logger: logger,
            progress: ProgressReporter(logger: logger, terminal: false, interval: .seconds(30)) { [status, now] in
                status.progressed(at: now())
            },
            now: now
        )
    }

    /// Waits for the next full cycle, running a fast pass every `reconcile.fastInterval` on the
    /// way (when it is above zero and the cycle started delta tracking). Returns early, for a
    /// full cycle at once, when a fast pass needs one or the policies changed (they may test
    /// other attributes or groups).
    /// - Throws: when the daemon shuts down.
    private func fastPasses(until deadline: ContinuousClock.Instant, revision: String) async throws {
        while true {
            let remaining = deadline - ContinuousClock.now
            guard remaining > .zero else { return }
            let fastInterval = current.withLock { $0.configuration.reconcile.fastInterval }
            guard fastPath.withLock({ $0 != nil }), fastInterval > .zero else {
                try await cancelWhenGracefulShutdown { try await Task.sleep(for: remaining) }
                return
            }
            try await cancelWhenGracefulShutdown { try await Task.sleep(for: min(fastInterval, remaining)) }
            guard ContinuousClock.now < deadline else { return }
            refreshPolicies()
            let loaded = current.withLock { $0 }
            guard loaded.policies.revision == revision else { return }
            let engine = makeEngine(loaded)
            let report = await cancelWhenGracefulShutdown {
                var state = self.fastPath.withLock { held in
                    defer { held = nil }
                    return held
                }!
                let report = await engine.runFastPass(policies: loaded.policies, state: &state)
                if report.result != .fullCycleNeeded { self.fastPath.withLock { $0 = state } }
                return report
            }
            status.fastPassFinished(report)
            if Task.isShuttingDownGracefully || Task.isCancelled { throw CancellationError() }
            if report.result == .fullCycleNeeded { return }
        }
    }

    /// The interval with ±10% jitter.
    static func jittered(_ interval: Duration) -> Duration {
        .milliseconds(Int64(max(1, interval.timeInterval * Double.random(in: 0.9...1.1)) * 1000))
    }

    /// Re-reads the policy directory; a changed, valid set replaces the running one.
    func refreshPolicies() {
        let loaded = current.withLock { $0 }
        do {
            let policies = try loader.loadPolicies(
                in: loaded.configuration.policiesPath,
                reconcile: loaded.configuration.reconcile
            )
            switch reloadState.withLock({
                $0.policiesRead(revision: policies.revision, running: loaded.policies.revision)
            }) {
            case .install(let standingProblems):
                var updated = loaded
                updated.policies = policies
                install(updated, reason: "the policy directory changed")
                // The new policies are in use, but allot.yaml on disk is still broken.
                if let standingProblems { status.policiesRejected(standingProblems.map(\.description), at: now()) }
            case .restored:
                markLoaded(loaded)
            case .unchanged:
                break
            }
        } catch {
            reject(error.diagnostics, reason: "the policy directory changed")
        }
    }

    /// SIGHUP: re-reads the configuration and the policies; keeps the running set when invalid.
    /// An operator asked, so the outcome is always logged, even when the same problems were
    /// already reported by the check before a cycle.
    func reload() {
        reloadState.withLock { $0.reloadRequested() }
        do {
            let loaded = try loader.load(configurationAt: configurationPath)
            // Policies and reconcile settings take effect now; the rest of allot.yaml on restart.
            var updated = current.withLock { $0 }
            updated.policies = loaded.policies
            updated.configuration.policiesPath = loaded.configuration.policiesPath
            updated.configuration.reconcile = loaded.configuration.reconcile
            if updated.configuration != loaded.configuration {
                logger.event(
                    .daemonReloading,
                    level: .warning,
                    "tenant, cloud, graph, auth, status and logging settings take effect on restart; policies and reconcile settings are reloaded"
                )
            }
            install(updated, reason: "reload (SIGHUP)")
        } catch {
            // Whether the running configuration still accepts the policy directory: if it does,
            // the problems lie in allot.yaml.
            let previous = current.withLock { $0 }
            let policiesAccepted =
                (try? loader.loadPolicies(
                    in: previous.configuration.policiesPath,
                    reconcile: previous.configuration.reconcile
                )) != nil
            reject(error.diagnostics, reason: "reload (SIGHUP)", inConfiguration: policiesAccepted)
        }
    }

    private func install(_ loaded: LoadedConfiguration, reason: String) {
        current.withLock { $0 = loaded }
        markLoaded(loaded)
        logger.event(.policyLoaded, "Policies loaded (\(reason))", Self.metadata(loaded))
    }

    private func markLoaded(_ loaded: LoadedConfiguration) {
        status.policiesLoaded(
            Self.statusPolicies(loaded, at: now()),
            interval: loaded.configuration.reconcile.interval,
            mode: loaded.configuration.reconcile.mode.rawValue
        )
        Self.recordInterval(loaded)
    }

    /// The `/status` view of a policy set in use, loaded at `time`.
    static func statusPolicies(_ loaded: LoadedConfiguration, at time: Date) -> DaemonStatus.Policies {
        DaemonStatus.Policies(
            revision: loaded.policies.revision,
            files: loaded.policies.files,
            count: loaded.policies.policies.count,
            loadedAt: time,
            lastError: nil
        )
    }

    /// `allot_interval_seconds`, from the settings in use.
    static func recordInterval(_ loaded: LoadedConfiguration) {
        AllotMetric.interval.gauge().record(Double(loaded.configuration.reconcile.interval.components.seconds))
    }

    private func reject(_ diagnostics: [Diagnostic], reason: String, inConfiguration: Bool = false) {
        guard reloadState.withLock({ $0.rejected(diagnostics, inConfiguration: inConfiguration) }) else { return }
        AllotMetric.policyLoadErrorsTotal.counter().increment()
        status.policiesRejected(diagnostics.map(\.description), at: now())
        logger.event(
            .policyInvalid,
            level: .error,
            "Policies invalid (\(reason)); the last good set stays in use",
            [
                "errors": .array(diagnostics.map { .string($0.description) }),
                "error_count": .stringConvertible(diagnostics.count),
            ]
        )
    }

    /// The `policy.loaded` fields.
    static func metadata(_ loaded: LoadedConfiguration) -> Logger.Metadata {
        [
            "policy.revision": .string(loaded.policies.revision),
            "policy.files": .array(loaded.policies.files.map { .string($0) }),
            "policy.count": .stringConvertible(loaded.policies.policies.count),
            "policy.skipped": .array(loaded.policies.warnings.map { .string($0) }),
        ]
    }
}
