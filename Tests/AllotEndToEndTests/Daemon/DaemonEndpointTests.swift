import AllotTestSupport
import AllotCore
import AllotSimulator
import Foundation
import Glibc
import Testing

extension DaemonProcessTests {
    /// Only stops a hung request: how fast the endpoints answer is the soak's budget
    /// (docs/performance.md), not this test's. This test shows they answer *while* a cycle
    /// runs: every answer arrives before `cycle.finished`, and `/status` shows the cycle.
    static let hungRequest = Duration.seconds(120)

    @Test(
        "/healthz, /readyz, /status and /metrics answer while a cycle reads, plans and applies 10,000 users over a slow Graph"
    )
    func endpointsDuringLargeCycle() async throws {
        let testbed = try await Testbed("large", users: 10_000, seed: 15)
        // Graph answering each user page and each batch in 300 ms keeps the cycle in its read
        // and in its apply for seconds, whatever this machine's speed: long enough for rounds
        // of requests in both, without the CPU of a tenant ten times the size.
        for path in ["/users?", "/$batch"] {
            try await testbed.addFault(
                SimulatedFault(kind: .latency, path: path, count: -1, delayMilliseconds: 300)
            )
        }
        try testbed.configure(interval: "1h")
        let daemon = try await testbed.startDaemon()
        defer { daemon.child.stop() }
        try await daemon.log.first("cycle.started")

        // Probe every endpoint in turn while the cycle runs: through the read and the plan
        // (until the first drift.detected), then a few rounds into the apply.
        var roundsWhileReading = 0
        var roundsWhileApplying = 0
        while roundsWhileApplying < 5 {
            let applying = !daemon.log.events("drift.detected").isEmpty
            guard daemon.log.events("cycle.finished").isEmpty else { break }
            for path in ["/healthz", "/readyz", "/status", "/metrics"] {
                let response = try await daemon.get(path, timeout: Self.hungRequest)
                #expect(
                    response.status == (path == "/readyz" ? 503 : 200),
                    "\(path) answered \(response.status): \(response.body.prefix(300))"
                )
                if path == "/readyz" { #expect(response.body.contains("first cycle"), "\(response.body)") }
                if path == "/metrics" { #expect(response.body.contains("allot_interval_seconds 3600")) }
            }
            if applying { roundsWhileApplying += 1 } else { roundsWhileReading += 1 }
            if case .object = try await daemon.status()["cycleInProgress"] {
            } else {
                Issue.record("/status shows no cycle in progress before cycle.finished")
            }
            try await Task.sleep(for: .milliseconds(200))
        }
        // How many rounds fit in the read and plan depends on the machine; one shows the
        // endpoints answer while the cycle reads.
        #expect(roundsWhileReading >= 1, "no round of requests while the tenant was read")
        #expect(roundsWhileApplying >= 5 || !daemon.log.events("cycle.finished").isEmpty)
        let (_, started) = try await daemon.log.first("read.progress")
        #expect(started.int("users") != nil)

        daemon.child.signal(SIGTERM)
        #expect(
            try await daemon.child.exitStatus(within: Self.stopTimeout) == 0,
            "\(daemon.child.standardError.suffix(2000))"
        )
        let (_, finished) = try await daemon.log.first("cycle.finished")
        #expect(finished.int("users.read") == 10_000, "\(finished)")
    }

