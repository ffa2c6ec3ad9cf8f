import Foundation

/// The query of a peer request's target (`name=m1&from=42&…`): one parser for joins and loss
/// reports alike.
enum PeerQuery {
    /// The percent-decoded values by name. Items without `=` or with a malformed escape are
    /// skipped; of two items with the same name the first counts.
    static func parse(_ query: Substring) -> [String: String] {
        var values: [String: String] = [:]
        for item in query.split(separator: "&") {
            let pair = item.split(separator: "=", maxSplits: 1)
            guard pair.count == 2, let value = String(pair[1]).removingPercentEncoding else { continue }
            let name = String(pair[0])
            if values[name] == nil { values[name] = value }
        }
        return values
    }
}
