/// `allot report`: per subscribed SKU, managed or not, the seats bought, assigned and idle,
/// and the seats held by disabled accounts and by users who stopped signing in, with their
/// monthly cost where the SKU is priced (`prices:`).
///
/// A pure value: made from a tenant model, the managed SKUs, the prices and an evaluation
/// instant, with no clock and no I/O (`init(tenant:managedSkus:prices:evaluatedAt:signInActivity:)`).
/// `allot report --output json` prints it as documented in `docs/report.md`; fields are only
/// ever added.
public struct LicenseReport: Sendable, Hashable, Encodable {
    public static let formatVersion = 1
    /// The attribute telling disabled accounts apart.
    public static let accountEnabled = "accountEnabled"
    /// The date inactivity is measured from: the last sign-in that succeeded.
    public static let lastSuccessfulSignIn = "signInActivity.lastSuccessfulSignInDateTime"
    /// The inactivity columns, in days.
    public static let inactivityDays = [30, 60, 90]
    /// What a report needs read beyond the license fields; sign-in activity only `withActivity`.
    public static func attributes(withActivity: Bool) -> [String] {
        withActivity ? [accountEnabled, lastSuccessfulSignIn] : [accountEnabled]
    }

    /// The moment inactivity is measured at, in seconds since the epoch.
    public var evaluatedAt: Int64
    /// Whether the tenant read held accounts' enabled state; without it `assignedToDisabled` is absent.
    public var accountEnabledRead: Bool
    /// Whether the tenant read held sign-in activity; without it the `inactive` columns are absent
    /// (never zeros: nothing is known about them).
    public var signInActivityRead: Bool
    /// Every subscribed SKU, by `skuPartNumber`.
    public var skus: [SkuUsage]
    /// Per currency (sorted), the cost columns summed over the priced SKUs.
    public var totals: [UsageTotal]
    /// The SKUs `prices:` names that the tenant does not subscribe to (a typo, or a subscription
    /// ended), as written.
    public var unmatchedPrices: [String]

