/// What a plan does to the monthly cost of the priced managed SKUs (`prices:` in `allot.yaml`):
/// the seats consumed before and after the plan, times each SKU's price.
///
/// Microsoft bills the seats bought, not the seats assigned; this is the cost of the seats in
/// use, so that the seats a plan frees show as what the subscription can be reduced by.
public struct PlanCost: Sendable, Hashable, Codable {
    /// Per priced managed SKU, in the order of the plan's seats.
    public var skus: [SkuCost]
    /// Per currency (sorted), the sums over ``skus``: currencies are never added together.
    public var totals: [CostTotal]

    public init(skus: [SkuCost] = [], totals: [CostTotal] = []) {
        self.skus = skus
        self.totals = totals
    }

    /// The cost of `seats` with `prices`; SKUs without a price are left out.
    public init(seats: [SeatCount], prices: PriceList) {
        skus = seats.compactMap { seat in
            prices.price(partNumber: seat.sku, skuId: seat.skuId).map { price in
                SkuCost(
                    sku: seat.sku,
                    skuId: seat.skuId,
                    currency: price.currency,
                    monthlyPrice: price.monthly,
                    seatsBefore: seat.consumedBefore,
                    seatsAfter: seat.consumedAfter,
                    seatsAdded: seat.seatsAdded,
                    seatsFreed: seat.seatsFreed,
                    monthlyBefore: price.cost(of: seat.consumedBefore),
                    monthlyAfter: price.cost(of: seat.consumedAfter)
                )
            }
        }
        totals = Dictionary(grouping: skus, by: \.currency).sorted { $0.key < $1.key }.map { currency, skus in
            CostTotal(
                currency: currency,
                monthlyBefore: skus.reduce(.zero) { $0 + $1.monthlyBefore },
                monthlyAfter: skus.reduce(.zero) { $0 + $1.monthlyAfter }
            )
        }
    }
}

/// One priced managed SKU's seats and monthly cost before and after a plan.
public struct SkuCost: Sendable, Hashable, Codable {
    public var sku: String
    public var skuId: GUID
    public var currency: String
    /// Per seat and month.
    public var monthlyPrice: Amount
    /// Seats consumed before and after the plan.
    public var seatsBefore: Int
    public var seatsAfter: Int
    /// Seats the plan's adds take, and seats its removals free.
    public var seatsAdded: Int
    public var seatsFreed: Int
    public var monthlyBefore: Amount
    public var monthlyAfter: Amount
}

/// The monthly cost of the priced SKUs in one currency, before and after a plan.
public struct CostTotal: Sendable, Hashable, Codable {
    public var currency: String
    public var monthlyBefore: Amount
    public var monthlyAfter: Amount
}
