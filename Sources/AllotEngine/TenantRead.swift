import AllotCore
import AllotGraph

extension GraphClient {
    /// Reads what `policies` need (the attributes they test, the groups they name) into a tenant
    /// model, with the read's progress on `progress`: what `plan`, `apply`, `explain`,
    /// `snapshot` and every daemon cycle read.
    public func readTenant(for policies: [Policy], progress: ProgressReporter) async throws -> TenantModel {
        let requirements = PolicyRequirements(policies)
        defer { progress.finish() }
        return try await readTenant(attributes: requirements.attributes, groups: requirements.groups) { read in
            progress.reading(users: read.users, userPages: read.userPages, memberPages: read.memberPages)
        }
    }
}