    /// - Parameter signInActivity: `false` leaves sign-in activity out even when the tenant holds
    ///   it (`--no-activity` over a snapshot).
    public init(
        tenant: TenantModel,
        managedSkus: [SkuReference],
        prices: PriceList,
        evaluatedAt: Int64,
        signInActivity: Bool = true
    ) {
        self.evaluatedAt = evaluatedAt
        let enabledColumn = tenant.columnIndexByPath[Self.accountEnabled]
        let signInColumn = signInActivity ? tenant.columnIndexByPath[Self.lastSuccessfulSignIn] : nil
        accountEnabledRead = enabledColumn != nil
        signInActivityRead = signInColumn != nil

        let subscribed = tenant.subscribedSkus.sorted { ($0.skuPartNumber, $0.skuId) < ($1.skuPartNumber, $1.skuId) }
        let skuIndex = Dictionary(
            subscribed.enumerated().map { ($1.skuId, $0) },
            uniquingKeysWith: { first, _ in first }
        )
        // Per distinct holding, the SKUs it assigns (each once); per distinct value, what it says.
        let skusOfHolding = tenant.holdings.map { holding in
            Set(holding.assignedLicenses.compactMap { skuIndex[$0.skuId] }).sorted()
        }
        let disabledOfValue = enabledColumn.map { column in
            (
                column: column,
                values: tenant.columns.values[column].enumerated().map { index, value in
                    index != 0 && value == .bool(false)
                }
            )
        }
        // How many of the inactivity columns a last sign-in falls in (they nest: inactive for 90
        // days is inactive for 30). A missing date is "never signed in": all of them.
        func inactivityColumns(_ instant: Int64) -> Int {
            Self.inactivityDays.filter { days in
                instant == AttributeColumns.noInstant || instant < evaluatedAt - Int64(days) * 86_400
            }.count
        }
        // A date as Graph writes it is the user's own instant; any other value (the never-signed-in
        // placeholder, a fraction of a second) is counted once per distinct value.
        let inactiveOfValue = signInColumn.map { column in
            (
                column: column,
                dateSlot: tenant.columns.dateSlot[column],
                values: tenant.columns.values[column].map {
                    inactivityColumns($0.instant ?? AttributeColumns.noInstant)
                }
            )
        }
        func inactiveColumns(ofUser user: Int) -> Int {
            guard let inactiveOfValue else { return 0 }
            let index = tenant.columns.valueIndex(ofUser: user, column: inactiveOfValue.column)
            if index == AttributeColumns.dateIndex, let slot = inactiveOfValue.dateSlot {
                return inactivityColumns(tenant.columns.instant(ofUser: user, dateSlot: slot))
            }
            return inactiveOfValue.values[Int(index)]
        }

        var disabled = [Int](repeating: 0, count: subscribed.count)
        var inactive = [[Int]](
            repeating: [Int](repeating: 0, count: Self.inactivityDays.count),
            count: subscribed.count
        )
        for user in 0..<tenant.userCount {
            let skus = skusOfHolding[Int(tenant.holdingOfUser[user])]
            guard !skus.isEmpty else { continue }
            let isDisabled =
                disabledOfValue.map { $0.values[tenant.columns.valueIndex(ofUser: user, column: $0.column)] } ?? false
            let inactiveColumns = inactiveColumns(ofUser: user)
            for sku in skus {
                if isDisabled { disabled[sku] += 1 }
                for column in 0..<inactiveColumns { inactive[sku][column] += 1 }
            }
        }

        let managed = Set(
            subscribed.indices.filter { index in
                managedSkus.contains { reference in
                    GUID(reference.value).map { $0 == subscribed[index].skuId }
                        ?? (reference.value.lowercased() == subscribed[index].skuPartNumber.lowercased())
                }
            }
        )
        skus = subscribed.enumerated().map { index, sku in
            let seats = UsageColumns(
                prepaid: sku.prepaidUnits.enabled,
                assigned: sku.consumedUnits,
                unassigned: max(0, sku.prepaidUnits.enabled - sku.consumedUnits),
                assignedToDisabled: enabledColumn == nil ? nil : disabled[index],
                inactive: signInColumn == nil
                    ? nil : Dictionary(uniqueKeysWithValues: zip(Self.inactivityDays, inactive[index]))
            )
            let price = prices.price(partNumber: sku.skuPartNumber, skuId: sku.skuId)
            return SkuUsage(
                sku: sku.skuPartNumber,
                skuId: sku.skuId,
                managed: managed.contains(index),
                seats: seats,
                currency: price?.currency,
                monthlyPrice: price?.monthly,
                monthlyCost: price.map { price in seats.map { price.cost(of: $0) } }
            )
        }
        unmatchedPrices = prices.prices.filter { entry in
            !subscribed.contains { entry.names(partNumber: $0.skuPartNumber, skuId: $0.skuId) }
        }
        .map(\.sku.value)
        let priced = skus.compactMap { sku in
            sku.currency.flatMap { currency in sku.monthlyCost.map { (currency: currency, cost: $0) } }
        }
        totals = Dictionary(grouping: priced, by: \.currency).sorted { $0.key < $1.key }.map { currency, entries in
            UsageTotal(
                currency: currency,
                monthlyCost: entries.dropFirst().reduce(entries[0].cost) { $0.adding($1.cost) }
            )
        }
    }

    private enum CodingKeys: String, CodingKey {
        case version, evaluatedAt, accountEnabledRead, signInActivityRead, inactivityDays, skus, totals, unmatchedPrices
    }

