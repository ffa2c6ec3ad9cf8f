/// Text decoding for bytes that come from the network: UTF-8 when valid, otherwise ISO-8859-1,
/// which is what old SHOUTcast servers and many station tools send. Never fails, never loses bytes.
public enum ICYText {
    /// The text of `bytes`: UTF-8 when they are valid UTF-8, ISO-8859-1 (Latin-1) otherwise.
    public static func decode<Bytes: Collection>(_ bytes: Bytes) -> String where Bytes.Element == UInt8 {
        if let utf8 = String(validating: bytes, as: UTF8.self) {
            return utf8
        }
        return String(String.UnicodeScalarView(bytes.lazy.map { Unicode.Scalar($0) }))
    }
}
