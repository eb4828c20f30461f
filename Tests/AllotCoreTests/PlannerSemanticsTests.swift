import Testing

@testable import AllotCore

/// One test (or a few) per numbered rule of the product brief's "Semantics".
@Suite("Planner semantics")
struct PlannerSemanticsTests {
    let e3 = Fixture.e3()
    let e5 = Fixture.e5()
    let bi = Fixture.powerBIPro()

    @Test("1. desired licenses are the union over matching policies")
    func unionOfPolicies() throws {
        let tenant = try Fixture.tenant(skus: [e3, bi], users: [Fixture.user(1, "ada")])
        let plan = try Fixture.plan(
            tenant,
            [
                Fixture.policy("a", grants: [Fixture.grant("SPE_E3")]),
                Fixture.policy("b", grants: [Fixture.grant("POWER_BI_PRO")]),
            ]
        )
        let change = try #require(plan.change(forUser: 1))
        #expect(change.assignLicense?.addLicenses.map(\.skuId) == [e3.skuId, bi.skuId].sorted())
        #expect(change.assignLicense?.removeLicenses == [])
        #expect(change.policies == ["a", "b"])
        #expect(change.adds.first { $0.sku == "SPE_E3" }?.policies == ["a"])
    }

    @Test("2. the same SKU from several policies: enabled plans union, disabled plans intersection")
    func planUnion() throws {
        let tenant = try Fixture.tenant(skus: [e3], users: [Fixture.user(1, "ada")])
        let plan = try Fixture.plan(
            tenant,
            [
                Fixture.policy("a", grants: [Fixture.grant("SPE_E3", disabled: ["YAMMER_ENTERPRISE", "SWAY"])]),
                Fixture.policy("b", grants: [Fixture.grant("SPE_E3", disabled: ["SWAY", "TEAMS1"])]),
            ]
        )
        let body = try #require(plan.change(forUser: 1)?.assignLicense)
        #expect(body.addLicenses == [AssignedLicense(skuId: e3.skuId, disabledPlans: [Fixture.sway.servicePlanId])])
    }