    public func encode(to encoder: any Encoder) throws {
        var container = encoder.container(keyedBy: CodingKeys.self)
        try container.encode(Self.formatVersion, forKey: .version)
        try container.encode(PolicyDates.text(evaluatedAt), forKey: .evaluatedAt)
        try container.encode(accountEnabledRead, forKey: .accountEnabledRead)
        try container.encode(signInActivityRead, forKey: .signInActivityRead)
        try container.encode(Self.inactivityDays, forKey: .inactivityDays)
        try container.encode(skus, forKey: .skus)
        try container.encode(totals, forKey: .totals)
        try container.encode(unmatchedPrices, forKey: .unmatchedPrices)
    }
}

/// The report's columns, as seat counts or as their monthly cost.
public struct UsageColumns<Value: Sendable & Hashable & Encodable>: Sendable, Hashable, Encodable {
    /// Seats bought (`prepaidUnits.enabled`).
    public var prepaid: Value
    /// Seats assigned (`consumedUnits`, as Microsoft counts them).
    public var assigned: Value
    /// Seats bought and not assigned.
    public var unassigned: Value
    /// Seats assigned to accounts that are disabled; `nil` when `accountEnabled` was not read.
    public var assignedToDisabled: Value?
    /// By days (30, 60, 90): seats assigned to users whose last successful sign-in is older than
    /// that, or who never signed in; `nil` when sign-in activity was not read.
    public var inactive: [Int: Value]?

    /// The same columns, each transformed (seats to their cost).
    public func map<Other>(_ transform: (Value) -> Other) -> UsageColumns<Other> {
        UsageColumns<Other>(
            prepaid: transform(prepaid),
            assigned: transform(assigned),
            unassigned: transform(unassigned),
            assignedToDisabled: assignedToDisabled.map(transform),
            inactive: inactive?.mapValues(transform)
        )
    }

    private enum CodingKeys: String, CodingKey {
        case prepaid, assigned, unassigned, assignedToDisabled, inactive
    }

    /// `inactive` as an object keyed by days ("30", "60", "90"); absent columns are left out.
    public func encode(to encoder: any Encoder) throws {
        var container = encoder.container(keyedBy: CodingKeys.self)
        try container.encode(prepaid, forKey: .prepaid)
        try container.encode(assigned, forKey: .assigned)
        try container.encode(unassigned, forKey: .unassigned)
        try container.encodeIfPresent(assignedToDisabled, forKey: .assignedToDisabled)
        try container.encodeIfPresent(
            inactive.map { Dictionary(uniqueKeysWithValues: $0.map { ("\($0.key)", $0.value) }) },
            forKey: .inactive
        )
    }
}

extension UsageColumns<Amount> {
    /// Column by column sums (for totals in one currency).
    func adding(_ other: UsageColumns<Amount>) -> UsageColumns<Amount> {
        UsageColumns(
            prepaid: prepaid + other.prepaid,
            assigned: assigned + other.assigned,
            unassigned: unassigned + other.unassigned,
            assignedToDisabled: assignedToDisabled.flatMap { left in other.assignedToDisabled.map { left + $0 } },
            inactive: inactive.flatMap { left in
                other.inactive.map { right in left.merging(right, uniquingKeysWith: +) }
            }
        )
    }
}

/// One subscribed SKU in a ``LicenseReport``.
public struct SkuUsage: Sendable, Hashable, Encodable {
    public var sku: String
    public var skuId: GUID
    /// Whether `reconcile.managedSkus` lists it (Allot changes only these; the report shows all).
    public var managed: Bool
    public var seats: UsageColumns<Int>
    /// The price's currency, when the SKU is priced.
    public var currency: String?
    /// Per seat and month, when the SKU is priced.
    public var monthlyPrice: Amount?
    /// Each column's seats times the price, when the SKU is priced.
    public var monthlyCost: UsageColumns<Amount>?
}

/// The cost columns of every priced SKU in one currency, summed.
public struct UsageTotal: Sendable, Hashable, Encodable {
    public var currency: String
    public var monthlyCost: UsageColumns<Amount>
}
