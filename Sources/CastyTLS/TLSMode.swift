/// How a node's one listening port speaks TLS.
public enum TLSMode: String, Sendable, Equatable, CaseIterable {
    /// http and https on the same port, told apart by the connection's first byte (a TLS
    /// handshake starts with 0x16, an HTTP request with a letter), as icecast-kh does and
    /// Icecast 2.5's `auto`.
    case auto
    /// https only: a plain request gets a short `400` saying so (Icecast 2.5's `auto_no_plain`).
    case only
}
