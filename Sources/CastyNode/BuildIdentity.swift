import CastyMedia
import Crypto
import Foundation

/// Which build of Casty this process runs: the version number and the first 12 hex digits of the
/// SHA-256 of its executable, so that the logs of an upgrade say which binary handed over to which
/// (two builds of one version differ in their digest).
public enum BuildIdentity {
    /// `casty 0.1.0 (build 0123456789ab)`, computed once.
    public static let current: String = {
        guard let data = FileManager.default.contents(atPath: "/proc/self/exe") else { return CastyVersion.string }
        let digest = SHA256.hash(data: data).prefix(6).map { String(format: "%02x", $0) }.joined()
        return "\(CastyVersion.string) (build \(digest))"
    }()
}
