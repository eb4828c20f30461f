import AllotCore
import Foundation

/// Maps the root of `allot.yaml` onto ``AllotConfiguration``, reporting every problem.
///
/// It reads on past problems: a field it cannot use keeps its default, so the rest of
/// the file is still checked. The result is only handed out when nothing was reported.
struct ConfigurationDecoder {
    /// The environment, for `AZURE_FEDERATED_TOKEN_FILE`.
    let environment: [String: String]
    /// The configuration file's directory: relative paths resolve against it.
    let directory: String

    /// What was read, and what later steps may rely on even when other fields failed.
    struct Decoded {
        var configuration: AllotConfiguration
        /// Nil when `policies` was given but unusable: then no policy directory is read.
        var policiesPath: String?
        /// Nil when `reconcile.managedSkus` is missing or unusable: then policies are not
        /// checked against it.
        var managedSkus: [SkuReference]?
    }

    func decode(_ root: YAMLNode, _ reader: NodeReader) -> Decoded {
        var configuration = AllotConfiguration(tenant: "", policiesPath: resolve("policies"))
        var decoded = Decoded(configuration: configuration, policiesPath: configuration.policiesPath, managedSkus: nil)
        guard let fields = reader.fields(of: root, "", known: Keys.Configuration.root, explain: explain(at: "")) else {
            decoded.policiesPath = nil
            return decoded
        }

        if let node = fields["tenant"], let tenant = reader.text(node, "tenant") {
            if GUID(tenant) != nil || Self.isDomain(tenant) {
                configuration.tenant = tenant
            } else {
                reader.report(
                    "`tenant` must be the tenant id (a GUID) or a verified domain such as contoso.onmicrosoft.com, got \(NodeReader.describe(node))",
                    at: node
                )
            }
        } else if fields["tenant"] == nil {
            reader.report(
                "`tenant` is required: the tenant id (a GUID) or a verified domain such as contoso.onmicrosoft.com",
                at: root
            )
        }
        if let node = fields["cloud"], let cloud = reader.choice(node, "cloud", of: AllotConfiguration.Cloud.self) {
            configuration.cloud = cloud
        }
        if let node = fields["graph"] {
            configuration.graph = graph(node, reader)
        }
        if let node = fields["auth"], let key = fields.keyNode("auth") {
            configuration.auth = authentication(node, key: key, reader)
        } else {
            reader.report(
                "`auth` is required: at least `auth.clientId`, the application (client) id of the app registration",
                at: root
            )
        }
        if let node = fields["policies"] {
            decoded.policiesPath = reader.text(node, "policies").map(resolve)
            configuration.policiesPath = decoded.policiesPath ?? configuration.policiesPath
        }
        if let node = fields["reconcile"], let key = fields.keyNode("reconcile") {
            (configuration.reconcile, decoded.managedSkus) = reconcile(node, key: key, reader)
        } else {
            reader.report("`reconcile` is required: at least `reconcile.managedSkus`, the SKUs Allot owns", at: root)
        }
        if let node = fields["prices"], !reader.isNull(node) {
            configuration.reconcile.prices = prices(node, reader)
        }
        if let node = fields["status"],
            let status = reader.fields(
                of: node,
                "status",
                known: Keys.Configuration.status,
                explain: explain(at: "status")
            ),
            let listen = status["listen"], let address = reader.text(listen, "status.listen")
        {
            if HostPort(parsing: address) != nil {
                configuration.status.listen = address
            } else {
                reader.report(
                    "`status.listen` must be host:port such as 127.0.0.1:9464 or [::1]:9464, got \(NodeReader.describe(listen))",
                    at: listen
                )
            }
        }
        if let node = fields["logging"],
            let logging = reader.fields(
                of: node,
                "logging",
                known: Keys.Configuration.logging,
                explain: explain(at: "logging")
            )
        {
            if let format = logging["format"] {
                configuration.logging.format = reader.choice(format, "logging.format")
            }
            if let level = logging["level"],
                let value = reader.choice(level, "logging.level", of: AllotConfiguration.LoggingSettings.Level.self)
            {
                configuration.logging.level = value
            }
        }
        decoded.configuration = configuration
        return decoded
    }

