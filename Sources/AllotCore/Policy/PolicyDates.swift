/// The user properties that hold dates, which the date operators (`before`, `after`,
/// `olderThan`, `withinLast`) apply to, and the text form of dates in policies and in Graph.
///
/// Dates compare as instants, in whole seconds since the Unix epoch (UTC): Graph writes
/// `2026-08-01T09:12:44Z` (sometimes with a fraction, which is dropped), a policy may write a
/// date alone (`2026-08-01`, midnight UTC) or a date-time with `Z` or an offset.
public enum PolicyDates {
    /// The date-valued properties of the Graph user resource that policies may compare.
    public static let attributes: [String] = [
        "createdDateTime",
        "employeeHireDate",
        "employeeLeaveDateTime",
        "signInActivity.lastSignInDateTime",
        "signInActivity.lastNonInteractiveSignInDateTime",
        "signInActivity.lastSuccessfulSignInDateTime",
    ]

    /// Whether `path` is a date attribute.
    public static func isDateAttribute(_ path: String) -> Bool { attributes.contains(path) }

    /// What a date attribute means, for people (`allot explain`).
    static func label(of path: String) -> String {
        switch path {
        case "createdDateTime": "created"
        case "employeeHireDate": "hire date"
        case "employeeLeaveDateTime": "leave date"
        case "signInActivity.lastSignInDateTime": "last interactive sign-in"
        case "signInActivity.lastNonInteractiveSignInDateTime": "last non-interactive sign-in"
        case "signInActivity.lastSuccessfulSignInDateTime": "last successful sign-in"
        default: path
        }
    }

    /// A duration as policies write it, largest unit first: `90d`, `1d12h`, `30m`.
    static func durationText(_ seconds: Int64) -> String {
        var rest = seconds
        var text = ""
        for (unit, symbol) in [(86_400 as Int64, "d"), (3_600, "h"), (60, "m"), (1, "s")] where rest >= unit {
            text += "\(rest / unit)\(symbol)"
            rest %= unit
        }
        return text.isEmpty ? "0s" : text
    }

    /// `128 days before 2026-12-07`: how far an instant lies from the evaluation time, in whole days.
    static func distance(of instant: Int64, from evaluatedAt: Int64) -> String {
        let days = abs(evaluatedAt - instant) / 86_400
        let span = days == 0 ? "less than a day" : days == 1 ? "1 day" : "\(days) days"
        return "\(span) \(instant <= evaluatedAt ? "before" : "after") \(shortText(evaluatedAt))"
    }

    /// `0001-01-01T00:00:00Z`, .NET's `DateTime.MinValue`: what Graph shows in `signInActivity`
    /// for a sign-in that never happened (user-list.md, example 11). A user value holding it
    /// counts as missing.
    public static let neverPlaceholder: Int64 = -62_135_596_800

    /// The top-level property that only Graph's audit logs fill (`AuditLog.Read.All`, Entra ID P1).
    public static let signInActivity = "signInActivity"

    /// The instant written as `YYYY-MM-DD` (midnight UTC) or `YYYY-MM-DDThh:mm[:ss[.fraction]]`
    /// followed by `Z` or `±hh:mm` (RFC 3339; a date-time without a zone is refused), in seconds
    /// since the epoch; `nil` for anything else.
    ///
    /// Hand-written rather than `ISO8601DateFormatter`: the planner parses every distinct
    /// sign-in time of a tenant, up to one per user, every cycle.
    public static func instant(_ text: String) -> Int64? {
        var text = text
        return text.withUTF8 { bytes in
            var cursor = Cursor(bytes: bytes)
            return cursor.instant()
        }
    }

    /// Reads one instant from UTF-8 bytes, allocating nothing.
    private struct Cursor {
        let bytes: UnsafeBufferPointer<UInt8>
        var position = 0

        var atEnd: Bool { position == bytes.count }

        mutating func instant() -> Int64? {
            guard let year = number(digits: 4), take("-"), let month = number(digits: 2), take("-"),
                let day = number(digits: 2),
                (1...12).contains(month), (1...PolicyDates.daysIn(month: month, year: year)).contains(day)
            else { return nil }
            var seconds = PolicyDates.daysSinceEpoch(year: year, month: month, day: day) * 86_400
            if atEnd { return seconds }
            guard take("T") || take("t"), let hour = number(digits: 2), take(":"), let minute = number(digits: 2),
                hour < 24, minute < 60
            else { return nil }
            seconds += Int64(hour * 3_600 + minute * 60)
            if take(":") {
                guard let second = number(digits: 2), second < 60 else { return nil }
                seconds += Int64(second)
                if take(".") {
                    let digitsStart = position
                    while !atEnd, (UInt8(ascii: "0")...UInt8(ascii: "9")).contains(bytes[position]) { position += 1 }
                    guard position > digitsStart else { return nil }
                }
            }
            if take("Z") || take("z") { return atEnd ? seconds : nil }
            let east = take("+")
            guard east || take("-"), let offsetHours = number(digits: 2), take(":"),
                let offsetMinutes = number(digits: 2), atEnd,
                offsetHours < 24, offsetMinutes < 60
            else { return nil }
            let offset = Int64(offsetHours * 3_600 + offsetMinutes * 60)
            return east ? seconds - offset : seconds + offset
        }

