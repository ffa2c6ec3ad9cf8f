import CCurl
import Foundation

/// A short GET whose body does not matter, for control requests such as loss reports.
public enum CurlRequest {
    /// GETs `url` on a thread of its own, within `timeout`, and hands the HTTP status (or `nil`
    /// when there was none) to `completion` on that thread.
    public static func get(_ url: String, timeout: Duration = .seconds(2), completion: @escaping @Sendable (Int?) -> Void) {
        Thread {
            guard let easy = curl_easy_init() else {
                completion(nil)
                return
            }
            defer { curl_easy_cleanup(easy) }
            casty_curl_easy_setopt_string(easy, CURLOPT_URL, url)
            casty_curl_easy_setopt_long(easy, CURLOPT_NOSIGNAL, 1)
            casty_curl_easy_setopt_long(easy, CURLOPT_TIMEOUT_MS, Int(timeout.milliseconds))
            casty_curl_easy_setopt_data_callback(easy, CURLOPT_WRITEFUNCTION) { _, size, count, _ in size * count }
            guard curl_easy_perform(easy) == CURLE_OK else {
                completion(nil)
                return
            }
            var code = 0
            casty_curl_easy_getinfo_long(easy, CURLINFO_RESPONSE_CODE, &code)
            completion(code)
        }.start()
    }
}

extension CurlRequest {
    /// GETs `url` on the calling thread within `timeout`; returns the body of a 200 answer (at
    /// most 1 MiB), or nil.
    public static func fetchBody(_ url: String, timeout: Duration = .milliseconds(500)) -> Data? {
        guard let easy = curl_easy_init() else { return nil }
        defer { curl_easy_cleanup(easy) }
        let box = BodyBox()
        casty_curl_easy_setopt_string(easy, CURLOPT_URL, url)
        casty_curl_easy_setopt_long(easy, CURLOPT_NOSIGNAL, 1)
        casty_curl_easy_setopt_long(easy, CURLOPT_TIMEOUT_MS, Int(timeout.milliseconds))
        casty_curl_easy_setopt_pointer(easy, CURLOPT_WRITEDATA, Unmanaged.passUnretained(box).toOpaque())
        casty_curl_easy_setopt_data_callback(easy, CURLOPT_WRITEFUNCTION) { data, size, count, userdata in
            let box = Unmanaged<BodyBox>.fromOpaque(userdata!).takeUnretainedValue()
            guard box.data.count + size * count <= 1 << 20, let data else { return 0 }
            box.data.append(UnsafeBufferPointer(start: UnsafeRawPointer(data).assumingMemoryBound(to: UInt8.self), count: size * count))
            return size * count
        }
        let result = withExtendedLifetime(box) { curl_easy_perform(easy) }
        var code = 0
        casty_curl_easy_getinfo_long(easy, CURLINFO_RESPONSE_CODE, &code)
        return result == CURLE_OK && code == 200 ? box.data : nil
    }
}

/// A body being received, reached from libcurl's write callback.
private final class BodyBox {
    var data = Data()
}
