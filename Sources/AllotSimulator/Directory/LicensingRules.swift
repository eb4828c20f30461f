import AllotCore

/// The service-plan rules `assignLicense` enforces over the plans a user has enabled (across all
/// their SKUs) after the call: plans that exclude each other, and plans that need another.
public struct SimulatedLicensingRules: Sendable, Hashable {
    /// Sets of plans no two of which may be enabled on one user.
    public var mutuallyExclusive: [Set<GUID>]
    /// Plans that need a prerequisite enabled on the same user.
    public var dependencies: [SimulatedPlanDependency]

    public init(mutuallyExclusive: [Set<GUID>] = [], dependencies: [SimulatedPlanDependency] = []) {
        self.mutuallyExclusive = mutuallyExclusive
        self.dependencies = dependencies
    }

    /// Graph as it is now, for the plans of the sample catalog (sources in `docs/simulator.md`).
    ///
    /// No exclusions: Exchange Online Plan 1, Plan 2 and Kiosk may be held together since 2023
    /// (entra-docs licensing-groups-resolve-problems.md; Exchange Team blog "Introducing Support
    /// for Concurrent Exchange Online License Assignments", which adds that SharePoint Online and
    /// Teams had allowed it "for some time"). The exclusions that remain concern retired small
    /// and mid-size business plans, which the catalog does not hold.
    public static let graph = SimulatedLicensingRules(dependencies: [
        // Audio Conferencing (MCOMEETADV) on Skype for Business Online Plan 2 (MCOSTANDARD):
        // "Audio Conferencing is dependent on Skype for Business" (licensing-groups-resolve-problems.md).
        SimulatedPlanDependency(plan: Plan.audioConferencing, prerequisites: [Plan.skypeForBusinessPlan2]),
        // Teams Phone (MCOEV) on Teams (TEAMS1): community reports (graph-facts §10).
        SimulatedPlanDependency(plan: Plan.teamsPhone, prerequisites: [Plan.teams]),
        // Defender for Office 365 Plan 2 (THREAT_INTELLIGENCE) on an Exchange Online plan:
        // community reports (graph-facts §10). Plan 1 (ATP_ENTERPRISE) protects the same
        // mailboxes and is given the same prerequisite.
        SimulatedPlanDependency(
            plan: Plan.defenderForOffice365Plan2,
            prerequisites: [Plan.exchangePlan1, Plan.exchangePlan2]
        ),
        SimulatedPlanDependency(
            plan: Plan.defenderForOffice365Plan1,
            prerequisites: [Plan.exchangePlan1, Plan.exchangePlan2]
        ),
        // Project Online Service (SHAREPOINT_PROJECT) on SharePoint Online Plan 2
        // (SHAREPOINTENTERPRISE): a Graph error body published in a public investigation
        // ("service plan fe71d6c3-… depends on the service plan(s) 5dbe027f-…").
        SimulatedPlanDependency(plan: Plan.projectOnlineService, prerequisites: [Plan.sharePointPlan2]),
    ])

    /// The service plan ids the default rules name (Microsoft's service plan reference).
    private enum Plan {
        static let audioConferencing = GUID("3e26ee1f-8a5f-4d52-aee2-b81ce45c8f40")!
        static let skypeForBusinessPlan2 = GUID("0feaeb32-d00e-4d66-bd5a-43b5b83db82c")!
        static let teamsPhone = GUID("4828c8ec-dc2e-4779-b502-87ac9ce28ab7")!
        static let teams = GUID("57ff2da0-773e-42df-b2af-ffb7a2317929")!
        static let defenderForOffice365Plan2 = GUID("8e0c0a52-6a6c-4d40-8370-dd62790dcd70")!
        static let defenderForOffice365Plan1 = GUID("f20fedf3-f3c3-43c3-8267-2bfdd51c0939")!
        static let exchangePlan1 = GUID("9aaf7827-d63c-4b61-89c3-182f06f82e5c")!
        static let exchangePlan2 = GUID("efb87545-963c-4e0d-99df-69c6916d9eb0")!
        static let projectOnlineService = GUID("fe71d6c3-a2ea-4499-9778-da042bf08063")!
        static let sharePointPlan2 = GUID("5dbe027f-2339-4123-9542-606e4d348a72")!
    }

    /// The first pair of enabled plans that exclude each other, if any.
    func conflict(in enabled: Set<GUID>) -> (GUID, GUID)? {
        for group in mutuallyExclusive {
            let present = group.filter(enabled.contains).sorted { $0.description < $1.description }
            if present.count >= 2 { return (present[0], present[1]) }
        }
        return nil
    }

    /// The enabled plans whose prerequisites are all disabled.
    func unmetDependencies(in enabled: Set<GUID>) -> [SimulatedPlanDependency] {
        dependencies.filter { enabled.contains($0.plan) && !$0.prerequisites.contains(where: enabled.contains) }
    }
}

/// A service plan that works only with one of its prerequisites enabled on the same user.
public struct SimulatedPlanDependency: Sendable, Hashable {
    public var plan: GUID
    /// Any one of them enabled satisfies the dependency.
    public var prerequisites: [GUID]

    public init(plan: GUID, prerequisites: [GUID]) {
        self.plan = plan
        self.prerequisites = prerequisites
    }
}
