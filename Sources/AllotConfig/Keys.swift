import AllotCore

/// The keys `allot.yaml` and policy documents accept, mapping by mapping.
///
/// The decoders read with these lists, and a test holds the JSON Schemas in `docs/schema/`
/// to them, so the two cannot drift apart. Table paths name mappings the way the schema
/// nests them: `reconcile.guard`, `licenses[]` (each list item), `match.attributes.*`
/// (the operators of any attribute).
enum Keys {
    enum Configuration {
        static let root = ["tenant", "cloud", "graph", "auth", "policies", "reconcile", "prices", "status", "logging"]
        static let graph = ["endpoint", "authority", "caFile", "writeQuota", "timeout"]
        static let writeQuota = ["writes", "window"]
        /// `clientId`, then the keys that each choose a credential (exactly one may be given).
        static let auth = ["clientId"] + AllotConfiguration.Credential.Kind.allCases.map(\.rawValue)
        static let certificate = ["certificateFile", "privateKeyFile"]
        static let managedIdentity = ["clientId"]
        static let reconcile = [
            "interval", "fastInterval", "mode", "managedSkus", "usageLocation", "guard", "removalDelay",
        ]
        static let usageLocation = ["default"]
        static let removalGuard = ["maxRemovals", "maxRemovalPercent", "groupShrinkPercent"]
        static let status = ["listen"]
        static let logging = ["format", "level"]
        /// Each entry of `prices` (keyed by SKU).
        static let price = ["monthly", "currency"]

        static let table: [String: [String]] = [
            "": root,
            "graph": graph,
            "graph.writeQuota": writeQuota,
            "auth": auth,
            "auth.certificate": certificate,
            "auth.managedIdentity": managedIdentity,
            "reconcile": reconcile,
            "reconcile.usageLocation": usageLocation,
            "reconcile.guard": removalGuard,
            "status": status,
            "logging": logging,
            "prices.*": price,
        ]
    }

    enum Policy {
        static let root = ["name", "description", "priority", "match", "licenses"]
        static let match = ["all", "groups", "attributes", "exclude"]
        static let exclude = ["groups", "users", "attributes"]
        static let license = ["sku", "disabledPlans", "enabledPlans", "replaces"]
        static let operators = AttributeOperator.Keyword.allCases.map(\.rawValue)
        /// The operators that compare dates, and apply only to date attributes.
        static let dateOperators: Set<AttributeOperator.Keyword> = [.before, .after, .olderThan, .withinLast]
        /// The Graph user properties that are booleans: compared with `true`/`false` only.
        static let booleanAttributes: Set<String> = [
            "accountenabled", "isresourceaccount", "ismanagementrestricted", "onpremisessyncenabled",
            "showinaddresslist",
        ]
        /// YAML 1.1 spellings of booleans: text in YAML 1.2, so they never equal a boolean attribute.
        static let yaml11Booleans: [String: Bool] = [
            "yes": true, "y": true, "on": true, "no": false, "n": false, "off": false,
        ]

        static let table: [String: [String]] = [
            "": root,
            "match": match,
            "match.exclude": exclude,
            "match.attributes.*": operators,
            "match.exclude.attributes.*": operators,
            "licenses[]": license,
        ]
    }
}

extension Keys {
    /// Where a key that is unknown at `path` belongs instead, as a message, when it is a
    /// key of another mapping of the same file (`exclude` written at the top of a policy).
    static func placement(of key: String, in table: [String: [String]], unknownAt path: String) -> String? {
        let homes = table.filter { $0.key != path && $0.value.contains(key) }.map(\.key)
        guard let home = homes.min(by: { ($0.count, $0) < ($1.count, $1) }) else { return nil }
        if home.isEmpty { return "`\(key)` belongs at the top level" }
        if home == "prices.*" {
            return
                "`\(key)` belongs in each SKU's entry under `prices`, such as `prices: { SPE_E5: { monthly: 57.00, currency: EUR } }`"
        }
        if home.hasSuffix(".*") {
            return "`\(key)` is an operator: write it under an attribute of `\(home.dropLast(2))`"
        }
        if home.hasSuffix("[]") { return "`\(key)` belongs in each item of `\(home.dropLast(2))`" }
        return "`\(key)` belongs under `\(home)`"
    }
}
