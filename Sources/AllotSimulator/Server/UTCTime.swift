/// A moment in UTC, broken into calendar fields, for the timestamps Graph and Entra print.
struct UTCTime: Sendable {
    let year, month, day, hour, minute, second: Int

    /// - Parameter epochSeconds: seconds since 1970-01-01T00:00:00Z.
    init(_ epochSeconds: Double) {
        let seconds = Int(epochSeconds.rounded(.down))
        let days = seconds >= 0 ? seconds / 86_400 : (seconds - 86_399) / 86_400
        let secondOfDay = seconds - days * 86_400
        hour = secondOfDay / 3600
        minute = secondOfDay % 3600 / 60
        second = secondOfDay % 60
        // Howard Hinnant's civil_from_days.
        let shifted = days + 719_468
        let era = (shifted >= 0 ? shifted : shifted - 146_096) / 146_097
        let dayOfEra = shifted - era * 146_097
        let yearOfEra = (dayOfEra - dayOfEra / 1460 + dayOfEra / 36_524 - dayOfEra / 146_096) / 365
        let dayOfYear = dayOfEra - (365 * yearOfEra + yearOfEra / 4 - yearOfEra / 100)
        let monthIndex = (5 * dayOfYear + 2) / 153
        day = dayOfYear - (153 * monthIndex + 2) / 5 + 1
        month = monthIndex < 10 ? monthIndex + 3 : monthIndex - 9
        year = yearOfEra + era * 400 + (month <= 2 ? 1 : 0)
    }

    private static func two(_ value: Int) -> String {
        value < 10 ? "0\(value)" : "\(value)"
    }

    /// `2025-07-14T16:14:05` (Graph's `innerError.date`).
    var graphDate: String {
        "\(year)-\(Self.two(month))-\(Self.two(day))T\(Self.two(hour)):\(Self.two(minute)):\(Self.two(second))"
    }

    /// `2025-07-14T16:14:05Z`: how Graph writes a `DateTimeOffset` (createdDateTime,
    /// signInActivity, employeeHireDate).
    var iso8601: String { graphDate + "Z" }

    /// Seconds since 1970 of an ISO 8601 date-time with a zone (`2025-07-14T16:14:05Z`,
    /// `...05.123Z`, `...05+02:00`), or `nil` when the text is not one.
    static func epochSeconds(parsing text: String) -> Double? {
        let bytes = Array(text.utf8)
        func number(_ range: Range<Int>) -> Int? {
            guard range.upperBound <= bytes.count else { return nil }
            var value = 0
            for byte in bytes[range] {
                guard (UInt8(ascii: "0")...UInt8(ascii: "9")).contains(byte) else { return nil }
                value = value * 10 + Int(byte - UInt8(ascii: "0"))
            }
            return value
        }
        func isByte(_ position: Int, _ ascii: Unicode.Scalar) -> Bool {
            position < bytes.count && bytes[position] == UInt8(ascii: ascii)
        }
        guard let year = number(0..<4), isByte(4, "-"), let month = number(5..<7), isByte(7, "-"),
            let day = number(8..<10),
            isByte(10, "T"), let hour = number(11..<13), isByte(13, ":"), let minute = number(14..<16), isByte(16, ":"),
            let second = number(17..<19), (1...12).contains(month), (1...31).contains(day), hour < 24, minute < 60,
            second < 60
        else { return nil }
        var position = 19
        var fraction = 0.0
        if isByte(position, ".") {
            var scale = 0.1
            position += 1
            while let digit = number(position..<(position + 1)) {
                fraction += Double(digit) * scale
                scale /= 10
                position += 1
            }
        }
        var offsetSeconds = 0
        if isByte(position, "Z"), position + 1 == bytes.count {
            offsetSeconds = 0
        } else if isByte(position, "+") || isByte(position, "-"), position + 6 == bytes.count,
            isByte(position + 3, ":"),
            let offsetHours = number((position + 1)..<(position + 3)),
            let offsetMinutes = number((position + 4)..<(position + 6))
        {
            offsetSeconds = (offsetHours * 3600 + offsetMinutes * 60) * (isByte(position, "-") ? -1 : 1)
        } else {
            return nil
        }
        // Howard Hinnant's days_from_civil.
        let shiftedYear = month <= 2 ? year - 1 : year
        let era = (shiftedYear >= 0 ? shiftedYear : shiftedYear - 399) / 400
        let yearOfEra = shiftedYear - era * 400
        let dayOfYear = (153 * (month > 2 ? month - 3 : month + 9) + 2) / 5 + day - 1
        let dayOfEra = yearOfEra * 365 + yearOfEra / 4 - yearOfEra / 100 + dayOfYear
        let days = era * 146_097 + dayOfEra - 719_468
        return Double(days * 86_400 + hour * 3600 + minute * 60 + second - offsetSeconds) + fraction
    }

    /// `2025-07-14 16:14:05Z` (Entra's `timestamp`).
    var entraTimestamp: String {
        "\(year)-\(Self.two(month))-\(Self.two(day)) \(Self.two(hour)):\(Self.two(minute)):\(Self.two(second))Z"
    }
}
