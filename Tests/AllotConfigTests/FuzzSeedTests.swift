import AllotConfig
import AllotCore
import Foundation
import Testing

/// The fuzz target's seed corpus doubles as a regression suite: every input, including
/// what the fuzzer once found, must end in a value or in diagnostics pointing into it.
@Suite("Fuzz seeds")
struct FuzzSeedTests {
    static let seedDirectory = Bundle.module.resourceURL!.appendingPathComponent("Fixtures/fuzz-seeds").path

    static var seeds: [String] {
        ((try? FileManager.default.contentsOfDirectory(atPath: seedDirectory)) ?? []).sorted()
    }

    @Test("the corpus holds the samples and the error cases")
    func corpus() {
        #expect(Self.seeds.count >= 20)
        #expect(Self.seeds.contains("policy-engineering.yaml"))
        #expect(Self.seeds.contains("error-alias-bomb.yaml"))
    }

    @Test("every seed, read both ways, ends in a value or in diagnostics inside the file", arguments: seeds)
    func seed(name: String) throws {
        let contents = Array(try Data(contentsOf: URL(fileURLWithPath: Self.seedDirectory + "/" + name)))
        let loader = ConfigurationLoader(environment: [:])
        let managed = ["SPE_E3", "SPE_E5", "STANDARDPACK", "POWER_BI_PRO", "PROJECTPROFESSIONAL", "VISIOCLIENT"].map {
            Reference($0)
        }
        var outcomes: [Bool] = []
        do {
            _ = try loader.decodeConfiguration(contents, path: "/seeds/allot.yaml")
            outcomes.append(true)
        } catch {
            outcomes.append(false)
            expectInside(
                error,
                file: "/seeds/allot.yaml",
                lines: contents.count(where: { $0 == UInt8(ascii: "\n") }) + 1
            )
        }
        do {
            _ = try loader.decodePolicies(contents, file: "/seeds/policy.yaml", managedSkus: managed)
            outcomes.append(true)
        } catch {
            outcomes.append(false)
            expectInside(
                error,
                file: "/seeds/policy.yaml",
                lines: contents.count(where: { $0 == UInt8(ascii: "\n") }) + 1
            )
        }
        if name.hasPrefix("policy-") || name.hasPrefix("finding-") { #expect(outcomes == [false, true]) }
        if name.hasPrefix("config-deploy") || name.hasPrefix("config-example") || name.hasPrefix("config-credentials") {
            #expect(outcomes == [true, false])
        }
        if name.hasPrefix("error-") || name == "config-errors.yaml" { #expect(outcomes == [false, false]) }
    }

    private func expectInside(_ error: DiagnosticsError, file: String, lines: Int) {
        #expect(!error.diagnostics.isEmpty)
        for diagnostic in error.diagnostics {
            let location = diagnostic.location
            #expect(location?.file == file, "\(diagnostic)")
            #expect((1...lines).contains(location?.line ?? 0), "\(diagnostic)")
            #expect((location?.column ?? 0) >= 1, "\(diagnostic)")
        }
    }
}
