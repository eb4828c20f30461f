import AllotConfig
import AllotCore

/// Feeds one input to both loaders, as `allot.yaml` and as a policy file: composing,
/// decoding and the core's policy checks. Any input must end in a value or in
/// diagnostics; a crash, a hang or runaway memory is a bug. See docs/fuzzing.md.
enum FuzzTarget {
    static let loader = ConfigurationLoader(environment: [:])
    static let managedSkus = ["SPE_E3", "SPE_E5", "STANDARDPACK", "POWER_BI_PRO", "PROJECTPROFESSIONAL", "VISIOCLIENT"]
        .map { Reference($0) }

    static func run(_ input: [UInt8]) {
        do {
            _ = try loader.decodeConfiguration(input, path: "/fuzz/allot.yaml")
        } catch {
            precondition(!error.diagnostics.isEmpty, "a configuration was refused without a diagnostic")
        }
        do {
            _ = try loader.decodePolicies(input, file: "/fuzz/policy.yaml", managedSkus: managedSkus)
        } catch {
            precondition(!error.diagnostics.isEmpty, "a policy file was refused without a diagnostic")
        }
    }
}

#if ALLOT_LIBFUZZER
/// libFuzzer's entry point: built with `-sanitize=fuzzer` and `-DALLOT_LIBFUZZER`.
@_cdecl("LLVMFuzzerTestOneInput")
public func fuzzOneInput(_ data: UnsafePointer<UInt8>?, _ size: Int) -> Int32 {
    FuzzTarget.run(data.map { Array(UnsafeBufferPointer(start: $0, count: size)) } ?? [])
    return 0
}
#else
import Foundation

/// Without libFuzzer: replays files and directories of inputs (a corpus, a crash
/// reproducer) through the same target, so a plain `swift build --package-path Benchmarks` can check them.
@main
struct AllotFuzzReplay {
    static func main() {
        let paths = CommandLine.arguments.dropFirst()
        guard !paths.isEmpty else {
            print(
                "usage: AllotFuzz FILE_OR_DIRECTORY...  (replays inputs; docs/fuzzing.md builds the libFuzzer target)"
            )
            return
        }
        var count = 0
        for path in paths {
            var isDirectory: ObjCBool = false
            guard FileManager.default.fileExists(atPath: path, isDirectory: &isDirectory) else {
                FileHandle.standardError.write(Data("\(path): no such file or directory\n".utf8))
                exit(1)
            }
            let files =
                isDirectory.boolValue
                ? ((try? FileManager.default.contentsOfDirectory(atPath: path)) ?? []).sorted().map { path + "/" + $0 }
                : [path]
            for file in files {
                guard let contents = FileManager.default.contents(atPath: file) else {
                    FileHandle.standardError.write(Data("\(file): cannot read\n".utf8))
                    exit(1)
                }
                FuzzTarget.run(Array(contents))
                count += 1
            }
        }
        print("\(count) inputs replayed: no crash")
    }
}
#endif