    @Test(
        "/metrics has every documented series, with low-cardinality labels and no user in any label; /status has the documented fields"
    )
    func documentedMetrics() async throws {
        let testbed = try await Testbed("metrics", users: 300, seed: 16, drift: 20)
        try await testbed.addFault(
            SimulatedFault(kind: .throttle, method: "POST", path: "/assignLicense", count: 3, retryAfterSeconds: 1)
        )
        try testbed.configure(interval: "1h")
        let daemon = try await testbed.startDaemon()
        defer { daemon.child.stop() }
        let (_, cycle) = try await daemon.log.first("cycle.finished", timeout: .seconds(120))
        let drifted = try #require(cycle.int("users.drifted"))
        #expect(drifted > 0)
        #expect(daemon.log.events("drift.detected").count == drifted, "drift.detected is logged once per drifted user")
        #expect(Set(daemon.log.events("drift.detected").compactMap { $0.string("user.id") }).count == drifted)

        let response = try await daemon.get("/metrics")
        #expect(response.status == 200)
        let parser = try ExpositionParser.check(response.body)
        #expect(parser.status == 0, "\(parser.tool): \(parser.output)")
        let exposition = try PrometheusExposition(response.body)
        #expect(
            response.body.split(separator: "\n").filter { $0.hasPrefix("# HELP ") }.count == exposition.types.count,
            "a HELP line for every TYPE"
        )
        let buildInfo = try #require(exposition.samples.first { $0.name == "allot_build_info" })
        #expect(
            buildInfo.value == 1 && buildInfo.labels["version"] == AllotVersion.current
                && buildInfo.labels["commit"]?.isEmpty == false,
            "\(buildInfo.line)"
        )
        #expect((exposition.value("process_cpu_seconds_total") ?? 0) > 0)
        #expect((exposition.value("process_resident_memory_bytes") ?? 0) > 1_000_000)
        #expect((exposition.value("process_open_fds") ?? 0) > 2)
        #expect((exposition.value("process_start_time_seconds") ?? 0) > Date().timeIntervalSince1970 - 3600)
        for (name, type) in DocumentedMetrics.types
        where exposition.types[name] != nil || !DocumentedMetrics.afterFastPass.contains(name) {
            #expect(
                exposition.types[name] == type,
                "\(name): TYPE \(exposition.types[name] ?? "missing"), documented \(type)"
            )
        }
        #expect(
            Set(exposition.types.keys).union(DocumentedMetrics.afterFastPass) == Set(DocumentedMetrics.types.keys),
            "undocumented: \(Set(exposition.types.keys).subtracting(DocumentedMetrics.types.keys))"
        )
        for sample in exposition.samples {
            let family = DocumentedMetrics.family(of: sample.name)
            #expect(Set(sample.labels.keys) == DocumentedMetrics.labels[family] ?? [], "\(sample.line)")
            for (label, value) in sample.labels {
                #expect(
                    value.firstMatch(of: /[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-/) == nil && !value.contains("@"),
                    "a user in a label: \(sample.line)"
                )
                if let allowed = DocumentedMetrics.values[label] {
                    #expect(allowed.contains(value), "\(label)=\(value) is not documented: \(sample.line)")
                }
            }
            if let sku = sample.labels["sku"] { #expect(sku.wholeMatch(of: /[A-Z0-9_]+/) != nil, "\(sample.line)") }
            if let operation = sample.labels["operation"] {
                #expect(DocumentedMetrics.operations.contains(operation), "\(sample.line)")
            }
            if let status = sample.labels["status"] {
                #expect(Int(status) != nil || status == "none", "\(sample.line)")
            }
        }
        #expect(exposition.value("allot_graph_throttled_total", ["operation": "POST /users/{id}/assignLicense"]) == 3)
        #expect(exposition.value("allot_reconcile_total", ["result": "converged"]) == 1)
        #expect(exposition.value("allot_policy_load_errors_total") == 0)
        #expect(exposition.value("allot_interval_seconds") == 3600)
        #expect((exposition.value("allot_changes_total", ["action": "add", "result": "applied"]) ?? 0) > 0)
        #expect(
            (exposition.value("allot_graph_requests_total", ["operation": "GET /users", "status": "200"]) ?? 0) >= 1
        )

        let status = try await daemon.status()
        // The testbed prices SPE_E5 at 57.00 EUR: its series is the seats in use times the price.
        guard case .array(let seats) = status["seats"],
            case .object(let e5)? = seats.first(where: {
                if case .object(let seat) = $0 { seat["sku"] == .string("SPE_E5") } else { false }
            }),
            case .number(let consumed)? = e5["consumedBefore"]
        else {
            Issue.record("no SPE_E5 seats in /status")
            return
        }
        #expect(exposition.value("allot_license_monthly_cost", ["sku": "SPE_E5", "currency": "EUR"]) == consumed * 57)
        #expect(
            exposition.samples.filter { $0.name == "allot_license_monthly_cost" }.map { $0.labels["sku"] ?? "" }
                .sorted() == ["SPE_E3", "SPE_E5"]
        )
        guard case .object(let cost) = status["cost"], case .array(let totals) = cost["totals"],
            case .object(let euro)? = totals.first
        else {
            Issue.record("no cost in /status")
            return
        }
        #expect(totals.count == 1 && euro["currency"] == .string("EUR"))
        if case .string(let before)? = euro["monthlyBefore"] {
            #expect(before.hasSuffix(".00") && Decimal(string: before) != nil, "\(before)")
        } else {
            Issue.record("monthlyBefore is not a decimal string: \(euro)")
        }
        let statusProblems = DocumentedStatus.check(
            status.keys,
            required: DocumentedStatus.fields,
            optional: DocumentedStatus.optionalFields
        )
        #expect(statusProblems == nil, "/status: \(statusProblems ?? "")")
        guard case .object(let lastCycle) = status["lastCycle"] else {
            Issue.record("no lastCycle in /status")
            return
        }
        let cycleProblems = DocumentedStatus.check(
            lastCycle.keys,
            required: DocumentedStatus.lastCycleFields,
            optional: DocumentedStatus.optionalLastCycleFields
        )
        #expect(cycleProblems == nil, "/status lastCycle: \(cycleProblems ?? "")")
        daemon.child.signal(SIGTERM)
        #expect(try await daemon.child.exitStatus(within: Self.stopTimeout) == 0)
    }
}