    // MARK: - Sections

    private func graph(_ node: YAMLNode, _ reader: NodeReader) -> AllotConfiguration.GraphEndpoints {
        var graph = AllotConfiguration.GraphEndpoints()
        guard
            let fields = reader.fields(
                of: node,
                "graph",
                known: Keys.Configuration.graph,
                explain: explain(at: "graph")
            )
        else { return graph }
        graph.endpoint = fields["endpoint"].flatMap {
            url($0, "graph.endpoint", example: "https://graph.microsoft.com/v1.0", reader)
        }
        graph.authority = fields["authority"].flatMap {
            url($0, "graph.authority", example: "https://login.microsoftonline.com", reader)
        }
        graph.caFile = fields["caFile"].flatMap { reader.text($0, "graph.caFile") }.map(resolve)
        if let timeout = fields["timeout"], let value = reader.duration(timeout, "graph.timeout") {
            if value > .zero {
                graph.timeout = value
            } else {
                reader.report("`graph.timeout` must be longer than zero (default 30s)", at: timeout)
            }
        }
        if let node = fields["writeQuota"],
            let quota = reader.fields(
                of: node,
                "graph.writeQuota",
                known: Keys.Configuration.writeQuota,
                explain: explain(at: "graph.writeQuota")
            )
        {
            if let writes = quota["writes"], let value = reader.integer(writes, "graph.writeQuota.writes") {
                if value > 0 {
                    graph.writeQuota.writes = value
                } else {
                    reader.report("`graph.writeQuota.writes` must be at least 1, got \(value)", at: writes)
                }
            }
            if let window = quota["window"], let value = reader.duration(window, "graph.writeQuota.window") {
                if value > .zero {
                    graph.writeQuota.window = value
                } else {
                    reader.report("`graph.writeQuota.window` must be longer than zero", at: window)
                }
            }
        }
        return graph
    }

    /// `key` is where `auth:` is written, for what is missing from it.
    private func authentication(
        _ node: YAMLNode,
        key: YAMLNode,
        _ reader: NodeReader
    ) -> AllotConfiguration.Authentication {
        var auth = AllotConfiguration.Authentication()
        guard let fields = reader.fields(of: node, "auth", known: Keys.Configuration.auth, explain: explain(at: "auth"))
        else { return auth }

        let modes = fields.presentKeys.compactMap(AllotConfiguration.Credential.Kind.init(rawValue:))
        if modes.count > 1, let second = fields.keyNode(modes[1].rawValue) {
            reader.report(
                "`auth` gives more than one credential (\(modes.map(\.rawValue).joined(separator: ", "))): keep exactly one",
                at: second
            )
        }
        switch modes.first {
        case .clientSecretFile:
            let value = fields["clientSecretFile"]!
            auth.credential = .clientSecretFile(
                reader.isNull(value) ? nil : reader.text(value, "auth.clientSecretFile").map(resolve)
            )
        case .certificate:
            if let certificate = reader.fields(
                of: fields["certificate"]!,
                "auth.certificate",
                known: Keys.Configuration.certificate
            ),
                let key = fields.keyNode("certificate")
            {
                let certificateFile = requiredPath(
                    certificate,
                    "certificateFile",
                    in: "auth.certificate",
                    at: key,
                    reader
                )
                let privateKeyFile = requiredPath(
                    certificate,
                    "privateKeyFile",
                    in: "auth.certificate",
                    at: key,
                    reader
                )
                if let certificateFile, let privateKeyFile {
                    auth.credential = .certificate(certificateFile: certificateFile, privateKeyFile: privateKeyFile)
                }
            }
        case .federatedTokenFile:
            let value = fields["federatedTokenFile"]!
            if !reader.isNull(value) {
                if let path = reader.text(value, "auth.federatedTokenFile").map(resolve) {
                    auth.credential = .federatedTokenFile(path)
                }
            } else if let path = environment["AZURE_FEDERATED_TOKEN_FILE"], !path.isEmpty {
                auth.credential = .federatedTokenFile(path)
            } else {
                reader.report(
                    "`auth.federatedTokenFile` has no value and AZURE_FEDERATED_TOKEN_FILE is not set: give the token file's path",
                    at: value
                )
            }
        case .managedIdentity:
            let value = fields["managedIdentity"]!
            var identity: String?
            if !reader.isNull(value),
                let managed = reader.fields(
                    of: value,
                    "auth.managedIdentity",
                    known: Keys.Configuration.managedIdentity
                ),
                let clientId = managed["clientId"]
            {
                identity = guid(clientId, "auth.managedIdentity.clientId", reader)
            }
            auth.credential = .managedIdentity(clientId: identity)
        case nil:
            if let path = environment["AZURE_FEDERATED_TOKEN_FILE"], !path.isEmpty {
                auth.credential = .federatedTokenFile(path)
            }
        }

        if let node = fields["clientId"] {
            auth.clientId = guid(node, "auth.clientId", reader) ?? ""
        } else if modes.first != .managedIdentity {
            reader.report("`auth.clientId` is required: the application (client) id of the app registration", at: key)
        }
        return auth
    }

