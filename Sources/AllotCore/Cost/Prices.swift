import Foundation

/// The organisation's own monthly price of each SKU (`prices:` in `allot.yaml`): what plans,
/// `/status`, the metrics and `allot report` show cost with. Prices never decide anything:
/// an unpriced SKU is planned exactly like a priced one, it only shows no cost.
public struct PriceList: Sendable, Hashable {
    /// The prices in the order written.
    public var prices: [SkuPrice]

    public init(_ prices: [SkuPrice] = []) {
        self.prices = prices
    }

    /// The price of a SKU: the entry naming its `skuPartNumber` (case-insensitive, as
    /// policies name SKUs) or its `skuId`, else `nil`.
    public func price(partNumber: String, skuId: GUID) -> Price? {
        prices.first { $0.names(partNumber: partNumber, skuId: skuId) }?.price
    }
}

/// One entry of `prices:`: a SKU and its price.
public struct SkuPrice: Sendable, Hashable {
    /// The SKU, by `skuPartNumber` or `skuId`, with where it was written.
    public var sku: SkuReference
    public var price: Price

    public init(sku: SkuReference, price: Price) {
        self.sku = sku
        self.price = price
    }

    /// Whether this entry names the SKU: its `skuId`, or its `skuPartNumber` ignoring case.
    func names(partNumber: String, skuId: GUID) -> Bool {
        if let id = GUID(sku.value) { return id == skuId }
        return sku.value.lowercased() == partNumber.lowercased()
    }
}

/// A monthly price per seat in one currency.
public struct Price: Sendable, Hashable {
    /// Per seat and month; never negative.
    public var monthly: Amount
    /// An ISO 4217 code in capitals, such as `EUR`.
    public var currency: String

    public init(monthly: Amount, currency: String) {
        self.monthly = monthly
        self.currency = currency
    }

    /// The monthly cost of `seats` seats.
    public func cost(of seats: Int) -> Amount { Amount(monthly.value * Decimal(seats)) }
}

/// A sum of money, its currency stated beside it. `Decimal`, never `Double`: the figures shown
/// are the products of the figures written, digit for digit.
///
/// Written (and coded in JSON) as the exact decimal with at least two fraction digits and no
/// grouping (`2052.00`, `0.125`, `-36.00`), a string, so that a pipeline reads it without
/// floating point.
public struct Amount: Sendable, Hashable, Codable, CustomStringConvertible {
    public var value: Decimal

    public init(_ value: Decimal) {
        self.value = value
    }

    public static let zero = Amount(0)

    public static func + (lhs: Amount, rhs: Amount) -> Amount { Amount(lhs.value + rhs.value) }
    public static func - (lhs: Amount, rhs: Amount) -> Amount { Amount(lhs.value - rhs.value) }

    public var description: String {
        var text = "\(value)"
        let fraction = text.firstIndex(of: ".").map { text.distance(from: $0, to: text.endIndex) - 1 }
        switch fraction {
        case nil: text += ".00"
        case let digits? where digits < 2: text += String(repeating: "0", count: 2 - digits)
        default: break
        }
        return text
    }

    public init(from decoder: any Decoder) throws {
        let text = try decoder.singleValueContainer().decode(String.self)
        guard let value = Decimal(string: text, locale: Locale(identifier: "en_US_POSIX")), "\(value)" != "NaN" else {
            throw DecodingError.dataCorrupted(
                DecodingError.Context(codingPath: decoder.codingPath, debugDescription: "not an amount: \(text)")
            )
        }
        self.value = value
    }

    public func encode(to encoder: any Encoder) throws {
        var container = encoder.singleValueContainer()
        try container.encode(description)
    }
}

extension Amount {
    /// `+6.00`, `-108.00`, `0.00`: a change of cost.
    var signed: String { value > 0 ? "+\(self)" : "\(self)" }
}
