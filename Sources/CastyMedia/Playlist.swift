import Foundation

/// A radio's playlist file (`.pls`, `.m3u`, `.m3u8`): what many stations link to instead of their
/// stream. It lists one or more stream URLs, and the stream is the first one that answers.
///
/// Two pure functions, no I/O: ``isPlaylist(contentType:url:firstBytes:)`` tells a playlist from a
/// stream by its reply's content type, its URL and its first bytes; ``parse(_:baseURL:)`` reads the
/// stream URLs out of a whole playlist body, of at most ``maxBytes`` (read at most
/// `maxBytes + 1` bytes, so that a larger body is refused rather than cut). HLS playlists, which
/// list segments of one stream rather than streams, are refused: Casty relays ICY/HTTP streams.
public enum Playlist {
    /// The largest playlist body ``parse(_:baseURL:)`` accepts: 1 MiB.
    public static let maxBytes = 1 << 20
    /// The most entries ``parse(_:baseURL:)`` accepts.
    public static let maxEntries = 1000

    /// Content types that name a playlist (compared without parameters, case-insensitively).
    static let playlistContentTypes: Set<String> = [
        "audio/x-scpls", "application/pls+xml",
        "audio/x-mpegurl", "audio/mpegurl", "application/x-mpegurl", "application/vnd.apple.mpegurl",
    ]
    /// URL path endings that name a playlist (compared case-insensitively, query and fragment ignored).
    static let playlistExtensions = [".pls", ".m3u", ".m3u8"]
    /// Tags that only HLS playlists carry (master or media playlists).
    static let hlsTags = [
        "#EXT-X-TARGETDURATION", "#EXT-X-MEDIA-SEQUENCE", "#EXT-X-STREAM-INF", "#EXT-X-I-FRAME-STREAM-INF",
        "#EXT-X-PLAYLIST-TYPE", "#EXT-X-ENDLIST", "#EXT-X-MAP", "#EXT-X-DISCONTINUITY-SEQUENCE", "#EXT-X-PART-INF",
    ]
    /// Endings of HLS segments that are never a radio stream.
    static let segmentOnlyExtensions = [".ts", ".m4s"]
    /// Endings of HLS segments that may also be a radio stream's own URL (`/live.aac`): an entry
    /// with one of these counts as a segment only in a media playlist (see ``isMediaPlaylist``).
    static let segmentLikeExtensions = [".aac", ".mp4", ".m4a", ".fmp4", ".mp3"]

    // MARK: Recognising a playlist

    /// Whether a reply is a playlist rather than a stream, from its `Content-Type` (if any), its
    /// URL and the first bytes of its body (as many as have arrived; none is fine).
    ///
    /// Audio is never taken for a playlist: bytes that are not text (control bytes, or the start of
    /// an MP3, AAC, Ogg or FLAC stream) answer `false` whatever the content type or URL say.
    /// Otherwise a playlist content type, a URL path ending in `.pls`, `.m3u` or `.m3u8`, a body
    /// that starts (after an optional UTF-8 byte order mark and white space) with `[playlist]` or
    /// `#EXTM3U`, or a text body whose lines are all comments or `http(s)://` URLs, answer `true`.
    public static func isPlaylist(contentType: String?, url: String, firstBytes: some Collection<UInt8>) -> Bool {
        let bytes = Array(firstBytes.prefix(64 * 1024))
        if Self.looksLikeAudio(bytes) || !Self.isText(bytes) { return false }
        if let contentType, Self.playlistContentTypes.contains(Self.mediaType(contentType)) { return true }
        let path = Self.path(of: url).lowercased()
        if Self.playlistExtensions.contains(where: { path.hasSuffix($0) }) { return true }
        let text = Self.decode(bytes)
        let start = text.drop(while: { $0.isWhitespace }).prefix(10).lowercased()
        if start.hasPrefix("[playlist]") || start.hasPrefix("#extm3u") { return true }
        return Self.isListOfURLs(text, complete: false)
    }

