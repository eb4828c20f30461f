/// The one duration grammar, as `allot.yaml` and the command line write durations: whole numbers
/// with a unit, largest unit first, each unit at most once: `30s`, `15m`, `1h`, `0h`, `1h30m`, `2d`.
public enum DurationText {
    private static let units: [(symbol: Character, seconds: Int64)] = [
        ("d", 86_400), ("h", 3_600), ("m", 60), ("s", 1),
    ]

    /// The duration `text` stands for, or nil when it is not one (no unit, an unknown unit,
    /// units out of order, a fraction, or more than a hundred years). With `bareSeconds` (the
    /// command line's options) a plain whole number also counts, as seconds: `42`.
    public static func parse(_ text: String, bareSeconds: Bool = false) -> Duration? {
        if bareSeconds, let seconds = Int64(text), seconds >= 0, seconds <= maximumSeconds, text.allSatisfy(\.isASCII) {
            return .seconds(seconds)
        }
        var total: Int64 = 0
        var digits: Int64?
        var nextUnit = 0
        for character in text {
            if let digit = character.wholeNumberValue, character.isASCII {
                let (shifted, overflowA) = (digits ?? 0).multipliedReportingOverflow(by: 10)
                let (value, overflowB) = shifted.addingReportingOverflow(Int64(digit))
                guard !overflowA, !overflowB else { return nil }
                digits = value
                continue
            }
            guard let number = digits,
                let index = units[nextUnit...].firstIndex(where: { $0.symbol == character })
            else { return nil }
            let (seconds, overflowA) = number.multipliedReportingOverflow(by: units[index].seconds)
            let (sum, overflowB) = total.addingReportingOverflow(seconds)
            guard !overflowA, !overflowB else { return nil }
            total = sum
            digits = nil
            nextUnit = index + 1
        }
        guard digits == nil, nextUnit > 0, total <= maximumSeconds else { return nil }
        return .seconds(total)
    }

    /// A hundred years: anything longer is a typo.
    private static let maximumSeconds: Int64 = 100 * 365 * 86_400
}