        private mutating func number(digits: Int) -> Int? {
            guard bytes.count - position >= digits else { return nil }
            var value = 0
            for _ in 0..<digits {
                let digit = Int(bytes[position]) - Int(UInt8(ascii: "0"))
                guard (0...9).contains(digit) else { return nil }
                value = value * 10 + digit
                position += 1
            }
            return value
        }

        private mutating func take(_ character: Unicode.Scalar) -> Bool {
            guard !atEnd, bytes[position] == UInt8(ascii: character) else { return false }
            position += 1
            return true
        }
    }

    /// `2026-08-01T09:12:44Z`.
    public static func text(_ instant: Int64) -> String {
        let (date, second) = (instant.floorDivided(by: 86_400), instant.floorModulo(86_400))
        return day(ofDays: date) + "T" + twoDigits(second / 3_600) + ":" + twoDigits(second % 3_600 / 60) + ":"
            + twoDigits(second % 60) + "Z"
    }

    /// `2026-08-01`, the UTC day of the instant.
    public static func day(_ instant: Int64) -> String { day(ofDays: instant.floorDivided(by: 86_400)) }

    /// `2026-08-01` when the instant is midnight UTC, else the full date-time.
    public static func shortText(_ instant: Int64) -> String {
        instant.floorModulo(86_400) == 0 ? day(instant) : text(instant)
    }

    // MARK: - Calendar arithmetic (proleptic Gregorian, UTC)

    /// Howard Hinnant's `days_from_civil`.
    fileprivate static func daysSinceEpoch(year: Int, month: Int, day: Int) -> Int64 {
        let y = Int64(month <= 2 ? year - 1 : year)
        let era = (y >= 0 ? y : y - 399) / 400
        let yearOfEra = y - era * 400
        let m = Int64(month)
        let dayOfYear = (153 * (m > 2 ? m - 3 : m + 9) + 2) / 5 + Int64(day) - 1
        let dayOfEra = yearOfEra * 365 + yearOfEra / 4 - yearOfEra / 100 + dayOfYear
        return era * 146_097 + dayOfEra - 719_468
    }

    /// Howard Hinnant's `civil_from_days`, formatted.
    private static func day(ofDays days: Int64) -> String {
        let z = days + 719_468
        let era = (z >= 0 ? z : z - 146_096) / 146_097
        let dayOfEra = z - era * 146_097
        let yearOfEra = (dayOfEra - dayOfEra / 1_460 + dayOfEra / 36_524 - dayOfEra / 146_096) / 365
        let dayOfYear = dayOfEra - (365 * yearOfEra + yearOfEra / 4 - yearOfEra / 100)
        let mp = (5 * dayOfYear + 2) / 153
        let day = dayOfYear - (153 * mp + 2) / 5 + 1
        let month = mp < 10 ? mp + 3 : mp - 9
        let year = yearOfEra + era * 400 + (month <= 2 ? 1 : 0)
        let yearText = String(year)
        return String(repeating: "0", count: max(0, 4 - yearText.count)) + yearText + "-" + twoDigits(month) + "-"
            + twoDigits(day)
    }

    fileprivate static func daysIn(month: Int, year: Int) -> Int {
        switch month {
        case 2: year % 4 == 0 && (year % 100 != 0 || year % 400 == 0) ? 29 : 28
        case 4, 6, 9, 11: 30
        default: 31
        }
    }

    private static func twoDigits(_ value: Int64) -> String { value < 10 ? "0\(value)" : "\(value)" }
}

extension Int64 {
    /// Division rounding towards negative infinity (days of instants before 1970).
    fileprivate func floorDivided(by divisor: Int64) -> Int64 {
        let quotient = self / divisor
        return (self % divisor != 0 && (self < 0) != (divisor < 0)) ? quotient - 1 : quotient
    }

    fileprivate func floorModulo(_ divisor: Int64) -> Int64 { self - floorDivided(by: divisor) * divisor }
}