extension DaemonProcessTests {
    @Test(
        "allot_last_success_timestamp_seconds survives a restart: a daemon that cannot succeed shows the last success the state file remembers"
    )
    func lastSuccessSurvivesRestart() async throws {
        let testbed = try await Testbed("restart-metrics", users: 50, seed: 21)
        try testbed.configure(interval: "1h")
        let first = try await testbed.startDaemon(name: "first")
        _ = try await first.log.first("cycle.finished", timeout: .seconds(120))
        first.child.signal(SIGTERM)
        #expect(try await first.child.exitStatus(within: Self.stopTimeout) == 0)
        let state = try #require(
            try JSONSerialization.jsonObject(
                with: Data(contentsOf: testbed.directory.appendingPathComponent("state/state.json"))
            ) as? [String: Any]
        )
        let remembered = try #require(state["lastSuccessAt"] as? Int, "\(state.keys)")

        // The token endpoint is down for good: the second daemon's cycles cannot succeed.
        try await testbed.addFault(SimulatedFault(kind: .tokenOutage, count: -1))
        let second = try await testbed.startDaemon(name: "second")
        defer { second.child.stop() }
        _ = try await second.log.first("daemon.started")
        let exposition = try PrometheusExposition(try await second.get("/metrics").body)
        #expect(exposition.value("allot_last_success_timestamp_seconds") == Double(remembered))
        second.child.signal(SIGTERM)
        #expect(try await second.child.exitStatus(within: Self.stopTimeout) == 0)
    }
}

/// A real Prometheus exposition parser: `promtool check metrics` (Debian's `prometheus` package,
/// which `.ci/run` installs), else the Prometheus Python client's parser.
enum ExpositionParser {
    static func check(_ exposition: String) throws -> (tool: String, status: Int32, output: String) {
        if let promtool = ProcessRunner.findInPath("promtool") {
            let result = try ProcessRunner.run(promtool, ["check", "metrics"], input: exposition)
            return ("promtool", result.status, result.output)
        }
        let script =
            "import sys\nfrom prometheus_client.parser import text_string_to_metric_families\nlist(text_string_to_metric_families(sys.stdin.read()))"
        let result = try ProcessRunner.run(
            ProcessRunner.findInPath("python3") ?? "/usr/bin/python3",
            ["-c", script],
            input: exposition
        )
        return ("prometheus_client", result.status, result.output)
    }
}

/// The metric families `docs/metrics.md` documents: their types, labels and label values.
enum DocumentedMetrics {
    static let types: [String: String] = [
        "allot_reconcile_total": "counter", "allot_reconcile_duration_seconds": "histogram",
        "allot_last_success_timestamp_seconds": "gauge", "allot_interval_seconds": "gauge",
        "allot_drifted_users": "gauge",
        "allot_changes_total": "counter", "allot_deferred_adds": "gauge", "allot_seats": "gauge",
        "allot_guard_tripped": "gauge",
        "allot_license_monthly_cost": "gauge",
        "allot_graph_requests_total": "counter", "allot_graph_throttled_total": "counter",
        "allot_policy_load_errors_total": "counter",
        "allot_build_info": "gauge", "process_cpu_seconds_total": "counter", "process_resident_memory_bytes": "gauge",
        "process_virtual_memory_bytes": "gauge", "process_start_time_seconds": "gauge", "process_open_fds": "gauge",
        "process_max_fds": "gauge",
        "allot_fastpath_total": "counter", "allot_fastpath_requests_total": "counter",
        "allot_fastpath_users_affected_total": "counter",
        "allot_fastpath_duration_seconds": "histogram", "allot_fastpath_change_to_license_seconds": "histogram",
    ]

    /// Histograms that appear with the first fast pass (or the first license it applies), not at start.
    static let afterFastPass: Set<String> = [
        "allot_fastpath_duration_seconds", "allot_fastpath_change_to_license_seconds",
    ]