    // MARK: Reading a playlist

    /// The stream URLs a playlist lists, in its order, as absolute `http`/`https` URLs.
    ///
    /// - PLS (first line `[playlist]`): the `FileN=` entries, sorted by N (keys are
    ///   case-insensitive; `NumberOfEntries` is not trusted; of two entries with the same N the
    ///   first is kept).
    /// - M3U and M3U8 (anything else): every line that is neither empty nor a `#` comment.
    ///
    /// The body may be UTF-8 (with or without a byte order mark) or Latin-1, with LF, CRLF or CR
    /// line ends. Relative entries are resolved against `baseURL` (the playlist's own URL, after
    /// redirects); entries that are not `http`/`https` (`rtsp://`, `mms://`, local paths) are
    /// skipped.
    ///
    /// - Throws: ``PlaylistError/hls`` for an HLS playlist (`#EXT-X-…` tags, or `.ts`/`.m4s`
    ///   segments, or a media playlist of timed `.aac`/`.mp4`… segments);
    ///   ``PlaylistError/tooLarge`` for a body over ``maxBytes`` or more than ``maxEntries``
    ///   entries; ``PlaylistError/notText`` for binary data; ``PlaylistError/empty`` when no
    ///   `http`/`https` URL is left.
    public static func parse(_ body: some Collection<UInt8>, baseURL: String) throws(PlaylistError) -> [String] {
        let bytes = Array(body.prefix(Self.maxBytes + 1))
        guard bytes.count <= Self.maxBytes else { throw .tooLarge }
        guard Self.isText(bytes) else { throw .notText }
        let lines = Self.lines(Self.decode(bytes))
        let base = URL(string: baseURL)
        let isPLS = lines.first(where: { !$0.isEmpty })?.lowercased() == "[playlist]"
        let entries = isPLS ? Self.plsEntries(lines) : try Self.m3uEntries(lines)
        guard entries.count <= Self.maxEntries else { throw .tooLarge }
        let urls = entries.compactMap { Self.resolve($0, against: base) }
        guard !urls.isEmpty else { throw .empty }
        return urls
    }

    /// PLS: `FileN=URL` entries, sorted by N.
    static func plsEntries(_ lines: [Substring]) -> [Substring] {
        var byNumber: [(number: Int, entry: Substring)] = []
        var seen = Set<Int>()
        for line in lines {
            guard let equals = line.firstIndex(of: "=") else { continue }
            let key = line[..<equals].trimmingCharacters(in: .whitespaces).lowercased()
            guard key.hasPrefix("file"), let number = Int(key.dropFirst(4)), number >= 0 else { continue }
            let value = line[line.index(after: equals)...].trimmingCharacters(in: .whitespaces)
            guard !value.isEmpty, seen.insert(number).inserted else { continue }
            byNumber.append((number, Substring(value)))
            if byNumber.count > Self.maxEntries { break }
        }
        return byNumber.sorted { $0.number < $1.number }.map(\.entry)
    }

    /// M3U/M3U8: non-empty, non-comment lines; throws ``PlaylistError/hls`` for an HLS playlist.
    static func m3uEntries(_ lines: [Substring]) throws(PlaylistError) -> [Substring] {
        var entries: [Substring] = []
        var durations: [Double?] = []
        var pendingDuration: Double?
        for line in lines where !line.isEmpty {
            if line.hasPrefix("#") {
                let upper = line.uppercased()
                if Self.hlsTags.contains(where: { upper.hasPrefix($0) }) { throw .hls }
                if upper.hasPrefix("#EXTINF:") {
                    let value = line.dropFirst("#EXTINF:".count).prefix { $0 != "," }
                    pendingDuration = Double(value.trimmingCharacters(in: .whitespaces))
                }
                continue
            }
            let path = Self.path(of: String(line)).lowercased()
            if Self.segmentOnlyExtensions.contains(where: { path.hasSuffix($0) }) { throw .hls }
            entries.append(line)
            durations.append(pendingDuration)
            pendingDuration = nil
            if entries.count > Self.maxEntries { break }
        }
        if Self.isMediaPlaylist(entries, durations) { throw .hls }
        return entries
    }

