/// Casty's version, as sent in `User-Agent` and `Server` headers.
public enum CastyVersion {
    /// The version number.
    public static let number = "0.1.0"
    /// `casty <number>`.
    public static let string = "casty \(number)"
}
