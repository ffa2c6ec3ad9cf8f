import CastyMedia
import Testing

@Suite struct PlaylistTests {
    static let base = "http://radio.example/listen/station.m3u"

    static func bytes(_ text: String) -> [UInt8] { Array(text.utf8) }

    static func expectError(_ expected: PlaylistError, _ body: [UInt8], sourceLocation: SourceLocation = #_sourceLocation) {
        #expect(throws: expected, sourceLocation: sourceLocation) { _ = try Playlist.parse(body, baseURL: Self.base) }
    }

    // MARK: PLS

    @Test func plsEntriesAreSortedByNumberWithCaseInsensitiveKeys() throws {
        let pls = """
            [playlist]
            NumberOfEntries=2
            File3=http://c.example:8000/live
            Title3=Third
            file1=http://a.example/stream
            FILE2 = https://b.example/stream.mp3
            Length1=-1
            Version=2
            """
        #expect(try Playlist.parse(Self.bytes(pls), baseURL: Self.base) == [
            "http://a.example/stream", "https://b.example/stream.mp3", "http://c.example:8000/live",
        ])
    }

    @Test func plsKeepsTheFirstOfTwoEntriesWithOneNumberAndSkipsOtherSchemes() throws {
        let pls = "[Playlist]\r\nFile1=http://first.example/\r\nFile1=http://second.example/\r\nFile2=mms://old.example/\r\nFile3=/relative/live\r\n"
        #expect(try Playlist.parse(Self.bytes(pls), baseURL: Self.base) == [
            "http://first.example/", "http://radio.example/relative/live",
        ])
    }

    // MARK: M3U and M3U8

    @Test func m3uSkipsCommentsAndResolvesRelativeEntries() throws {
        let m3u = """
            #EXTM3U
            # a comment

            #EXTINF:-1,Station One
            http://one.example:8000/stream
            #EXTINF:-1,Station Two (relative)
            live/high.mp3
            /absolute/low.aac
            //cdn.example/mirror
            rtsp://old.example/stream
            C:\\Music\\song.mp3
            """
        #expect(try Playlist.parse(Self.bytes(m3u), baseURL: Self.base) == [
            "http://one.example:8000/stream",
            "http://radio.example/listen/live/high.mp3",
            "http://radio.example/absolute/low.aac",
            "http://cdn.example/mirror",
        ])
    }

    @Test func m3u8ListingStreamsIsNotHLS() throws {
        let m3u8 = "\u{FEFF}#EXTM3U\n#EXTINF:-1,Radio AAC\nhttps://radio.example/live.aac\n#EXTINF:-1,Radio MP3\nhttps://radio.example/live.mp3\n"
        #expect(try Playlist.parse(Self.bytes(m3u8), baseURL: "https://radio.example/radio.m3u8") == [
            "https://radio.example/live.aac", "https://radio.example/live.mp3",
        ])
    }

    @Test func byteOrderMarkAndCRLFAndCRAreRead() throws {
        let body: [UInt8] = [0xEF, 0xBB, 0xBF] + Self.bytes("[playlist]\r\nFile1=http://a.example/s\r\n")
        #expect(try Playlist.parse(body, baseURL: Self.base) == ["http://a.example/s"])
        let cr = Self.bytes("#EXTM3U\r#EXTINF:-1,X\rhttp://b.example/s\r")
        #expect(try Playlist.parse(cr, baseURL: Self.base) == ["http://b.example/s"])
    }

    @Test func latin1AndUTF8TitlesAndPaths() throws {
        // "#EXTINF:-1,Café" in Latin-1 (0xE9), then a path with a Latin-1 "é".
        let latin1: [UInt8] = Self.bytes("#EXTM3U\n#EXTINF:-1,Caf") + [0xE9] + Self.bytes("\nhttp://a.example/caf") + [0xE9] + Self.bytes("\n")
        let urls = try Playlist.parse(latin1, baseURL: Self.base)
        #expect(urls.count == 1)
        #expect(urls == ["http://a.example/caf%C3%A9"])
        let utf8 = Self.bytes("#EXTM3U\n#EXTINF:-1,Sigur Rós\nhttp://b.example/stream\n")
        #expect(try Playlist.parse(utf8, baseURL: Self.base) == ["http://b.example/stream"])
    }

    // MARK: HLS

    @Test func hlsMasterPlaylistIsRefused() {
        let master = """
            #EXTM3U
            #EXT-X-VERSION:3
            #EXT-X-STREAM-INF:BANDWIDTH=128000,CODECS="mp4a.40.2"
            https://radio.example/hls/128/index.m3u8
            """
        Self.expectError(.hls, Self.bytes(master))
    }

    @Test(arguments: [
        // The usual media playlist.
        "#EXTM3U\n#EXT-X-TARGETDURATION:10\n#EXT-X-MEDIA-SEQUENCE:4711\n#EXTINF:10.0,\nseg4711.ts\n#EXTINF:10.0,\nseg4712.ts\n",
        // No header tags, but MPEG-TS segments.
        "#EXTM3U\n#EXTINF:10,\nhttp://radio.example/a/0001.ts\n",
        // No header tags, timed packed-audio segments.
        "#EXTM3U\n#EXTINF:6.0,\nchunk_1.aac\n#EXTINF:6.0,\nchunk_2.aac\n",
        // Only the media sequence tag.
        "#EXTM3U\n#EXT-X-MEDIA-SEQUENCE:1\nhttp://radio.example/live\n",
        // fMP4 segments.
        "#EXTM3U\n#EXTINF:4,\nhttps://radio.example/s/42.m4s?token=x\n",
    ])
    func hlsMediaPlaylistsAreRefused(_ body: String) {
        Self.expectError(.hls, Self.bytes(body))
    }

    // MARK: Errors

    @Test func emptyAndGarbagePlaylistsListNoStream() {
        Self.expectError(.empty, [])
        Self.expectError(.empty, Self.bytes("#EXTM3U\n#EXTINF:-1,Nothing\n\n"))
        Self.expectError(.empty, Self.bytes("[playlist]\nNumberOfEntries=1\nTitle1=no file\n"))
        Self.expectError(.empty, Self.bytes("<html><body>404 Not Found</body></html>\n"))
        Self.expectError(.empty, Self.bytes("this is not a playlist at all\nnor is this\n"))
        Self.expectError(.empty, Self.bytes("#EXTM3U\nrtsp://a.example/s\nmms://b.example/s\nfile:///music/a.mp3\n"))
    }

    @Test func relativeEntriesNeedABaseURL() throws {
        #expect(throws: PlaylistError.empty) { _ = try Playlist.parse(Self.bytes("live.mp3\n"), baseURL: "") }
        #expect(try Playlist.parse(Self.bytes("live.mp3\n"), baseURL: "https://r.example/x/p.m3u") == ["https://r.example/x/live.mp3"])
    }

    @Test func binaryDataIsNotText() {
        Self.expectError(.notText, [0x49, 0x44, 0x33, 0x03, 0x00, 0x00, 0x00, 0x00, 0x0F, 0x76])
        Self.expectError(.notText, Self.bytes("#EXTM3U\n") + [0x00, 0x01, 0x02])
    }

    @Test func bodiesAndEntryCountsAreBounded() {
        Self.expectError(.tooLarge, [UInt8](repeating: 0x23, count: Playlist.maxBytes + 1))
        let many = (0...Playlist.maxEntries).map { "http://a.example/\($0)\n" }.joined()
        Self.expectError(.tooLarge, Self.bytes(many))
        let manyPLS = "[playlist]\n" + (1...Playlist.maxEntries + 1).map { "File\($0)=http://a.example/\($0)\n" }.joined()
        Self.expectError(.tooLarge, Self.bytes(manyPLS))
        let enough = (1...Playlist.maxEntries).map { "http://a.example/\($0)\n" }.joined()
        #expect((try? Playlist.parse(Self.bytes(enough), baseURL: Self.base))?.count == Playlist.maxEntries)
    }

    @Test func errorMessagesSayWhatToDo() {
        #expect(PlaylistError.hls.message == "this is an HLS playlist (segments), not an internet radio stream; Casty relays ICY/HTTP streams: give the stream URL itself")
        #expect(PlaylistError.empty.message.contains("no http:// or https:// stream URL"))
        #expect(PlaylistError.tooLarge.message.contains("1 MiB"))
        #expect(PlaylistError.tooLarge.message.contains("1000 entries"))
        #expect(PlaylistError.notText.message.contains("not text"))
        for error in [PlaylistError.hls, .empty, .tooLarge, .notText] {
            #expect(error.description == error.message)
            #expect(error.message.contains("give the stream URL itself"))
        }
    }

    // MARK: Recognising a playlist

    @Test(arguments: [
        "audio/x-scpls", "application/pls+xml", "audio/x-mpegurl", "audio/mpegurl", "application/x-mpegurl",
        "application/vnd.apple.mpegurl", "Audio/X-MpegURL; charset=UTF-8",
    ])
    func playlistContentTypes(_ contentType: String) {
        #expect(Playlist.isPlaylist(contentType: contentType, url: "http://r.example/listen", firstBytes: Self.bytes("http://r.example/s\n")))
        #expect(Playlist.isPlaylist(contentType: contentType, url: "http://r.example/listen", firstBytes: []))
    }

    @Test(arguments: [
        "http://r.example/station.pls", "http://r.example/station.M3U", "https://r.example/a/b.m3u8?token=1&x=.mp3",
        "http://r.example/station.m3u#frag",
    ])
    func playlistURLs(_ url: String) {
        #expect(Playlist.isPlaylist(contentType: "text/plain", url: url, firstBytes: []))
        #expect(Playlist.isPlaylist(contentType: nil, url: url, firstBytes: Self.bytes("stream.mp3\n")))
    }

    @Test func playlistBodies() {
        let url = "http://r.example/listen"
        #expect(Playlist.isPlaylist(contentType: "text/plain", url: url, firstBytes: Self.bytes("[playlist]\nFile1=http://a/\n")))
        #expect(Playlist.isPlaylist(contentType: nil, url: url, firstBytes: [0xEF, 0xBB, 0xBF] + Self.bytes(" \r\n#EXTM3U\r\n")))
        #expect(Playlist.isPlaylist(contentType: "application/octet-stream", url: url, firstBytes: Self.bytes("[PLAYLIST]\r\n")))
        #expect(Playlist.isPlaylist(contentType: "text/plain", url: url, firstBytes: Self.bytes("# mirrors\nhttp://a.example/s\nhttps://b.example/s\n")))
        // Cut in the middle of its second line.
        #expect(Playlist.isPlaylist(contentType: "text/plain", url: url, firstBytes: Self.bytes("http://a.example/s\nhtt")))
        #expect(Playlist.isPlaylist(contentType: "text/plain", url: url, firstBytes: Self.bytes("http://a.example/s")))
    }

    @Test func streamsAndOtherTextAreNotPlaylists() {
        let url = "http://r.example/stream"
        #expect(!Playlist.isPlaylist(contentType: "audio/mpeg", url: url, firstBytes: [UInt8]()))
        #expect(!Playlist.isPlaylist(contentType: nil, url: url, firstBytes: [UInt8]()))
        #expect(!Playlist.isPlaylist(contentType: "text/html", url: url, firstBytes: Self.bytes("<html><body>Hello</body></html>")))
        #expect(!Playlist.isPlaylist(contentType: "text/plain", url: url, firstBytes: Self.bytes("http://a.example/s\nand some prose\n")))
        #expect(!Playlist.isPlaylist(contentType: "text/plain", url: url, firstBytes: Self.bytes("#just a comment\n")))
    }

    @Test(arguments: [
        [0xFF, 0xFB, 0x90, 0x64] as [UInt8],                          // MPEG-1 Layer III frame sync, no control byte
        [0xFF, 0xF1, 0x50, 0x80, 0x2E, 0x7F, 0xFC],                    // ADTS
        Array("OggS".utf8) + [0x00, 0x02],                             // Ogg page
        Array("fLaC".utf8) + [0x00, 0x00, 0x00, 0x22],                 // FLAC
        Array("ID3".utf8) + [0x04, 0x00, 0x00, 0x00, 0x00, 0x01, 0x00], // ID3v2 tag
        [0x12, 0x34, 0x0A, 0x00, 0x9C, 0x2B],                          // anything with control bytes
    ])
    func audioIsNeverTakenForAPlaylist(_ audio: [UInt8]) {
        for contentType in [nil, "audio/mpeg", "audio/x-mpegurl"] {
            for url in ["http://r.example/stream", "http://r.example/listen.m3u", "http://r.example/listen.pls"] {
                #expect(!Playlist.isPlaylist(contentType: contentType, url: url, firstBytes: audio))
            }
        }
    }

    @Test func firstBytesMayBeASlice() {
        let body = Self.bytes("xx#EXTM3U\nhttp://a.example/s\n")
        #expect(Playlist.isPlaylist(contentType: nil, url: "http://r.example/", firstBytes: body.dropFirst(2)))
        #expect((try? Playlist.parse(body.dropFirst(2), baseURL: Self.base)) == ["http://a.example/s"])
    }
}
