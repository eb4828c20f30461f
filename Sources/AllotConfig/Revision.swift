import Crypto
import Foundation

/// SHA-256 revisions, as lowercase hex: what the policy set's revision is made of, and what a
/// saved plan records of the configuration file and of its own contents.
public enum Revision {
    /// The SHA-256 of `bytes`.
    public static func sha256(_ bytes: some DataProtocol) -> String {
        SHA256.hash(data: bytes).map { String(format: "%02x", $0) }.joined()
    }

    /// The SHA-256 of the file at `path`.
    public static func sha256(fileAt path: String) throws -> String {
        sha256(try Data(contentsOf: URL(fileURLWithPath: path)))
    }
}
