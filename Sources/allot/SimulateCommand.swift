import AllotCore
import AllotTools
import AllotSimulator
import ArgumentParser
import Foundation

/// `allot simulate`: serves the built-in Microsoft Graph simulator until SIGTERM or SIGINT.
struct SimulateCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "simulate",
        abstract: "Serve the built-in Microsoft Graph simulator (Graph v1.0, Entra token endpoint, IMDS).",
        discussion: """
            Serves a tenant read from a snapshot (--tenant) or generated from a seed (--users, --seed) on \
            loopback, with the Graph endpoints Allot uses, the token endpoint for all four auth modes, \
            a control API for faults, and a request log. See docs/simulator.md.
            """
    )

    @Option(
        name: .long,
        help: ArgumentHelp("A snapshot document to serve.", valueName: "file"),
        completion: .file(extensions: ["json"])
    )
    var tenant: String?

    @Option(name: .long, help: "Generate a tenant with this many users (default 1000 when no --tenant).")
    var users: Int?

    @Option(name: .long, help: "The generator's seed: the same seed gives the same tenant.")
    var seed: UInt64 = 1

    @Option(
        name: .long,
        help: ArgumentHelp(
            "Share of generated users whose licenses differ from the sample policies.",
            valueName: "percent"
        )
    )
    var drift: Double = 5

    @Option(
        name: .long,
        help: ArgumentHelp("Address to listen on; loopback unless --allow-remote.", valueName: "host:port")
    )
    var listen: String = "127.0.0.1:8080"

    @Flag(name: .long, help: "Allow a non-loopback --listen address (the simulator has no real security).")
    var allowRemote = false

    @Flag(name: .long, help: "Serve HTTPS with a new self-signed certificate (or --tls-cert/--tls-key).")
    var tls = false

    @Option(
        name: .long,
        help: ArgumentHelp("Where to write the self-signed certificate (PEM).", valueName: "path"),
        completion: .file()
    )
    var tlsCertOut: String?

    @Option(
        name: .long,
        help: ArgumentHelp("A PEM certificate chain to serve instead of a self-signed one.", valueName: "path"),
        completion: .file()
    )
    var tlsCert: String?

    @Option(
        name: .long,
        help: ArgumentHelp("The PEM private key of --tls-cert.", valueName: "path"),
        completion: .file()
    )
    var tlsKey: String?

    @Option(
        name: .long,
        help: ArgumentHelp("Access token lifetime (30s, 15m, 1h30m; default 3599s).", valueName: "duration"),
        transform: { text in
            guard let duration = DurationText.parse(text, bareSeconds: true) else {
                throw ValidationError("not a duration; write 30s, 15m, 1h30m or 2d")
            }
            return duration
        }
    )
    var tokenLifetime: Duration?

    @Option(
        name: .long,
        help: ArgumentHelp("Enforce Graph's write quota, writes per window (3000/150s).", valueName: "writes/window"),
        transform: { text in
            guard let quota = SimulatedWriteQuota(parsing: text) else {
                throw ValidationError("not writes/window; write 3000/150s")
            }
            return quota
        }
    )
    var writeQuota: SimulatedWriteQuota?

    @Option(
        name: .long,
        help: "Register one application with this client id (without it, any client id and secret is accepted)."
    )
    var clientId: String?

    @Option(
        name: .long,
        help: ArgumentHelp("A file holding the registered application's client secret.", valueName: "path"),
        completion: .file()
    )
    var clientSecretFile: String?

    @Option(
        name: .long,
        help: ArgumentHelp(
            "A PEM certificate client assertions of the registered application must be signed with.",
            valueName: "path"
        ),
        completion: .file()
    )
    var clientCertificate: String?

    @Option(
        name: .long,
        help: ArgumentHelp(
            "Inject a fault, e.g. throttle:path=/assignLicense,count=5 (repeatable; see docs/simulator.md).",
            valueName: "fault"
        ),
        transform: { try SimulatedFault(parsing: $0) }
    )
    var fault: [SimulatedFault] = []

    @Option(
        name: .long,
        help: ArgumentHelp(
            "The order parallel $batch items run and answer in: random (seeded by --seed, as Graph promises no order) or sequential.",
            valueName: "order"
        ),
        transform: { text in
            guard let order = SimulatedBatchOrder(rawValue: text) else {
                throw ValidationError("write --batch-order random or --batch-order sequential")
            }
            return order
        }
    )
    var batchOrder: SimulatedBatchOrder = .random

    @Option(
        name: .long,
        help: ArgumentHelp(
            "The application permissions every token carries, comma-separated (default: the five Allot needs).",
            valueName: "roles"
        ),
        transform: { text in
            Set(text.split(separator: ",").map { $0.trimmingCharacters(in: .whitespaces) }.filter { !$0.isEmpty })
        }
    )
    var appRoles: Set<String>?

    @Option(
        name: .long,
        help: ArgumentHelp(
            "How long writes take to be seen: PATCHed properties by reads and assignLicense, membership by advanced queries (default 0).",
            valueName: "duration"
        ),
        transform: { text in
            guard let duration = DurationText.parse(text, bareSeconds: true) else {
                throw ValidationError("not a duration; write 30s, 15m, 1h30m or 2d")
            }
            return duration
        }
    )
    var consistencyLag: Duration = .zero

    @Option(
        name: .long,
        help: ArgumentHelp("Make this generated group HiddenMembership (with --users).", valueName: "name")
    )
    var hiddenMembershipGroup: String?

    @Option(
        name: .long,
        help: ArgumentHelp(
            "Generate createdDateTime, hire and leave dates and sign-in activity relative to this moment (2026-12-07, 2026-12-07T09:00:00Z or now; with --users).",
            valueName: "date"
        ),
        transform: { text in
            if text == "now" { return Date() }
            guard let seconds = SimulatorConfiguration.parseDate(text) else {
                throw ValidationError("'\(text)' is not a date; write 2026-12-07, 2026-12-07T09:00:00Z or now")
            }
            return Date(timeIntervalSince1970: seconds)
        }
    )
    var lifecycleDates: Date?

    @Option(
        name: .long,
        help: ArgumentHelp(
            "How long users and groups delta tokens stay valid (default 7d, Graph's for directory objects).",
            valueName: "duration"
        ),
        transform: { text in
            guard let duration = DurationText.parse(text, bareSeconds: true), duration > .zero else {
                throw ValidationError("not a duration; write 7d, 1h or 30s")
            }
            return duration
        }
    )
    var deltaTokenLifetime: Duration?

    @Flag(name: .long, help: "Serve a tenant without Microsoft Entra ID P1: selecting signInActivity answers 403.")
    var noEntraIdPremium = false

    @Option(
        name: .long,
        help: ArgumentHelp(
            "Service plans no two of which a user may have enabled, by id or catalog name, e.g. EXCHANGE_S_STANDARD,EXCHANGE_S_ENTERPRISE (repeatable; Graph itself has none left among the catalog's plans).",
            valueName: "plans"
        ),
        transform: { text in try SimulateCommand.parsePlans(text) }
    )
    var exclusivePlans: [Set<GUID>] = []

    func validate() throws {
        if tenant != nil, users != nil { throw ValidationError("give either --tenant FILE or --users N, not both") }
        if (tlsCert == nil) != (tlsKey == nil) { throw ValidationError("--tls-cert and --tls-key go together") }
        if clientSecretFile != nil || clientCertificate != nil, clientId == nil {
            throw ValidationError("--client-secret-file and --client-certificate need --client-id")
        }
        if let users, users < 0 { throw ValidationError("--users must be 0 or more") }
        if tenant != nil, hiddenMembershipGroup != nil {
            throw ValidationError(
                "--hidden-membership-group applies to a generated tenant; in a --tenant file set the group's \"visibility\" instead"
            )
        }
        if tenant != nil, lifecycleDates != nil {
            throw ValidationError(
                "--lifecycle-dates applies to a generated tenant; in a --tenant file give users the dates themselves"
            )
        }
        if let hiddenMembershipGroup,
            !TenantGenerator.groupNames.contains(where: { $0.lowercased() == hiddenMembershipGroup.lowercased() })
        {
            throw ValidationError(
                "no generated group is named '\(hiddenMembershipGroup)'; choose one of: \(TenantGenerator.groupNames.joined(separator: ", "))"
            )
        }
        let host = try Self.parseListen(listen).host
        guard allowRemote || isLoopbackHost(host) else {
            throw ValidationError(
                "--listen \(listen) is not a loopback address; the simulator accepts any client, so it listens on loopback only. Add --allow-remote if you really mean it."
            )
        }
    }

    func run() async throws {
        var configuration = SimulatorConfiguration()
        let address = try Self.parseListen(listen)
        configuration.host = address.host == "localhost" ? "127.0.0.1" : address.host
        configuration.port = address.port
        if let tlsCert, let tlsKey {
            configuration.tls = .files(certificate: tlsCert, privateKey: tlsKey)
        } else if tls || tlsCertOut != nil {
            let path =
                tlsCertOut
                ?? FileManager.default.temporaryDirectory.appendingPathComponent("allot-simulator-\(getpid()).pem").path
            configuration.tls = .selfSigned(writeCertificateTo: path)
        }
        if let tokenLifetime { configuration.tokenLifetime = tokenLifetime }
        configuration.writeQuota = writeQuota
        configuration.batchOrder = batchOrder
        configuration.batchSeed = seed
        configuration.consistencyLag = consistencyLag
        if let deltaTokenLifetime { configuration.deltaTokenLifetime = deltaTokenLifetime }
        configuration.entraIDPremium = !noEntraIdPremium
        configuration.licensingRules.mutuallyExclusive += exclusivePlans
        let roles = appRoles ?? SimulatedApplication.allotRoles
        configuration.defaultRoles = roles
        if let clientId {
            let secret = try clientSecretFile.map { path in
                try String(contentsOfFile: path, encoding: .utf8).trimmingCharacters(in: .whitespacesAndNewlines)
            }
            let certificate = try clientCertificate.map { try String(contentsOfFile: $0, encoding: .utf8) }
            configuration.applications = [
                SimulatedApplication(
                    clientId: clientId,
                    clientSecret: secret,
                    certificatePEM: certificate,
                    roles: roles
                )
            ]
        }

        let simulator: GraphSimulator
        if let tenant {
            let snapshot = try readSnapshot(tenant)
            if let id = snapshot.tenant, GUID(id) != nil { configuration.tenantId = id }
            simulator = GraphSimulator(tenant: snapshot, configuration: configuration)
        } else {
            let generator = TenantGenerator(
                users: users ?? 1000,
                seed: seed,
                driftPercent: drift,
                hiddenMembershipGroup: hiddenMembershipGroup,
                lifecycleDatesAsOf: lifecycleDates
            )
            simulator = GraphSimulator(generator: generator, configuration: configuration)
        }
        for fault in fault { simulator.addFault(fault) }
        let userCount = simulator.userCount
        let tenantId = configuration.tenantId
        try await simulator.runUntilTerminated { endpoints in
            FileHandle.standardOutput.write(Data(endpoints.banner(userCount: userCount, tenantId: tenantId).utf8))
        }
    }

    /// `PLAN,PLAN[,...]`: service plan ids, or plan names from the built-in catalog.
    static func parsePlans(_ text: String) throws -> Set<GUID> {
        var plans = Set<GUID>()
        for name in text.split(separator: ",").map({ $0.trimmingCharacters(in: .whitespaces) }) where !name.isEmpty {
            let byName = SkuCatalog.entries.lazy.flatMap(\.servicePlans).first {
                $0.name.lowercased() == name.lowercased()
            }?.id
            guard let plan = GUID(name) ?? byName else {
                throw ValidationError("'\(name)' is neither a service plan id nor a plan name of the built-in catalog")
            }
            plans.insert(plan)
        }
        guard plans.count >= 2 else {
            throw ValidationError("name at least two different service plans that exclude each other")
        }
        return plans
    }

    /// `--listen` as host and port, or a usage error.
    static func parseListen(_ text: String) throws -> HostPort {
        guard let address = HostPort(parsing: text) else {
            throw ValidationError(
                "--listen '\(text)' needs host:port with a port from 0 to 65535, e.g. 127.0.0.1:8080 or [::1]:8080"
            )
        }
        return address
    }
}
