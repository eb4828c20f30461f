import PropertyBased
import Testing

@testable import AllotCore
import AllotTools

/// Properties of date rules over random tenants and random date conditions: only the time
/// between a date and the evaluation time matters, and a missing date never satisfies one.
@Suite("Date rule properties")
struct DatePropertyTests {
    static let seeds = Gen.uint64(in: 0...UInt64.max)
    static let paths = ["employeeHireDate", "employeeLeaveDateTime", "signInActivity.lastSuccessfulSignInDateTime"]
    static let day: Int64 = 86_400
    /// Evaluation times from 2000 to 2040.
    static let base = PolicyDates.instant("2000-01-01")!

    /// A random tenant whose users have random dates (or none, or a non-date), and random date policies.
    struct Scenario: CustomStringConvertible {
        let seed: UInt64
        /// Per user and date path, seconds relative to the evaluation time, or a marker for missing/garbled.
        let offsets: [[Int64?]]
        let garbled: Set<[Int]>
        let policies:
            [(match: [(path: Int, op: RelativeOperator)], exclude: [(path: Int, op: RelativeOperator)], sku: String)]
        let evaluatedAt: Int64

        enum RelativeOperator {
            /// Absolute operands, kept relative to the evaluation time so that they shift with it.
            case before(Int64), after(Int64)
            case olderThan(Int64), withinLast(Int64)

            /// The operator as evaluated at `time`.
            func resolved(at time: Int64) -> AttributeOperator {
                switch self {
                case let .before(offset): .before(time + offset)
                case let .after(offset): .after(time + offset)
                case let .olderThan(seconds): .olderThan(seconds)
                case let .withinLast(seconds): .withinLast(seconds)
                }
            }
        }

        init(seed: UInt64) {
            self.seed = seed
            var random = SplitMix64(seed: seed)
            evaluatedAt =
                DatePropertyTests.base + Int64(random.below(40 * 365)) * DatePropertyTests.day
                + Int64(random.below(86_400))
            let userCount = 1 + random.below(30)
            func offset() -> Int64 { Int64(random.below(400 * 86_400)) - 300 * 86_400 }
            var garbled: Set<[Int]> = []
            offsets = (0..<userCount).map { user in
                DatePropertyTests.paths.indices.map { path in
                    switch random.below(6) {
                    case 0: return nil
                    case 1:
                        garbled.insert([user, path])
                        return nil
                    default:
                        // Some dates exactly on a boundary (whole days before the evaluation time).
                        return random.chance(0.3) ? -Int64(random.below(120)) * DatePropertyTests.day : offset()
                    }
                }
            }
            self.garbled = garbled
            func condition() -> (path: Int, op: RelativeOperator) {
                let seconds = Int64(random.below(120)) * DatePropertyTests.day
                let op: RelativeOperator =
                    switch random.below(4) {
                    case 0: .before(offset())
                    case 1: .after(offset())
                    case 2: .olderThan(seconds)
                    default: .withinLast(seconds)
                    }
                return (random.below(DatePropertyTests.paths.count), op)
            }
            policies = (0..<(1 + random.below(4))).map { index in
                (
                    match: (0..<(1 + random.below(2))).map { _ in condition() },
                    exclude: (0..<random.below(2)).map { _ in condition() },
                    sku: index % 2 == 0 ? "SPE_E3" : "SPE_E5"
                )
            }
        }

        var description: String { "date scenario seed \(seed)" }

        /// The plan with every date, every absolute operand and the evaluation time shifted by `shift`.
        func plan(shift: Int64) throws -> Plan {
            let time = evaluatedAt + shift
            let users = offsets.enumerated().map { user, dates in
                var properties: [String: JSONValue] = [:]
                for (path, offset) in dates.enumerated() {
                    let value: JSONValue? =
                        garbled.contains([user, path])
                        ? "not a date" : offset.map { .string(PolicyDates.text(time + $0)) }
                    guard let value else { continue }
                    properties.setValue(value, atPath: DatePropertyTests.paths[path].split(separator: ".")[...])
                }
                return Fixture.user(user + 1, "user\(user + 1)", properties)
            }
            let tenant = try Fixture.tenant(
                skus: [Fixture.e3(), Fixture.e5()],
                users: users,
                attributes: DatePropertyTests.paths
            )
            func conditions(_ list: [(path: Int, op: RelativeOperator)]) -> [AttributeCondition] {
                // One condition per path, as YAML's mapping keys are unique: operators on one path merge.
                Dictionary(grouping: list, by: \.path).sorted { $0.key < $1.key }.map { path, entries in
                    AttributeCondition(
                        path: DatePropertyTests.paths[path],
                        operators: entries.map { $0.op.resolved(at: time) }
                    )
                }
            }
            let policies = self.policies.enumerated().map { index, policy in
                Fixture.policy(
                    "p\(index)",
                    match: Policy.Match(
                        attributes: conditions(policy.match),
                        exclude: Policy.Exclusion(attributes: conditions(policy.exclude))
                    ),
                    grants: [Fixture.grant(policy.sku)]
                )
            }
            return try Fixture.plan(tenant, policies, options: PlanningOptions(allowMassRemoval: true, now: time))
        }

        /// Whether any policy's `match` tests a date of the user that is missing or not a date.
        func dependsOnMissingDate(user: Int, policy: Int) -> Bool {
            policies[policy].match.contains { offsets[user][$0.path] == nil }
        }
    }

    @Test("a date rule at T equals the same rule with every date and T shifted by d")
    func shiftInvariance() async {
        await propertyCheck(count: 300, input: Self.seeds, Gen.int(in: -20_000...20_000)) { seed, days in
            let scenario = Scenario(seed: seed)
            let shift = Int64(days) * Self.day + Int64(seed % 86_400)
            let original = try scenario.plan(shift: 0)
            let shifted = try scenario.plan(shift: shift)
            #expect(original.changes.map(\.userId) == shifted.changes.map(\.userId), "\(scenario), shift \(shift)")
            #expect(
                original.changes.map(\.assignLicense) == shifted.changes.map(\.assignLicense),
                "\(scenario), shift \(shift)"
            )
        }
    }

    @Test("a missing or unreadable date satisfies no date operator")
    func missingDatesNeverMatch() async {
        await propertyCheck(count: 300, input: Self.seeds) { seed in
            let scenario = Scenario(seed: seed)
            let plan = try scenario.plan(shift: 0)
            for change in plan.changes {
                let user = scenario.offsets.indices.first { Fixture.id($0 + 1) == change.userId }!
                let granting = scenario.policies.indices.filter {
                    !scenario.dependsOnMissingDate(user: user, policy: $0)
                }
                let skus = Set(granting.map { scenario.policies[$0].sku })
                for added in change.assignLicense?.addLicenses ?? [] {
                    let name = added.skuId == Fixture.e3().skuId ? "SPE_E3" : "SPE_E5"
                    #expect(skus.contains(name), "\(scenario): user\(user + 1) gets \(name) through a date it lacks")
                }
            }
        }
    }
}
