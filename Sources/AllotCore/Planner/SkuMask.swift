/// A set of at most 64 managed SKUs (or other small indices), as one word.
public struct SkuMask: Sendable, Hashable, Sequence {
    /// The most members a mask holds: the most SKUs Allot manages.
    public static let capacity = 64

    public var rawValue: UInt64

    public init(rawValue: UInt64 = 0) { self.rawValue = rawValue }

    @inline(__always) public func contains(_ index: Int) -> Bool { rawValue & (1 &<< UInt64(index)) != 0 }
    @inline(__always) public mutating func insert(_ index: Int) { rawValue |= 1 &<< UInt64(index) }
    public var isEmpty: Bool { rawValue == 0 }
    public var count: Int { rawValue.nonzeroBitCount }

    public static func | (lhs: SkuMask, rhs: SkuMask) -> SkuMask { SkuMask(rawValue: lhs.rawValue | rhs.rawValue) }
    public static func & (lhs: SkuMask, rhs: SkuMask) -> SkuMask { SkuMask(rawValue: lhs.rawValue & rhs.rawValue) }
    public static prefix func ~ (mask: SkuMask) -> SkuMask { SkuMask(rawValue: ~mask.rawValue) }

    /// The members in ascending order.
    public func makeIterator() -> AnyIterator<Int> {
        var remaining = rawValue
        return AnyIterator {
            guard remaining != 0 else { return nil }
            let index = remaining.trailingZeroBitCount
            remaining &= remaining &- 1
            return index
        }
    }
}
