/// Why a certificate or key could not be used: each says which file and what to do, in one line.
public enum TLSError: Error, Equatable, CustomStringConvertible {
    /// The file could not be read (missing, or not readable by this process's user).
    case unreadable(path: String, reason: String)
    /// The certificate file holds no PEM certificate.
    case noCertificate(path: String, reason: String)
    /// The key file holds no PEM private key (RSA or ECDSA) this node can use.
    case badKey(path: String, reason: String)
    /// The private key is not the key of the certificate (the first one in its file).
    case mismatch(cert: String, key: String)
    /// The certificate and the key were read, but no TLS context could be made of them.
    case unusable(reason: String)

    public var description: String {
        switch self {
        case .unreadable(let path, let reason):
            "cannot read \(path): \(reason)"
        case .noCertificate(let path, let reason):
            "\(path) holds no PEM certificate (\(reason)); give the full chain, as certbot's fullchain.pem"
        case .badKey(let path, let reason):
            "\(path) holds no PEM private key (\(reason)); give an unencrypted RSA or ECDSA key, as certbot's privkey.pem"
        case .mismatch(let cert, let key):
            "the key in \(key) does not belong to the certificate in \(cert) (its first certificate must be this node's)"
        case .unusable(let reason):
            "the certificate and key cannot serve TLS: \(reason)"
        }
    }
}
