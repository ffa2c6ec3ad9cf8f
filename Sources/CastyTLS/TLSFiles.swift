/// Where a node's certificate and private key are: PEM files as an ACME client (certbot,
/// acme.sh) writes them, the certificate file holding the node's certificate first and then any
/// intermediate ones (`fullchain.pem`), the key file an RSA or ECDSA key (`privkey.pem`).
public struct TLSFiles: Sendable, Equatable, Hashable, Codable {
    /// The certificate chain's file.
    public var cert: String
    /// The private key's file.
    public var key: String

    /// Names the two files.
    public init(cert: String, key: String) {
        self.cert = cert
        self.key = key
    }
}