    /// `key` is where `reconcile:` is written, for what is missing from it.
    private func reconcile(
        _ node: YAMLNode,
        key: YAMLNode,
        _ reader: NodeReader
    ) -> (ReconcileSettings, [SkuReference]?) {
        var settings = ReconcileSettings()
        guard
            let fields = reader.fields(
                of: node,
                "reconcile",
                known: Keys.Configuration.reconcile,
                explain: explain(at: "reconcile")
            )
        else {
            return (settings, nil)
        }
        if let interval = fields["interval"], let value = reader.duration(interval, "reconcile.interval") {
            if value > .zero {
                settings.interval = value
            } else {
                reader.report("`reconcile.interval` must be longer than zero", at: interval)
            }
        }
        if let fast = fields["fastInterval"] {
            // `0` (a YAML integer) turns the fast path off, as `0s` does.
            if case let .scalar(scalar) = fast.content, case .int(0) = scalar.value {
                settings.fastInterval = .zero
            } else if let value = reader.duration(fast, "reconcile.fastInterval") {
                settings.fastInterval = value
            }
        }
        if let mode = fields["mode"], let value = reader.choice(mode, "reconcile.mode", of: ReconcileSettings.Mode.self)
        {
            settings.mode = value
        }

        var managedSkus: [SkuReference]?
        if let skus = fields["managedSkus"] {
            managedSkus = managed(skus, reader)
            settings.managedSkus = managedSkus ?? []
        } else {
            reader.report(
                "`reconcile.managedSkus` is required: list the SKUs Allot owns, such as [SPE_E3, SPE_E5]; no other SKU is ever touched",
                at: key
            )
        }

        if let usage = fields["usageLocation"], !reader.isNull(usage),
            let location = reader.fields(of: usage, "reconcile.usageLocation", known: Keys.Configuration.usageLocation),
            let code = location["default"], let text = reader.string(code, "reconcile.usageLocation.default")
        {
            if text.count == 2, text.allSatisfy({ $0.isASCII && $0.isLetter }) {
                settings.defaultUsageLocation = text.uppercased()
            } else {
                reader.report(
                    "`reconcile.usageLocation.default` must be a two-letter country code (ISO 3166-1 alpha-2) such as US, got \(NodeReader.describe(code))",
                    at: code
                )
            }
        }
        if let guardNode = fields["guard"],
            let guardFields = reader.fields(
                of: guardNode,
                "reconcile.guard",
                known: Keys.Configuration.removalGuard,
                explain: explain(at: "reconcile.guard")
            )
        {
            if let node = guardFields["maxRemovals"], let value = reader.integer(node, "reconcile.guard.maxRemovals") {
                if value >= 0 {
                    settings.guardrail.maxRemovals = value
                } else {
                    reader.report("`reconcile.guard.maxRemovals` must not be negative, got \(value)", at: node)
                }
            }
            func percentage(_ key: String) -> Double? {
                guard let node = guardFields[key], let value = reader.number(node, "reconcile.guard.\(key)") else {
                    return nil
                }
                guard (0...100).contains(value) else {
                    reader.report(
                        "`reconcile.guard.\(key)` must be a percentage from 0 to 100, got \(NodeReader.describe(node))",
                        at: node
                    )
                    return nil
                }
                return value
            }
            if let value = percentage("maxRemovalPercent") { settings.guardrail.maxRemovalPercent = value }
            if let value = percentage("groupShrinkPercent") { settings.guardrail.groupShrinkPercent = value }
        }
        if let delay = fields["removalDelay"], let value = reader.duration(delay, "reconcile.removalDelay") {
            settings.removalDelay = value
        }
        return (settings, managedSkus)
    }