    static let labels: [String: Set<String>] = [
        "allot_reconcile_total": ["result"], "allot_reconcile_duration_seconds_bucket": ["le"],
        "allot_changes_total": ["action", "result"],
        "allot_deferred_adds": ["sku"], "allot_seats": ["sku", "state"],
        "allot_license_monthly_cost": ["sku", "currency"], "allot_graph_requests_total": ["operation", "status"],
        "allot_graph_throttled_total": ["operation"], "allot_build_info": ["version", "commit"],
        "allot_fastpath_total": ["result"], "allot_fastpath_requests_total": ["kind"],
        "allot_fastpath_duration_seconds_bucket": ["le"], "allot_fastpath_change_to_license_seconds_bucket": ["le"],
    ]

    static let values: [String: Set<String>] = [
        "result": [
            "converged", "not_converged", "failed", "report", "applied", "deferred", "skipped", "nothing_changed",
            "full_cycle",
        ],
        "kind": ["delta", "users", "skus"],
        "action": ["add", "remove", "plan_change", "usage_location", "user"],
        "state": ["prepaid", "consumed", "available"],
        "currency": ["EUR"],
    ]

    static let operations: Set<String> = [
        "token", "GET /users", "GET /groups?$filter", "GET /groups/{id}", "GET /groups/{id}/transitiveMembers",
        "GET /subscribedSkus",
        "POST /$batch", "POST /users/{id}/assignLicense", "PATCH /users/{id}", "GET /users/delta", "GET /groups/delta",
    ]

    /// The family a sample belongs to, for label checks (`_bucket` keeps its own: it alone has `le`).
    static func family(of sample: String) -> String {
        for suffix in ["_sum", "_count"]
        where sample.hasSuffix(suffix) && types[String(sample.dropLast(suffix.count))] == "histogram" {
            return String(sample.dropLast(suffix.count))
        }
        return sample
    }
}

/// The `/status` fields `docs/status.md` documents: always there, and there when they apply.
enum DocumentedStatus {
    static let fields: Set<String> = [
        "version", "startedAt", "interval", "mode", "policies", "lastTickAt", "health", "readiness", "seats", "cost",
        "recentErrors",
    ]
    static let optionalFields: Set<String> = ["lastCycle", "lastFastPass", "cycleInProgress", "nextCycleAt"]

    static let lastCycleFields: Set<String> = [
        "mode", "startedAt", "finishedAt", "result", "policyRevision", "usersRead", "usersInScope", "usersDrifted",
        "planned", "applied",
        "failed", "deferredAdds", "skippedUsers", "delayedRemovals", "heldRemovals", "notSent", "usersGone",
        "staleUsers", "policyConflicts",
        "shrunkGroups", "seats", "cost", "failures",
    ]
    static let optionalLastCycleFields: Set<String> = ["error", "guardrail", "writesRefused"]

    /// Problems with `keys` against the documented fields, or nil.
    static func check(_ keys: some Collection<String>, required: Set<String>, optional: Set<String>) -> String? {
        let keys = Set(keys)
        let missing = required.subtracting(keys)
        let undocumented = keys.subtracting(required).subtracting(optional)
        return missing.isEmpty && undocumented.isEmpty
            ? nil : "missing \(missing.sorted()), undocumented \(undocumented.sorted())"
    }
}

/// The Prometheus text format, as far as the tests read it.
struct PrometheusExposition {
    struct Sample {
        let name: String
        let labels: [String: String]
        let value: Double
        let line: String
    }

    private(set) var types: [String: String] = [:]
    private(set) var samples: [Sample] = []

    init(_ text: String) throws {
        for line in text.split(separator: "\n").map(String.init) where !line.isEmpty {
            if let type = line.wholeMatch(of: /# TYPE (\w+) (\w+)/) {
                types[String(type.1)] = String(type.2)
                continue
            }
            guard !line.hasPrefix("#") else { continue }
            guard let sample = line.wholeMatch(of: /(\w+)(?:\{(.*)\})? (\S+)/), let value = Double(sample.3) else {
                throw HarnessError("not a Prometheus sample: \(line)")
            }
            var labels: [String: String] = [:]
            for label in String(sample.2 ?? "").matches(of: /(\w+)="((?:[^"\\]|\\.)*)"/) {
                labels[String(label.1)] = String(label.2)
            }
            samples.append(Sample(name: String(sample.1), labels: labels, value: value, line: line))
        }
    }

    /// The value of the sample with exactly these labels.
    func value(_ name: String, _ labels: [String: String] = [:]) -> Double? {
        samples.first { $0.name == name && $0.labels == labels }?.value
    }
}
