import Metrics

/// A metric from the documented catalogue (`docs/metrics.md`): name, kind, labels and help
/// text, declared once for the engine, the Graph client and the daemon (the way
/// controller-runtime declares its metrics in one file). Names and labels are a stable
/// contract: series are only ever added. `ObservabilityTests` checks the catalogue against the
/// document.
public struct AllotMetric: Sendable, Hashable {
    /// The Prometheus type.
    public enum Kind: String, Sendable, Hashable {
        case counter, gauge, histogram
    }

    public let name: String
    public let kind: Kind
    /// The label names, in the order ``counter(_:)`` and ``gauge(_:)`` take their values.
    public let labels: [String]
    /// One line for `# HELP`: what the series counts or measures.
    public let help: String

    private init(_ name: String, _ kind: Kind, labels: [String] = [], help: String) {
        self.name = name
        self.kind = kind
        self.labels = labels
        self.help = help
    }

    public static let buildInfo = AllotMetric(
        "allot_build_info",
        .gauge,
        labels: ["version", "commit"],
        help: "always 1; which Allot runs (commit is unknown for a plain swift build)"
    )
    public static let reconcileTotal = AllotMetric(
        "allot_reconcile_total",
        .counter,
        labels: ["result"],
        help: "cycles run, by how they ended"
    )
    public static let reconcileDuration = AllotMetric(
        "allot_reconcile_duration_seconds",
        .histogram,
        help: "how long each cycle took, failed ones included"
    )
    public static let lastSuccess = AllotMetric(
        "allot_last_success_timestamp_seconds",
        .gauge,
        help: "when the last cycle that did not fail finished (Unix time); kept across restarts in the state file"
    )
    public static let interval = AllotMetric(
        "allot_interval_seconds",
        .gauge,
        help: #"reconcile.interval in seconds, so rules can say "three intervals""#
    )
    public static let driftedUsers = AllotMetric(
        "allot_drifted_users",
        .gauge,
        help: "users whose licenses differed from the policies in the last cycle that did not fail"
    )
    public static let changesTotal = AllotMetric(
        "allot_changes_total",
        .counter,
        labels: ["action", "result"],
        help: "license changes by kind and outcome"
    )
    public static let deferredAdds = AllotMetric(
        "allot_deferred_adds",
        .gauge,
        labels: ["sku"],
        help: "adds the last cycle deferred for lack of seats, per managed SKU"
    )
    public static let seats = AllotMetric(
        "allot_seats",
        .gauge,
        labels: ["sku", "state"],
        help: "seats per managed SKU as the last cycle read them"
    )
    public static let licenseMonthlyCost = AllotMetric(
        "allot_license_monthly_cost",
        .gauge,
        labels: ["sku", "currency"],
        help:
            "monthly cost of the seats in use per priced managed SKU (prices: in allot.yaml), as the last cycle read them"
    )
    public static let guardTripped = AllotMetric(
        "allot_guard_tripped",
        .gauge,
        help: "1 while the last cycle's removal guard tripped (and was not overridden), else 0"
    )
    public static let graphRequestsTotal = AllotMetric(
        "allot_graph_requests_total",
        .counter,
        labels: ["operation", "status"],
        help: "requests to Microsoft Graph and Entra ID"
    )
    public static let graphThrottledTotal = AllotMetric(
        "allot_graph_throttled_total",
        .counter,
        labels: ["operation"],
        help: "429 answers from Graph"
    )
    public static let policyLoadErrorsTotal = AllotMetric(
        "allot_policy_load_errors_total",
        .counter,
        help: "policy sets (or configurations) refused as invalid"
    )

    // The fast path.
    public static let fastPathTotal = AllotMetric(
        "allot_fastpath_total",
        .counter,
        labels: ["result"],
        help: "fast passes run, by how they ended"
    )
    public static let fastPathDuration = AllotMetric(
        "allot_fastpath_duration_seconds",
        .histogram,
        help: "how long each fast pass took"
    )
    public static let fastPathRequestsTotal = AllotMetric(
        "allot_fastpath_requests_total",
        .counter,
        labels: ["kind"],
        help: "requests fast passes made: delta (delta pages), users ($batches of user reads), skus"
    )
    public static let fastPathUsersAffectedTotal = AllotMetric(
        "allot_fastpath_users_affected_total",
        .counter,
        help: "users fast passes read and planned again"
    )
    public static let fastPathChangeToLicense = AllotMetric(
        "allot_fastpath_change_to_license_seconds",
        .histogram,
        help:
            "per license a fast pass added: from the delta round before the change to the write's answer (an upper bound of the joiner's wait)"
    )

