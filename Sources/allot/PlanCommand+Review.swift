import AllotConfig
import AllotCore
import AllotEngine
import ArgumentParser
import Foundation
import Logging

/// `allot plan --output`: the plan's formats.
enum PlanOutputFormat: String, ExpressibleByArgument, CaseIterable {
    case text, json, markdown
}

extension PlanCommand {
    /// Plans one tenant read with the base policies and with the configured ones, and prints
    /// the impact of the change (docs/gitops.md). Exit status as `plan`: 2 when the proposed
    /// policies leave anything pending.
    func compare(base: PolicySet, loaded: LoadedConfiguration, logger: Logger) async throws {
        let tenant: TenantModel
        if let snapshot = tenantSource.snapshot {
            tenant = try tenantModel(snapshot: snapshot)
        } else {
            tenant = try await withGraph(loaded, logger: logger) { graph in
                try await graph.readTenant(
                    for: base.policies + loaded.policies.policies,
                    progress: ProgressReporter(logger: logger, terminal: isTerminal(2))
                )
            }
        }
        // One read, planned twice through the one planning entry point: the base policies and
        // the configured ones, with the same state, clock and evaluation time.
        var baseLoaded = loaded
        baseLoaded.policies = base
        let evaluatedAt = time.date(for: tenant)
        let basePlan = try await preparePlan(
            baseLoaded,
            tenant: .snapshot(tenant),
            state: stateStore(loaded),
            evaluatedAt: evaluatedAt,
            role: "the base policies (--compare-to)"
        )
        let proposedPlan = try await preparePlan(
            loaded,
            tenant: .snapshot(tenant),
            state: stateStore(loaded),
            evaluatedAt: evaluatedAt
        )
        let impact = PolicyImpact(base: basePlan.planner, proposed: proposedPlan.planner, options: proposedPlan.options)
        switch output {
        case .text: try writeResult(ImpactRenderer(colors: options.colors(1), showDrift: showDrift).render(impact))
        case .json: try printJSON(impact)
        case .markdown: try writeResult(MarkdownRenderer().render(impact))
        }
        if impact.proposed.isPending { throw ExitCode(2) }
    }

    /// Writes `plan` as a saved plan (``SavedPlan``) with the revisions it was made from.
    func save(_ plan: Plan, to path: String, loaded: LoadedConfiguration) throws {
        do {
            var saved = SavedPlan(
                plan: plan,
                createdAt: Int64(Date().timeIntervalSince1970),
                policyRevision: loaded.policies.revision,
                configurationRevision: try Revision.sha256(fileAt: loaded.configurationPath)
            )
            saved.digest = try savedPlanDigest(saved)
            let encoder = JSONEncoder()
            encoder.outputFormatting = [.prettyPrinted, .sortedKeys, .withoutEscapingSlashes]
            try encoder.encode(saved).write(to: URL(fileURLWithPath: path), options: .atomic)
        } catch {
            printError("error: cannot save the plan to \(path): \(error.localizedDescription)")
            throw ExitCode.failure
        }
        printError("saved the plan to \(path): apply it with `allot apply \(path)` within --max-age (24h by default)")
    }

    /// The base policy set: a directory, or `git:REF` (the configured policy directory as it is
    /// at REF in the git repository that holds it, read with `git show`), checked against the
    /// configured managed SKUs.
    func loadBasePolicies(_ reference: String, loaded: LoadedConfiguration) throws -> PolicySet {
        let loader = ConfigurationLoader()
        let reconcile = loaded.configuration.reconcile
        guard reference.hasPrefix("git:") else {
            do {
                return try loader.loadPolicies(in: reference, reconcile: reconcile)
            } catch {
                printError(
                    "error: the base policies (--compare-to \(reference)) do not load:\n"
                        + error.diagnostics.map(\.description).joined(separator: "\n")
                )
                throw ExitCode.failure
            }
        }
        let ref = String(reference.dropFirst("git:".count))
        let directory = try GitPolicyExport(policyDirectory: loaded.configuration.policiesPath, ref: ref).export()
        defer { try? FileManager.default.removeItem(atPath: directory) }
        do {
            return try loader.loadPolicies(in: directory, reconcile: reconcile)
        } catch {
            printError(
                "error: the base policies at \(ref) do not load:\n"
                    + error.diagnostics.map(\.description).joined(separator: "\n")
            )
            throw ExitCode.failure
        }
    }
}

/// Writes the policy files of a directory as they are at a git revision into a temporary
/// directory, with `git ls-tree` and `git show` run in the repository that holds the directory.
struct GitPolicyExport {
    var policyDirectory: String
    var ref: String

    func export() throws -> String {
        let absolute = URL(fileURLWithPath: policyDirectory).standardizedFileURL.path
        let top = try git(["rev-parse", "--show-toplevel"], in: absolute).trimmingCharacters(
            in: .whitespacesAndNewlines
        )
        let prefix = try git(["rev-parse", "--show-prefix"], in: absolute).trimmingCharacters(
            in: .whitespacesAndNewlines
        )
        let listing = try git(["ls-tree", "--name-only", "\(ref):\(prefix)"], in: top)
        let names = listing.split(separator: "\n").map(String.init).filter {
            ($0.hasSuffix(".yaml") || $0.hasSuffix(".yml")) && !$0.hasPrefix(".")
        }
        let target = FileManager.default.temporaryDirectory.appendingPathComponent("allot-base-\(UUID().uuidString)")
            .path
        do {
            try FileManager.default.createDirectory(atPath: target, withIntermediateDirectories: true)
            for name in names {
                let contents = try git(["show", "\(ref):\(prefix)\(name)"], in: top)
                try Data(contents.utf8).write(to: URL(fileURLWithPath: target + "/" + name))
            }
        } catch let error as ExitCode {
            throw error
        } catch {
            printError("error: cannot write the base policies to \(target): \(error.localizedDescription)")
            throw ExitCode.failure
        }
        return target
    }

    /// Runs git and returns its standard output, or prints its error and exits 1.
    private func git(_ arguments: [String], in directory: String) throws -> String {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: "/usr/bin/env")
        process.arguments = ["git", "-C", directory] + arguments
        let output = Pipe()
        let errors = Pipe()
        process.standardOutput = output
        process.standardError = errors
        do {
            try process.run()
        } catch {
            printError("error: --compare-to git:\(ref) needs git: \(error.localizedDescription)")
            throw ExitCode.failure
        }
        let data = output.fileHandleForReading.readDataToEndOfFile()
        let message = errors.fileHandleForReading.readDataToEndOfFile()
        process.waitUntilExit()
        guard process.terminationStatus == 0 else {
            let detail = String(decoding: message, as: UTF8.self).trimmingCharacters(in: .whitespacesAndNewlines)
            printError(
                "error: --compare-to git:\(ref): git \(arguments.joined(separator: " ")) failed in \(directory): \(detail)"
            )
            throw ExitCode.failure
        }
        return String(decoding: data, as: UTF8.self)
    }
}

/// The digest a saved plan carries: SHA-256 over its sorted-key JSON with the digest left empty.
func savedPlanDigest(_ plan: SavedPlan) throws -> String {
    var unsigned = plan
    unsigned.digest = ""
    let encoder = JSONEncoder()
    encoder.outputFormatting = [.sortedKeys, .withoutEscapingSlashes]
    return Revision.sha256(try encoder.encode(unsigned))
}
