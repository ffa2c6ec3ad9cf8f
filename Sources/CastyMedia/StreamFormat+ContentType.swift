extension StreamFormat {
    /// The `Content-Type` Casty announces for a stream whose radio labelled it wrongly (or not at
    /// all): `nil` for ``opaque``, which keeps whatever the radio said.
    public var contentType: String? {
        switch self {
        case .mp3: "audio/mpeg"
        case .aac: "audio/aac"
        case .ogg: "audio/ogg"
        case .opaque: nil
        }
    }

    /// Whether Casty inserts ICY metadata blocks for players that ask for them. Not into Ogg
    /// streams: their titles travel in the stream's own comment headers (Icecast does the same).
    public var carriesICYMetadata: Bool { self != .ogg }
}