    /// A media playlist of segments: at least two entries, every one ending like a segment
    /// (`.aac`, `.mp4`…) and announced by `#EXTINF` with a positive duration. A radio's own M3U
    /// marks its streams `#EXTINF:-1` (endless), or gives no duration.
    static func isMediaPlaylist(_ entries: [Substring], _ durations: [Double?]) -> Bool {
        guard entries.count >= 2 else { return false }
        return zip(entries, durations).allSatisfy { entry, duration in
            let path = Self.path(of: String(entry)).lowercased()
            guard let duration, duration > 0 else { return false }
            return Self.segmentLikeExtensions.contains { path.hasSuffix($0) }
        }
    }

    /// The absolute `http`/`https` URL an entry names, or `nil` (another scheme, not a URL).
    static func resolve(_ entry: Substring, against base: URL?) -> String? {
        // A URL has no white space or control characters inside (a line of prose is not an entry).
        guard !entry.contains(where: { $0.isWhitespace || $0.unicodeScalars.contains { $0.value < 0x20 || $0.value == 0x7F } }),
              !entry.contains(where: { "<>\"{}|\\^`".contains($0) }) else { return nil }
        // Non-ASCII characters (a Latin-1 or UTF-8 "é" in a path) are sent as UTF-8, percent-encoded.
        var text = ""
        for scalar in entry.unicodeScalars {
            if scalar.isASCII {
                text.unicodeScalars.append(scalar)
            } else {
                for byte in String(scalar).utf8 { text += "%" + String(byte, radix: 16, uppercase: true) }
            }
        }
        let url: URL?
        if Self.hasScheme(text) {
            url = URL(string: text)
        } else if let base {
            url = URL(string: text, relativeTo: base)?.absoluteURL
        } else {
            url = nil
        }
        guard let url, let scheme = url.scheme?.lowercased(), scheme == "http" || scheme == "https",
              let host = url.host, !host.isEmpty else { return nil }
        return url.absoluteString
    }

    // MARK: Text

    /// Whether `bytes` start like an audio stream: an ID3 tag, an MPEG audio or ADTS frame sync,
    /// an Ogg page or a FLAC stream.
    static func looksLikeAudio(_ bytes: [UInt8]) -> Bool {
        func starts(_ prefix: String) -> Bool { bytes.starts(with: prefix.utf8) }
        if starts("ID3") || starts("OggS") || starts("fLaC") { return true }
        return bytes.count >= 2 && bytes[0] == 0xFF && bytes[1] & 0xE0 == 0xE0
    }

    /// Whether `bytes` can be text: no control bytes other than tab, line feed, carriage return
    /// and form feed (Latin-1 and UTF-8 both pass).
    static func isText(_ bytes: [UInt8]) -> Bool {
        !bytes.contains { ($0 < 0x20 && $0 != 0x09 && $0 != 0x0A && $0 != 0x0D && $0 != 0x0C) || $0 == 0x7F }
    }

    /// UTF-8 (without its byte order mark) if the bytes are valid UTF-8, Latin-1 otherwise. A body
    /// cut in the middle of a UTF-8 character still reads as UTF-8.
    static func decode(_ bytes: [UInt8]) -> String {
        var body = bytes[...]
        if body.starts(with: [0xEF, 0xBB, 0xBF]) { body = body.dropFirst(3) }
        for cut in 0...min(3, body.count) {
            if let text = String(validating: body.dropLast(cut), as: UTF8.self) { return text }
        }
        var scalars = String.UnicodeScalarView()
        scalars.append(contentsOf: body.map { Unicode.Scalar($0) })
        return String(scalars)
    }

    /// The lines of `text` (LF, CRLF or CR ends), trimmed of white space.
    static func lines(_ text: String) -> [Substring] {
        text.split(omittingEmptySubsequences: false, whereSeparator: { $0 == "\n" || $0 == "\r" || $0 == "\r\n" })
            .map { Substring($0.trimmingCharacters(in: .whitespaces)) }
    }