    // The standard `process_*` series of Prometheus client libraries (the daemon reads them
    // from `/proc/self`); docs/metrics.md lists them apart from Allot's own.
    public static let processCPUSeconds = AllotMetric(
        "process_cpu_seconds_total",
        .counter,
        help: "Total user and system CPU time spent in seconds."
    )
    public static let processResidentMemory = AllotMetric(
        "process_resident_memory_bytes",
        .gauge,
        help: "Resident memory size in bytes."
    )
    public static let processVirtualMemory = AllotMetric(
        "process_virtual_memory_bytes",
        .gauge,
        help: "Virtual memory size in bytes."
    )
    public static let processStartTime = AllotMetric(
        "process_start_time_seconds",
        .gauge,
        help: "Start time of the process since unix epoch in seconds."
    )
    public static let processOpenFDs = AllotMetric("process_open_fds", .gauge, help: "Number of open file descriptors.")
    public static let processMaxFDs = AllotMetric(
        "process_max_fds",
        .gauge,
        help: "Maximum number of open file descriptors."
    )

    /// Allot's own metrics, in the document's order.
    public static let all: [AllotMetric] = [
        buildInfo, reconcileTotal, reconcileDuration, lastSuccess, interval, driftedUsers, changesTotal, deferredAdds,
        seats,
        licenseMonthlyCost, guardTripped, graphRequestsTotal, graphThrottledTotal, policyLoadErrorsTotal, fastPathTotal,
        fastPathDuration,
        fastPathRequestsTotal, fastPathUsersAffectedTotal, fastPathChangeToLicense,
    ]

    /// The `process_*` series.
    public static let process: [AllotMetric] = [
        processCPUSeconds, processResidentMemory, processVirtualMemory, processStartTime, processOpenFDs, processMaxFDs,
    ]

    /// The `# HELP` text of every series the daemon serves, by name: the one place it is kept.
    public static let helpByName: [String: String] = Dictionary(
        uniqueKeysWithValues: (all + process).map { ($0.name, $0.help) }
    )

    /// This counter's series with these label values, in ``labels`` order.
    public func counter(_ values: String...) -> Counter {
        precondition(kind == .counter && values.count == labels.count, "\(name) takes the labels \(labels)")
        return Counter(label: name, dimensions: Array(zip(labels, values)))
    }

    /// This gauge's series with these label values, in ``labels`` order.
    public func gauge(_ values: String...) -> Gauge {
        precondition(kind == .gauge && values.count == labels.count, "\(name) takes the labels \(labels)")
        return Gauge(label: name, dimensions: Array(zip(labels, values)))
    }

    /// This counter's series for fractional increments (`process_cpu_seconds_total`).
    public func floatingPointCounter(_ values: String...) -> FloatingPointCounter {
        precondition(kind == .counter && values.count == labels.count, "\(name) takes the labels \(labels)")
        return FloatingPointCounter(label: name, dimensions: Array(zip(labels, values)))
    }

    /// This histogram, recording durations in seconds.
    public func timer() -> Metrics.Timer {
        precondition(kind == .histogram, "\(name) is a \(kind)")
        return Metrics.Timer(label: name, preferredDisplayUnit: .seconds)
    }
}

/// The closed label sets, declared once: the engine records them, the daemon creates their
/// series at zero from its first second.
extension AllotMetric {
    /// `result` of `allot_reconcile_total`.
    public enum ReconcileResult: String, Sendable, CaseIterable {
        case converged
        case notConverged = "not_converged"
        case failed
        case report
    }

    /// `action` of `allot_changes_total`.
    public enum ChangeAction: String, Sendable, CaseIterable {
        case add
        case remove
        case planChange = "plan_change"
        case usageLocation = "usage_location"
        /// A user left alone (with `result` `skipped`).
        case user

        /// The actions a cycle's writes count.
        public static let writes: [ChangeAction] = [.add, .remove, .planChange, .usageLocation]
    }

    /// `result` of `allot_changes_total`.
    public enum ChangeResult: String, Sendable, CaseIterable {
        case applied, failed, deferred, skipped
    }

    /// `kind` of `allot_fastpath_requests_total`.
    public enum FastPathRequestKind: String, Sendable, CaseIterable {
        case delta, users, skus
    }

    /// `state` of `allot_seats`.
    public enum SeatState: String, Sendable, CaseIterable {
        case prepaid, consumed, available
    }

    /// `allot_reconcile_total{result}`.
    public static func reconciles(_ result: ReconcileResult) -> Counter { reconcileTotal.counter(result.rawValue) }

    /// `allot_changes_total{action,result}`.
    public static func changes(_ action: ChangeAction, _ result: ChangeResult) -> Counter {
        changesTotal.counter(action.rawValue, result.rawValue)
    }

    /// `allot_seats{sku,state}`.
    public static func seats(sku: String, _ state: SeatState) -> Gauge { seats.gauge(sku, state.rawValue) }
}