    @Test("3. replaces: whoever gets SPE_E5 loses SPE_E3, in the same call")
    func replacesSwapsInOneCall() throws {
        let tenant = try Fixture.tenant(
            skus: [Fixture.e3(consumed: 1), e5],
            users: [Fixture.user(1, "ada", licenses: [Fixture.direct(e3)])]
        )
        let plan = try Fixture.plan(
            tenant,
            [
                Fixture.policy("staff", grants: [Fixture.grant("SPE_E3")]),
                Fixture.policy("eng", grants: [Fixture.grant("SPE_E5", replaces: ["SPE_E3"])]),
            ]
        )
        let change = try #require(plan.change(forUser: 1))
        #expect(
            change.assignLicense
                == AssignLicenseBody(addLicenses: [AssignedLicense(skuId: e5.skuId)], removeLicenses: [e3.skuId])
        )
        #expect(change.removals.first?.reason == .replaced)
        #expect(change.removals.first?.replacedBy == ["SPE_E5"])
        #expect(plan.summary.usersChanged == 1)
    }

    @Test("3. replaces acts for the matched policies only")
    func replacesOnlyFromMatchedPolicies() throws {
        let tenant = try Fixture.tenant(
            skus: [e3, e5],
            users: [Fixture.user(1, "ada", licenses: [Fixture.direct(e3)], ["department": .string("Sales")])],
            attributes: ["department"]
        )
        let plan = try Fixture.plan(
            tenant,
            [
                Fixture.policy("staff", grants: [Fixture.grant("SPE_E3")]),
                Fixture.policy(
                    "eng",
                    match: Policy.Match(attributes: [
                        AttributeCondition(path: "department", operators: [.equals(.string("Engineering"))])
                    ]),
                    grants: [Fixture.grant("SPE_E5", replaces: ["SPE_E3"])]
                ),
            ]
        )
        #expect(plan.changes.isEmpty)
    }

    @Test("4. unmanaged SKUs on a user are never touched")
    func unmanagedSkusUntouched() throws {
        let ems = Fixture.ems()
        let tenant = try Fixture.tenant(
            skus: [e3, ems],
            users: [Fixture.user(1, "ada", licenses: [Fixture.direct(ems)])]
        )
        let plan = try Fixture.plan(tenant, [Fixture.policy("staff", grants: [Fixture.grant("SPE_E3")])])
        let body = try #require(plan.change(forUser: 1)?.assignLicense)
        #expect(body.removeLicenses.isEmpty)
        #expect(body.addLicenses.map(\.skuId) == [e3.skuId])
    }

    @Test("4. a policy granting an unmanaged SKU does not compile")
    func unmanagedGrantIsAnError() throws {
        let tenant = try Fixture.tenant(skus: [e3, Fixture.ems()], users: [])
        let error = #expect(throws: DiagnosticsError.self) {
            try Fixture.plan(tenant, [Fixture.policy("p", grants: [Fixture.grant("EMS")])])
        }
        #expect(error?.description.contains("'EMS' is not in reconcile.managedSkus") == true)
    }

    @Test("5. a SKU held only through a group satisfies 'has it', is never removed, and is reported")
    func groupInheritedAssignments() throws {
        let group = Fixture.id(900)
        let tenant = try Fixture.tenant(
            skus: [Fixture.e3(consumed: 2), bi],
            users: [
                Fixture.user(1, "wants-e3", licenses: [Fixture.inherited(e3, from: group)]),
                Fixture.user(2, "wants-nothing", licenses: [Fixture.inherited(e3, from: group)]),
            ]
        )
        let staff = Policy.Match(all: true, exclude: Policy.Exclusion(users: [Reference("wants-nothing@contoso.com")]))
        let plan = try Fixture.plan(tenant, [Fixture.policy("staff", match: staff, grants: [Fixture.grant("SPE_E3")])])
        #expect(plan.changes.isEmpty)
        #expect(plan.heldThroughGroups.map(\.userId) == [Fixture.id(1)])
        #expect(plan.heldThroughGroups.first?.groups == [group])
    }

    @Test("5. a group assignment in error does not hold: the SKU is added directly")
    func groupAssignmentInError() throws {
        let tenant = try Fixture.tenant(
            skus: [e3],
            users: [Fixture.user(1, "ada", licenses: [Fixture.inherited(e3, from: Fixture.id(900), state: "Error")])]
        )
        let plan = try Fixture.plan(tenant, [Fixture.policy("staff", grants: [Fixture.grant("SPE_E3")])])
        #expect(plan.change(forUser: 1)?.assignLicense?.addLicenses.map(\.skuId) == [e3.skuId])
    }

    @Test("5. held both ways and not wanted: the direct copy is removed, freeing no seat")
    func directCopyOfInheritedSku() throws {
        let tenant = try Fixture.tenant(
            skus: [Fixture.e3(prepaid: 1, consumed: 1)],
            users: [
                Fixture.user(1, "ada", licenses: [Fixture.direct(e3), Fixture.inherited(e3, from: Fixture.id(900))]),
                Fixture.user(2, "bob"),
            ]
        )
        let plan = try Fixture.plan(
            tenant,
            [
                Fixture.policy(
                    "bob",
                    match: Policy.Match(all: true, exclude: Policy.Exclusion(users: [Reference("ada@contoso.com")])),
                    grants: [Fixture.grant("SPE_E3")]
                )
            ]
        )
        #expect(plan.change(forUser: 1)?.assignLicense?.removeLicenses == [e3.skuId])
        #expect(plan.change(forUser: 2) == nil, "the removal freed no seat, so bob's add is deferred")
        #expect(plan.deferred.map(\.userId) == [Fixture.id(2)])
    }

    @Test("5. an assignment Graph reports without a state is held and never removed")
    func unknownSourceIsNeverRemoved() throws {
        var user = Fixture.user(1, "ada")
        user.assignedLicenses = [AssignedLicense(skuId: e3.skuId)]
        let tenant = try Fixture.tenant(skus: [e3], users: [user])
        let plan = try Fixture.plan(
            tenant,
            [Fixture.policy("nobody", match: Policy.Match(groups: []), grants: [Fixture.grant("SPE_E3")])]
        )
        #expect(plan.changes.isEmpty)
    }

    @Test("6. no call at all when current equals desired; plans compare as sets")
    func noCallWhenConverged() throws {
        let tenant = try Fixture.tenant(
            skus: [e3],
            users: [Fixture.user(1, "ada", licenses: [Fixture.direct(e3, disabled: [Fixture.yammer, Fixture.sway])])]
        )
        let plan = try Fixture.plan(
            tenant,
            [Fixture.policy("staff", grants: [Fixture.grant("SPE_E3", disabled: ["SWAY", "YAMMER_ENTERPRISE"])])]
        )
        #expect(plan.changes.isEmpty)
        #expect(plan.summary.usersDrifted == 0)
    }

    @Test("6. a plan change re-adds the SKU with the full desired disabledPlans")
    func planChange() throws {
        let tenant = try Fixture.tenant(
            skus: [e3],
            users: [Fixture.user(1, "ada", licenses: [Fixture.direct(e3, disabled: [Fixture.sway])])]
        )
        let plan = try Fixture.plan(
            tenant,
            [Fixture.policy("staff", grants: [Fixture.grant("SPE_E3", disabled: ["YAMMER_ENTERPRISE", "TEAMS1"])])]
        )
        let change = try #require(plan.change(forUser: 1))
        #expect(
            change.assignLicense?.addLicenses == [
                AssignedLicense(
                    skuId: e3.skuId,
                    disabledPlans: [Fixture.yammer.servicePlanId, Fixture.teams.servicePlanId].sorted()
                )
            ]
        )
        #expect(change.planChanges.first?.enable == ["SWAY"])
        #expect(change.planChanges.first?.disable.sorted() == ["TEAMS1", "YAMMER_ENTERPRISE"])
    }

    @Test("6. disabled plans the SKU no longer offers do not cause drift")
    func retiredPlansDoNotFlap() throws {
        let retired = ServicePlan(servicePlanId: Fixture.id(777), servicePlanName: "RETIRED")
        let tenant = try Fixture.tenant(
            skus: [e3],
            users: [Fixture.user(1, "ada", licenses: [Fixture.direct(e3, disabled: [retired])])]
        )
        let plan = try Fixture.plan(tenant, [Fixture.policy("staff", grants: [Fixture.grant("SPE_E3")])])
        #expect(plan.changes.isEmpty)
    }

    @Test("7. an enabledPlans allow-list becomes disabledPlans from the SKU's user plans")
    func allowList() throws {
        let tenant = try Fixture.tenant(skus: [e3], users: [Fixture.user(1, "ada")])
        let plan = try Fixture.plan(
            tenant,
            [Fixture.policy("staff", grants: [Fixture.grant("SPE_E3", enabled: ["EXCHANGE_S_ENTERPRISE", "TEAMS1"])])]
        )
        let added = try #require(plan.change(forUser: 1)?.assignLicense?.addLicenses.first)
        // SWAY and YAMMER are switched off; the company-level plan is never put in disabledPlans.
        #expect(added.disabledPlans == [Fixture.sway.servicePlanId, Fixture.yammer.servicePlanId].sorted())
    }

    @Test("8. seats: adds beyond the seats left are deferred, highest priority first, ties by user id")
    func seatsByPriority() throws {
        let tenant = try Fixture.tenant(
            skus: [Fixture.powerBIPro(prepaid: 10, consumed: 8)],
            users: [
                Fixture.user(1, "a", ["tier": .string("low")]), Fixture.user(2, "b", ["tier": .string("high")]),
                Fixture.user(3, "c", ["tier": .string("low")]), Fixture.user(4, "d", ["tier": .string("low")]),
            ],
            attributes: ["tier"]
        )
        let high = Policy.Match(attributes: [AttributeCondition(path: "tier", operators: [.equals(.string("high"))])])
        let plan = try Fixture.plan(
            tenant,
            [
                Fixture.policy("everyone", priority: 1, grants: [Fixture.grant("POWER_BI_PRO")]),
                Fixture.policy("vip", priority: 100, match: high, grants: [Fixture.grant("POWER_BI_PRO")]),
            ]
        )
        #expect(plan.changes.map(\.userId) == [Fixture.id(1), Fixture.id(2)])
        #expect(plan.deferred.map(\.userId) == [Fixture.id(3), Fixture.id(4)])
        #expect(plan.isPending)
        #expect(plan.deferred.first?.priority == 1)
        let seats = try #require(plan.seats.first)
        #expect((seats.consumedBefore, seats.consumedAfter, seats.availableAfter, seats.deferredAdds) == (8, 10, 0, 2))
    }

    @Test("8. removals free seats first; a plan change needs no seat")
    func removalsFreeSeats() throws {
        let tenant = try Fixture.tenant(
            skus: [Fixture.e3(prepaid: 2, consumed: 2)],
            users: [
                Fixture.user(1, "leaver", licenses: [Fixture.direct(e3)], ["dept": .string("gone")]),
                Fixture.user(
                    2,
                    "replug",
                    licenses: [Fixture.direct(e3, disabled: [Fixture.sway])],
                    ["dept": .string("x")]
                ),
                Fixture.user(3, "joiner", ["dept": .string("x")]),
            ],
            attributes: ["dept"]
        )
        let plan = try Fixture.plan(
            tenant,
            [
                Fixture.policy(
                    "x",
                    match: Policy.Match(attributes: [
                        AttributeCondition(path: "dept", operators: [.equals(.string("x"))])
                    ]),
                    grants: [Fixture.grant("SPE_E3")]
                )
            ]
        )
        #expect(plan.changes.count == 3)
        #expect(plan.deferred.isEmpty)
        #expect(plan.seats.first?.consumedAfter == 2)
    }

    @Test("8. a deferred replacing SKU keeps what it replaces: no user is left unlicensed")
    func deferralKeepsReplacedSku() throws {
        let tenant = try Fixture.tenant(
            skus: [Fixture.e3(consumed: 1), Fixture.e5(prepaid: 0)],
            users: [Fixture.user(1, "held", licenses: [Fixture.direct(e3)]), Fixture.user(2, "fresh")]
        )
        let plan = try Fixture.plan(
            tenant,
            [Fixture.policy("eng", grants: [Fixture.grant("SPE_E5", replaces: ["SPE_E3"])])]
        )
        #expect(plan.change(forUser: 1) == nil, "E3 stays while E5 is deferred")
        #expect(plan.deferred.map(\.userId) == [Fixture.id(1), Fixture.id(2)])
        let withStaff = try Fixture.plan(
            tenant,
            [
                Fixture.policy("staff", grants: [Fixture.grant("SPE_E3")]),
                Fixture.policy("eng", grants: [Fixture.grant("SPE_E5", replaces: ["SPE_E3"])]),
            ]
        )
        #expect(
            withStaff.change(forUser: 2)?.assignLicense?.addLicenses.map(\.skuId) == [e3.skuId],
            "E3 stays desired when E5 is deferred"
        )
    }

    @Test("9. users without usage location get the default set, shown in the plan")
    func usageLocationDefault() throws {
        let tenant = try Fixture.tenant(skus: [e3], users: [Fixture.user(1, "ada", location: nil)])
        let plan = try Fixture.plan(
            tenant,
            [Fixture.policy("staff", grants: [Fixture.grant("SPE_E3")])],
            Fixture.settings(defaultLocation: "GB")
        )
        #expect(plan.change(forUser: 1)?.setUsageLocation == "GB")
        #expect(plan.summary.usageLocationUpdates == 1)
    }

    @Test("9. without a default such users are skipped entirely: no call, no removal")
    func usageLocationSkip() throws {
        let tenant = try Fixture.tenant(
            skus: [e3, e5],
            users: [Fixture.user(1, "ada", location: nil, licenses: [Fixture.direct(e3)])]
        )
        let plan = try Fixture.plan(
            tenant,
            [Fixture.policy("eng", grants: [Fixture.grant("SPE_E5", replaces: ["SPE_E3"])])],
            Fixture.settings(defaultLocation: nil)
        )
        #expect(plan.changes.isEmpty)
        #expect(plan.skipped.map(\.reason) == [.noUsageLocation])
    }

    @Test("9. the usage-location PATCH is sent only when the call still carries an add after seats")
    func usageLocationOnlyWithAdd() throws {
        let tenant = try Fixture.tenant(
            skus: [Fixture.e3(consumed: 1), Fixture.powerBIPro(prepaid: 0)],
            users: [Fixture.user(1, "ada", location: nil, licenses: [Fixture.direct(e3)])]
        )
        let plan = try Fixture.plan(tenant, [Fixture.policy("bi", grants: [Fixture.grant("POWER_BI_PRO")])])
        let change = try #require(plan.change(forUser: 1))
        #expect(change.setUsageLocation == nil)
        #expect(change.assignLicense == AssignLicenseBody(addLicenses: [], removeLicenses: [e3.skuId]))
    }

    @Test("10. the guard trips on maxRemovals: nothing is removed, not even a swap's old SKU; adds still go")
    func guardTrips() throws {
        let users = (1...10).map { Fixture.user($0, "u\($0)", licenses: [Fixture.direct(e3)]) }
        let tenant = try Fixture.tenant(skus: [Fixture.e3(consumed: 10), e5], users: users)
        let policies = [Fixture.policy("eng", grants: [Fixture.grant("SPE_E5", replaces: ["SPE_E3"])])]
        let plan = try Fixture.plan(tenant, policies, Fixture.settings(maxRemovals: 5))
        #expect(plan.guardrail.tripped)
        #expect(plan.guardrail.removals == 10)
        #expect(plan.changes.count == 10)
        #expect(
            plan.changes.allSatisfy {
                $0.assignLicense?.removeLicenses == [] && $0.assignLicense?.addLicenses.count == 1
            }
        )
        let overridden = try Fixture.plan(
            tenant,
            policies,
            Fixture.settings(maxRemovals: 5),
            options: PlanningOptions(allowMassRemoval: true)
        )
        #expect(overridden.guardrail.overridden)
        #expect(overridden.summary.removals == 10)
        #expect(
            plan.heldRemovals.count == 10
                && plan.heldRemovals.allSatisfy { $0.heldBy == .massRemovalGuard && $0.sku == "SPE_E3" }
        )
        #expect(overridden.heldRemovals.isEmpty, "an overridden guard holds nothing")
    }

    @Test("10. the guard trips on the percentage of managed licenses assigned")
    func guardPercentage() throws {
        let users = (1...3).map { Fixture.user($0, "u\($0)", licenses: [Fixture.direct(e3)]) }
        let tenant = try Fixture.tenant(skus: [Fixture.e3(consumed: 100)], users: users)
        let nobody = [Fixture.policy("nobody", match: Policy.Match(groups: []), grants: [Fixture.grant("SPE_E3")])]
        let plan = try Fixture.plan(
            tenant,
            nobody,
            Fixture.settings(managed: ["SPE_E3"], maxRemovals: 50, maxRemovalPercent: 2)
        )
        #expect(plan.guardrail.tripped)
        #expect(plan.guardrail.reason?.contains("maxRemovalPercent") == true)
        #expect(plan.summary.removals == 0)
        // Nothing to send, yet nothing hidden: the held removals are listed with the guard's reason.
        #expect(!plan.hasChanges && plan.isPending)
        #expect(plan.heldRemovals.map(\.userPrincipalName) == ["u1@contoso.com", "u2@contoso.com", "u3@contoso.com"])
        #expect(
            plan.heldRemovals.allSatisfy { $0.heldBy == .massRemovalGuard && $0.sku == "SPE_E3" && $0.groups.isEmpty }
        )
        #expect(plan.heldRemovals.first?.reason == "the mass-removal guard tripped: " + (plan.guardrail.reason ?? ""))
        #expect(plan.summary.heldRemovals == 3)
        let text = PlanRenderer().render(plan)
        #expect(text.hasPrefix("No request to send this cycle; the changes below are pending.\n"), "\(text)")
        #expect(text.contains("Removals held: the mass-removal guard tripped\n  ‖ u1@contoso.com  SPE_E3\n"), "\(text)")
        #expect(text.contains("3 removals held"))
        let relaxed = try Fixture.plan(
            tenant,
            nobody,
            Fixture.settings(managed: ["SPE_E3"], maxRemovals: 50, maxRemovalPercent: 3)
        )
        #expect(!relaxed.guardrail.tripped)
        #expect(relaxed.summary.removals == 3)
    }

    @Test("11. a group that does not exist, or is ambiguous, fails the compile (fail closed)")
    func groupResolution() throws {
        let tenant = try Fixture.tenant(
            skus: [e3],
            groups: [
                Fixture.group(1, "Sales", members: []), Fixture.group(2, "Sales", members: []),
                Fixture.group(3, "Engineering", members: []),
            ],
            users: []
        )
        let missing = Policy.Match(groups: [
            Reference("Enginering", at: SourceLocation(file: "p.yaml", line: 4, column: 13))
        ])
        let error = #expect(throws: DiagnosticsError.self) {
            try Fixture.plan(tenant, [Fixture.policy("p", match: missing, grants: [Fixture.grant("SPE_E3")])])
        }
        #expect(
            error?.description
                == "p.yaml:4:13: policy 'p': no group is named 'Enginering' in the tenant (did you mean 'Engineering'?)"
        )
        let ambiguous = #expect(throws: DiagnosticsError.self) {
            try Fixture.plan(
                tenant,
                [
                    Fixture.policy(
                        "p",
                        match: Policy.Match(groups: [Reference("sales")]),
                        grants: [Fixture.grant("SPE_E3")]
                    )
                ]
            )
        }
        #expect(ambiguous?.description.contains("2 groups are named 'sales'") == true)
    }

    @Test("a replaces cycle that names a SKU by id on one side is reported at a policy on the cycle, naming its SKUs")
    func replacesCycleById() throws {
        let tenant = try Fixture.tenant(skus: [e3, e5], users: [])
        let other = Fixture.policy("other", grants: [Fixture.grant("SPE_E3")])
        var upgrade = Fixture.policy("upgrade", grants: [Fixture.grant("SPE_E5", replaces: [e3.skuId.description])])
        upgrade.location = SourceLocation(file: "up.yaml", line: 1, column: 1)
        var downgrade = Fixture.policy("downgrade", grants: [Fixture.grant("SPE_E3", replaces: ["SPE_E5"])])
        downgrade.location = SourceLocation(file: "down.yaml", line: 1, column: 1)
        let error = #expect(throws: DiagnosticsError.self) { try Fixture.plan(tenant, [other, upgrade, downgrade]) }
        #expect(
            error?.description
                == "up.yaml:1:1: the policies' `replaces` form a cycle among SPE_E3, SPE_E5: a SKU would replace itself"
        )
    }

    @Test("removalDelay: a first cycle removes nothing; the removal goes once the delay has passed")
    func removalDelay() throws {
        let tenant = try Fixture.tenant(
            skus: [Fixture.e3(consumed: 1)],
            users: [Fixture.user(1, "ada", licenses: [Fixture.direct(e3)])]
        )
        let nobody = [Fixture.policy("nobody", match: Policy.Match(groups: []), grants: [Fixture.grant("SPE_E3")])]
        let settings = Fixture.settings(removalDelay: .seconds(3600))
        let first = try Fixture.plan(tenant, nobody, settings, options: PlanningOptions(now: 1_000))
        #expect(first.changes.isEmpty)
        #expect(first.isPending, "a removal waiting out the delay is pending")
        #expect(PlanRenderer().render(first).contains("ada@contoso.com  SPE_E3  removable from 1970-01-01T01:16:40Z"))
        #expect(first.delayedRemovals.map(\.removableFrom) == [4_600])
        let pair = PendingRemoval(user: Fixture.id(1), sku: e3.skuId)
        #expect(first.removalHistory.firstSeen == [pair: 1_000])
        let early = try Fixture.plan(
            tenant,
            nobody,
            settings,
            options: PlanningOptions(removalHistory: first.removalHistory, now: 4_599)
        )
        #expect(early.changes.isEmpty)
        let due = try Fixture.plan(
            tenant,
            nobody,
            settings,
            options: PlanningOptions(removalHistory: first.removalHistory, now: 4_600)
        )
        #expect(due.change(forUser: 1)?.assignLicense?.removeLicenses == [e3.skuId])
    }

    @Test("users in backoff are left alone and reported")
    func backoff() throws {
        let tenant = try Fixture.tenant(skus: [e3], users: [Fixture.user(1, "ada")])
        let plan = try Fixture.plan(
            tenant,
            [Fixture.policy("staff", grants: [Fixture.grant("SPE_E3")])],
            options: PlanningOptions(usersInBackoff: [Fixture.id(1)])
        )
        #expect(plan.changes.isEmpty)
        #expect(plan.skipped.map(\.reason) == [.backoff])
        #expect(plan.isPending)
    }
}