    /// Whether every line of `text` is empty, a `#` comment or an `http(s)://` URL, and one at
    /// least is a URL. With `complete: false` the text may be cut anywhere: its last line, if
    /// unterminated, needs only to start like one.
    static func isListOfURLs(_ text: String, complete: Bool) -> Bool {
        var lines = Self.lines(text)
        let terminated = text.last.map { $0 == "\n" || $0 == "\r" || $0 == "\r\n" } ?? true
        var partial: Substring?
        if !complete && !terminated { partial = lines.popLast() }
        var urls = 0
        for line in lines where !line.isEmpty && !line.hasPrefix("#") {
            let lower = line.lowercased()
            guard lower.hasPrefix("http://") || lower.hasPrefix("https://"),
                  !line.contains(where: { $0.isWhitespace }) else { return false }
            urls += 1
        }
        if let partial, !partial.isEmpty, !partial.hasPrefix("#") {
            let lower = partial.lowercased()
            let isURL = (lower.hasPrefix("http://") || lower.hasPrefix("https://")) && !partial.contains(where: { $0.isWhitespace })
            guard isURL || "https://".hasPrefix(lower) || "http://".hasPrefix(lower) else { return false }
            if isURL { urls += 1 }
        }
        return urls > 0
    }

    // MARK: URLs

    /// `type/subtype` of a content type, lowercased, without parameters.
    static func mediaType(_ contentType: String) -> String {
        let type = contentType.split(separator: ";", maxSplits: 1, omittingEmptySubsequences: false).first ?? ""
        return type.trimmingCharacters(in: .whitespaces).lowercased()
    }

    /// The path of a URL or relative reference: without scheme, host, query and fragment.
    static func path(of url: String) -> String {
        var rest = Substring(url)
        if let end = rest.firstIndex(where: { $0 == "?" || $0 == "#" }) { rest = rest[..<end] }
        if let scheme = rest.range(of: "://") { rest = rest[scheme.upperBound...].drop(while: { $0 != "/" }) }
        return String(rest)
    }

    /// Whether `text` starts with a URL scheme (`letter *(letter / digit / "+" / "-" / ".") ":"`).
    /// Drive letters (`C:\…`) have one letter and are not schemes.
    static func hasScheme(_ text: String) -> Bool {
        guard let colon = text.firstIndex(of: ":") else { return false }
        let scheme = text[..<colon]
        guard scheme.count >= 2, let first = scheme.first, first.isASCII, first.isLetter else { return false }
        return scheme.allSatisfy { $0.isASCII && ($0.isLetter || $0.isNumber || "+-.".contains($0)) }
    }
}

/// A playlist Casty cannot take its stream from, and what to do instead.
public enum PlaylistError: Error, Equatable, Sendable, CustomStringConvertible {
    /// An HLS playlist: segments of one stream, not a list of streams.
    case hls
    /// No `http`/`https` stream URL in the playlist.
    case empty
    /// More than ``Playlist/maxBytes`` of body, or more than ``Playlist/maxEntries`` entries.
    case tooLarge
    /// Binary data, not a text playlist.
    case notText

    /// What is wrong, and what the user can do.
    public var message: String {
        switch self {
        case .hls:
            return "this is an HLS playlist (segments), not an internet radio stream; Casty relays ICY/HTTP streams: give the stream URL itself"
        case .empty:
            return "the playlist lists no http:// or https:// stream URL; give the stream URL itself"
        case .tooLarge:
            return "the playlist is larger than \(Playlist.maxBytes / 1024 / 1024) MiB or lists more than \(Playlist.maxEntries) entries, which no radio's playlist does; give the stream URL itself"
        case .notText:
            return "the playlist is not text (binary data); give the stream URL itself, or a .pls, .m3u or .m3u8 playlist"
        }
    }

    public var description: String { self.message }
}
