import AllotCore
import AllotGraph
import Foundation

extension ReconcileEngine {
    /// `allot report`: reads what the license report needs (every user's licenses, whether the
    /// account is enabled and, `withActivity`, its last successful sign-in; the subscribed SKUs;
    /// no group) and computes it. Reads only: nothing is planned or written.
    ///
    /// - Parameters:
    ///   - withActivity: select `signInActivity` (`$top=500`; it needs `AuditLog.Read.All` and
    ///     Entra ID P1, and Graph's refusal fails the read with a message naming what is missing
    ///     and `--no-activity`). `false` also leaves a snapshot's sign-in activity out.
    ///   - evaluatedAt: the moment inactivity is measured at, given the tenant (a snapshot's
    ///     `takenAt` is the default of `--at`).
    /// - Throws: the read's error for a live tenant.
    public static func report(
        tenant source: TenantSource,
        settings: ReconcileSettings,
        withActivity: Bool,
        evaluatedAt: (TenantModel) -> Int64
    ) async throws -> LicenseReport {
        let tenant: TenantModel
        switch source {
        case .live(let graph, let progress):
            defer { progress.finish() }
            tenant = try await graph.readTenant(
                attributes: LicenseReport.attributes(withActivity: withActivity),
                groups: [],
                signInActivityFor: .report
            ) { read in
                progress.reading(users: read.users, userPages: read.userPages, memberPages: read.memberPages)
            }
        case .snapshot(let model):
            tenant = model
        }
        return LicenseReport(
            tenant: tenant,
            managedSkus: settings.managedSkus,
            prices: settings.prices,
            evaluatedAt: evaluatedAt(tenant),
            signInActivity: withActivity
        )
    }
}