    /// `reconcile.managedSkus`: a non-empty list of at most ``SkuMask/capacity`` SKUs, each once.
    private func managed(_ node: YAMLNode, _ reader: NodeReader) -> [SkuReference]? {
        guard let skus = reader.references(node, "reconcile.managedSkus", of: "SKUs") else { return nil }
        guard !skus.isEmpty else {
            reader.report(
                "`reconcile.managedSkus` must list at least one SKU: Allot changes only the SKUs listed here",
                at: node
            )
            return nil
        }
        if skus.count > SkuMask.capacity {
            reader.report(
                "`reconcile.managedSkus` lists \(skus.count) SKUs: Allot manages at most \(SkuMask.capacity); list only the SKUs policies assign",
                at: node
            )
        }
        var seen: Set<String> = []
        for sku in skus where !seen.insert(sku.value.lowercased()).inserted {
            reader.report([
                Diagnostic("SKU `\(sku.value)` is listed twice in `reconcile.managedSkus`", at: sku.location)
            ])
        }
        return skus
    }

    /// `prices`: per SKU (`skuPartNumber` or `skuId`), `monthly` (a number, not negative) and
    /// `currency` (ISO 4217). Money is read from the number as written, never through a `Double`.
    private func prices(_ node: YAMLNode, _ reader: NodeReader) -> PriceList {
        guard case let .mapping(pairs) = node.content else {
            reader.report(
                reader.typeMismatch("prices", expected: "a mapping of SKU to { monthly, currency }", node),
                at: node
            )
            return PriceList()
        }
        var list: [SkuPrice] = []
        var seen: Set<String> = []
        for pair in pairs {
            guard let sku = reader.text(pair.key, "prices") else { continue }
            let path = "prices.\(sku)"
            if !seen.insert(sku.lowercased()).inserted {
                reader.report("SKU `\(sku)` is priced twice in `prices`", at: pair.key)
                continue
            }
            guard
                let entry = reader.fields(
                    of: pair.value,
                    path,
                    known: Keys.Configuration.price,
                    explain: explain(at: "prices.*")
                )
            else { continue }
            var monthly: Amount?
            if let value = entry["monthly"] {
                monthly = amount(value, "\(path).monthly", reader)
            } else {
                reader.report(
                    "`\(path).monthly` is required: the price of one seat for a month, such as 57.00",
                    at: pair.key
                )
            }
            var currency: String?
            if let value = entry["currency"], let text = reader.string(value, "\(path).currency") {
                if text.count == 3, text.allSatisfy({ $0.isASCII && $0.isLetter }) {
                    currency = text.uppercased()
                } else {
                    reader.report(
                        "`\(path).currency` must be a three-letter currency code (ISO 4217) such as EUR or USD, got \(NodeReader.describe(value))",
                        at: value
                    )
                }
            } else if entry["currency"] == nil {
                reader.report(
                    "`\(path).currency` is required: the price's three-letter currency code (ISO 4217) such as EUR or USD",
                    at: pair.key
                )
            }
            if let monthly, let currency {
                list.append(
                    SkuPrice(
                        sku: SkuReference(sku, at: reader.location(of: pair.key)),
                        price: Price(monthly: monthly, currency: currency)
                    )
                )
            }
        }
        return PriceList(list)
    }

    /// A price: a YAML number that is not negative, read from its text as a `Decimal`.
    private func amount(_ node: YAMLNode, _ path: String, _ reader: NodeReader) -> Amount? {
        guard reader.number(node, path) != nil, case let .scalar(scalar) = node.content else { return nil }
        let parsed: Decimal? =
            switch scalar.value {
            case let .int(integer): Decimal(integer)
            default: Decimal(string: scalar.text, locale: Locale(identifier: "en_US_POSIX"))
            }
        guard let value = parsed else {
            reader.report(reader.typeMismatch(path, expected: "a number", node), at: node)
            return nil
        }
        guard value >= 0 else {
            reader.report("`\(path)` must not be negative, got \(NodeReader.describe(node))", at: node)
            return nil
        }
        return Amount(value)
    }

    // MARK: - Values

    private func requiredPath(
        _ fields: Fields,
        _ key: String,
        in path: String,
        at parent: YAMLNode,
        _ reader: NodeReader
    ) -> String? {
        guard let node = fields[key] else {
            reader.report("`\(path).\(key)` is required", at: parent)
            return nil
        }
        return reader.text(node, "\(path).\(key)").map(resolve)
    }

    private func guid(_ node: YAMLNode, _ path: String, _ reader: NodeReader) -> String? {
        guard let text = reader.text(node, path) else { return nil }
        guard GUID(text) != nil else {
            reader.report(
                "`\(path)` must be a GUID such as 00000000-0000-0000-0000-000000000000, got \(NodeReader.describe(node))",
                at: node
            )
            return nil
        }
        return text
    }

    private func url(_ node: YAMLNode, _ path: String, example: String, _ reader: NodeReader) -> String? {
        guard let text = reader.text(node, path) else { return nil }
        for scheme in ["https://", "http://"] where text.lowercased().hasPrefix(scheme) {
            let host = text.dropFirst(scheme.count).prefix { $0 != "/" && $0 != "?" && $0 != "#" }
            if !host.isEmpty, !host.contains(where: \.isWhitespace) { return text }
        }
        reader.report("`\(path)` must be an http(s) URL such as \(example), got \(NodeReader.describe(node))", at: node)
        return nil
    }

    private func resolve(_ path: String) -> String {
        Paths.resolve(path, against: directory)
    }

    /// Explanations for keys unknown at `path`: secrets, and keys of another section.
    private func explain(at path: String) -> (String) -> String? {
        { key in
            let folded = key.lowercased()
            if (folded.contains("secret") || folded.contains("password")) && !folded.hasSuffix("file") {
                return
                    "secrets never go into allot.yaml: put the secret in a file (systemd `LoadCredential=`) and set `auth.clientSecretFile` to it"
            }
            return Keys.placement(of: key, in: Keys.Configuration.table, unknownAt: path)
        }
    }

    static func isDomain(_ text: String) -> Bool {
        let labels = text.split(separator: ".", omittingEmptySubsequences: false)
        return labels.count >= 2
            && labels.allSatisfy { label in
                !label.isEmpty && label.allSatisfy { $0.isASCII && ($0.isLetter || $0.isNumber || $0 == "-") }
            }
    }
}
