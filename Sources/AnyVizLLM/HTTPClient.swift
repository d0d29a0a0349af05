import CCurl
import Foundation

/// One HTTP response. Header names are lower-cased (HTTP names are case-insensitive); when a
/// header repeats, the last value wins. For `download`, `body` is empty on success (the bytes
/// are in the file) and holds the first bytes of the error page otherwise.
public struct HTTPResponse: Sendable {
    public var status: Int
    public var body: Data
    public var headers: [String: String]
    /// Bytes of body received (written to the file for `download`).
    public var bytesReceived: Int

    public init(status: Int, body: Data, headers: [String: String], bytesReceived: Int? = nil) {
        self.status = status
        self.body = body
        self.headers = headers
        self.bytesReceived = bytesReceived ?? body.count
    }

    public func header(_ name: String) -> String? { headers[name.lowercased()] }
    public var isSuccess: Bool { (200..<300).contains(status) }
}

/// Failures below HTTP (no status line): the provider layer maps them to `LLMError`, the
/// `fetch` service reports `userMessage` as is.
public enum HTTPClientError: Error, Sendable, Equatable {
    /// The whole request (connect + transfer) took longer than the timeout.
    case timeout(seconds: Double)
    /// The `CancellationFlag` was set (kernel interrupt).
    case cancelled
    /// DNS, connection refused, TLS, reset... with libcurl's explanation.
    case transport(String)
    /// The download target could not be written.
    case file(String)
    /// A download passed `limitBytes` (counted after decompression) and was stopped.
    case tooLarge(limitBytes: Int)
    /// A download (or one of its redirects) led to a loopback/private address although the
    /// URL's own host is not one.
    case refusedAddress(String)
    /// Only http and https URLs (and redirects to them) are fetched.
    case unsupportedScheme(String)

    public var userMessage: String {
        switch self {
        case .timeout(let s):
            return "The request timed out after \(formatSeconds(s)). Check the network or raise the timeout."
        case .cancelled:
            return "The request was cancelled."
        case .transport(let why):
            return "The request failed before any answer arrived: \(why). Check the URL and the network."
        case .file(let why):
            return "The download could not be saved: \(why). Check that the folder exists and is writable."
        case .tooLarge(let limit):
            return "The download was stopped at the limit of \(formatBytes(limit)) (counting decompressed bytes). Download the file yourself and %load the local copy, or raise ANYVIZ_MAX_DOWNLOAD_MB."
        case .refusedAddress(let address):
            return "The download was refused: it led to the local or private network address \(address), and the URL's own host is not local (a redirect or DNS answer pointing inside the network). Use a URL on that host directly, or set ANYVIZ_ALLOW_PRIVATE_REDIRECTS=1 if this is intended."
        case .unsupportedScheme(let scheme):
            return "Only http:// and https:// URLs can be downloaded (this one is \(scheme)://, or redirects there). Download the file yourself and %load the local copy."
        }
    }
}

func formatBytes(_ bytes: Int) -> String {
    bytes % (1 << 20) == 0 ? "\(bytes >> 20) MB" : "\(bytes) bytes"
}

/// How much a download may write: `ANYVIZ_MAX_DOWNLOAD_MB` (default 1024), counted after
/// content decoding so a small compressed answer cannot expand past it.
enum DownloadLimit {
    static let defaultMB = 1024

    static func bytes(environment: [String: String] = ProcessInfo.processInfo.environment) -> Int {
        guard let raw = environment["ANYVIZ_MAX_DOWNLOAD_MB"], let mb = Double(raw.trimmingCharacters(in: .whitespaces)),
              mb > 0, mb <= Double(1 << 30) else { return defaultMB << 20 }
        return Int(mb * Double(1 << 20))
    }
}

func formatSeconds(_ s: Double) -> String {
    s == s.rounded() ? "\(Int(s)) s" : String(format: "%.1f s", s)
}

/// libcurl must be initialised once per process before any thread makes a handle; a Swift
/// global `let` is initialised lazily and exactly once, thread-safely.
private let curlReady: Bool = {
    curl_global_init(3 /* CURL_GLOBAL_DEFAULT = SSL | WIN32 */) == CURLE_OK
}()

/// State shared with the C callbacks of one transfer (reached through an opaque pointer).
private final class Transfer {
    let cancellation: CancellationFlag
    var body = Data()
    var file: UnsafeMutablePointer<FILE>?
    var headers: [String: String] = [:]
    var bytes = 0
    var fileError: String?
    /// Body bytes allowed (decoded); past it the write callback stops the transfer.
    var maxBytes = Int.max
    var exceeded = false
    /// Checked for every connection libcurl opens; nil: no check (LLM calls to a set URL).
    var policy: AddressPolicy?
    /// What the policy refused: an address, or a redirect target's host.
    var refusedAddress: String?
    /// The URL being fetched, followed through redirects (resolves relative `Location`s).
    var currentURL = ""
    var status = 0

    init(cancellation: CancellationFlag) { self.cancellation = cancellation }
}

/// Blocking HTTP over libcurl, one easy handle per request, safe to use from any thread.
///
/// Each request runs libcurl's multi loop in 50 ms slices on the calling thread so the
/// `CancellationFlag` is noticed quickly even while the server sends nothing (libcurl's own
/// progress callback may be called only once a second when a connection is idle).
public final class HTTPClient: Sendable {
    let userAgent: String

    public init(userAgent: String = "AnyViz/0.1 (+libcurl)") {
        self.userAgent = userAgent
    }

    /// POST `body` and return whatever status came back (4xx/5xx are not errors here: the
    /// caller decides about retries). Throws `HTTPClientError` when no response arrived.
    func post(url: String, headers: [String: String], body: Data, timeout: Double,
                     cancellation: CancellationFlag) throws -> HTTPResponse {
        try perform(url: url, headers: headers, body: body, downloadPath: nil,
                    followRedirects: false, timeout: timeout, cancellation: cancellation)
    }

    /// GET `url` into the file at `path` (redirects followed; written to a temporary name and
    /// renamed at the end, so a failed, cancelled or oversized download never leaves a file).
    /// A non-2xx status returns normally with the start of the error page in `body` and no file.
    ///
    /// Only http/https; at most `maxBytes` decoded bytes (default `DownloadLimit`); no
    /// connection to a loopback/private address unless the URL's own host is one (`AddressPolicy`).
    public func download(url: String, to path: String, timeout: Double, cancellation: CancellationFlag,
                         maxBytes: Int? = nil,
                         environment: [String: String] = ProcessInfo.processInfo.environment) throws -> HTTPResponse {
        guard let parts = URLParts(url) else {
            throw HTTPClientError.transport("\(url) is not a valid URL")
        }
        guard ["http", "https"].contains(parts.scheme) else { throw HTTPClientError.unsupportedScheme(parts.scheme) }
        let policy = try AddressPolicy.forDownload(of: url, environment: environment, cancellation: cancellation)
        return try download(url: url, to: path, timeout: timeout, cancellation: cancellation,
                            maxBytes: maxBytes ?? DownloadLimit.bytes(environment: environment), policy: policy)
    }

    /// A download with the address policy already decided.
    func download(url: String, to path: String, timeout: Double, cancellation: CancellationFlag,
                  maxBytes: Int, policy: AddressPolicy) throws -> HTTPResponse {
        try perform(url: url, headers: [:], body: nil, downloadPath: path, followRedirects: true,
                    timeout: timeout, cancellation: cancellation, maxBytes: maxBytes, policy: policy)
    }

    /// Loopback hosts plus whatever the environment already exempts from proxying.
    static let noProxy: String = {
        let env = ProcessInfo.processInfo.environment
        let user = env["no_proxy"] ?? env["NO_PROXY"] ?? ""
        if user.trimmingCharacters(in: .whitespaces) == "*" { return "*" }
        return (["localhost", "127.0.0.1", "::1"] + [user]).filter { !$0.isEmpty }.joined(separator: ",")
    }()

    // MARK: - libcurl

    /// One transfer: the handle's options and callbacks, the run, then the answer or the most
    /// specific error. Downloads go to a `.anyviz-part` file renamed only on success.
    private func perform(url: String, headers: [String: String], body: Data?, downloadPath: String?,
                         followRedirects: Bool, timeout: Double, cancellation: CancellationFlag,
                         maxBytes: Int? = nil, policy: AddressPolicy? = nil) throws -> HTTPResponse {
        guard curlReady else { throw HTTPClientError.transport("libcurl could not be initialised") }
        if cancellation.isCancelled { throw HTTPClientError.cancelled }
        guard let easy = curl_easy_init() else {
            throw HTTPClientError.transport("libcurl could not create a handle")
        }
        defer { curl_easy_cleanup(easy) }

        let transfer = Transfer(cancellation: cancellation)
        transfer.policy = policy
        transfer.currentURL = url
        if let maxBytes { transfer.maxBytes = maxBytes }
        let partPath = downloadPath.map { $0 + ".anyviz-part" }
        if let partPath {
            guard let f = fopen(partPath, "wb") else {
                throw HTTPClientError.file("cannot create \(partPath): \(String(cString: strerror(errno)))")
            }
            transfer.file = f
        }
        var keepPart = false
        defer {
            if let f = transfer.file { fclose(f) }
            if let partPath, !keepPart { unlink(partPath) }
        }

        let errorBuffer = UnsafeMutablePointer<CChar>.allocate(capacity: Int(CURL_ERROR_SIZE) + 1)
        errorBuffer.initialize(repeating: 0, count: Int(CURL_ERROR_SIZE) + 1)
        defer { errorBuffer.deallocate() }
        setOptions(easy, url: url, timeout: timeout, followRedirects: followRedirects, errorBuffer: errorBuffer)
        Self.installCallbacks(easy, transfer: transfer)
        if let maxBytes {
            // Refused at once when the announced length is already over (compressed or not).
            _ = anyviz_curl_setopt_off(easy, CURLOPT_MAXFILESIZE_LARGE, curl_off_t(maxBytes))
        }
        let headerList = Self.headerList(headers, hasBody: body != nil)
        defer { curl_slist_free_all(headerList) }
        if headerList != nil { _ = anyviz_curl_setopt_slist(easy, CURLOPT_HTTPHEADER, headerList) }

        let code = try run(easy, body: body, cancellation: cancellation)
        guard code == CURLE_OK else {
            throw Self.failure(code, of: transfer, detail: String(cString: errorBuffer), timeout: timeout)
        }
        var status = 0
        _ = anyviz_curl_getinfo_long(easy, CURLINFO_RESPONSE_CODE, &status)
        var response = HTTPResponse(status: status, body: transfer.body, headers: transfer.headers,
                                    bytesReceived: transfer.bytes)
        if let partPath, let downloadPath, let f = transfer.file {
            transfer.file = nil
            if fclose(f) != 0 { throw HTTPClientError.file(String(cString: strerror(errno))) }
            if response.isSuccess {
                if rename(partPath, downloadPath) != 0 {
                    throw HTTPClientError.file("cannot move the download to \(downloadPath): \(String(cString: strerror(errno)))")
                }
                keepPart = true  // it was renamed: nothing left to delete
            } else {
                response.body = (FileManager.default.contents(atPath: partPath) ?? Data()).prefix(2048)
            }
        }
        return response
    }

    private func setOptions(_ easy: UnsafeMutableRawPointer, url: String, timeout: Double, followRedirects: Bool,
                            errorBuffer: UnsafeMutablePointer<CChar>) {
        let timeoutMs = max(1, Int(timeout * 1000))
        _ = anyviz_curl_setopt_string(easy, CURLOPT_URL, url)
        _ = anyviz_curl_setopt_long(easy, CURLOPT_NOSIGNAL, 1)  // threads: no SIGALRM for DNS timeouts
        _ = anyviz_curl_setopt_long(easy, CURLOPT_TIMEOUT_MS, timeoutMs)
        _ = anyviz_curl_setopt_long(easy, CURLOPT_CONNECTTIMEOUT_MS, min(timeoutMs, 15_000))
        _ = anyviz_curl_setopt_string(easy, CURLOPT_USERAGENT, userAgent)
        _ = anyviz_curl_setopt_string(easy, CURLOPT_ACCEPT_ENCODING, "")  // any encoding libcurl decodes
        // Only web URLs: a `%load file:///etc/...` or `gopher://` must not go through here.
        _ = anyviz_curl_setopt_string(easy, CURLOPT_PROTOCOLS_STR, "http,https")
        _ = anyviz_curl_setopt_string(easy, CURLOPT_REDIR_PROTOCOLS_STR, "http,https")
        _ = anyviz_curl_setopt_long(easy, CURLOPT_FOLLOWLOCATION, followRedirects ? 1 : 0)
        _ = anyviz_curl_setopt_long(easy, CURLOPT_MAXREDIRS, 10)
        _ = anyviz_curl_setopt_pointer(easy, CURLOPT_ERRORBUFFER, errorBuffer)
        // libcurl honours http_proxy/https_proxy; loopback (local LLM servers, test fakes) must
        // never go through a proxy. Setting NOPROXY replaces no_proxy, so keep the user's list.
        _ = anyviz_curl_setopt_string(easy, CURLOPT_NOPROXY, Self.noProxy)
    }

    /// The C callbacks that fill `transfer`: body (memory or file, within the byte limit),
    /// headers (and the redirect check), cancellation, and the address check of each socket.
    private static func installCallbacks(_ easy: UnsafeMutableRawPointer, transfer: Transfer) {
        let opaque = Unmanaged.passUnretained(transfer).toOpaque()
        _ = anyviz_curl_setopt_write(easy) { data, size, count, user in
            let t = Unmanaged<Transfer>.fromOpaque(user!).takeUnretainedValue()
            let n = size * count
            if t.cancellation.isCancelled { return 0 }
            if n == 0 { return 0 }
            if n > t.maxBytes - t.bytes {
                t.exceeded = true
                return 0
            }
            if let f = t.file {
                if fwrite(data, 1, n, f) != n {
                    t.fileError = String(cString: strerror(errno))
                    return 0
                }
            } else if let data {
                data.withMemoryRebound(to: UInt8.self, capacity: n) { t.body.append($0, count: n) }
            }
            t.bytes += n
            return n
        }
        _ = anyviz_curl_setopt_pointer(easy, CURLOPT_WRITEDATA, opaque)
        _ = anyviz_curl_setopt_header(easy) { data, size, count, user in
            let t = Unmanaged<Transfer>.fromOpaque(user!).takeUnretainedValue()
            let n = size * count
            guard let data, n > 0 else { return n }
            let line = data.withMemoryRebound(to: UInt8.self, capacity: n) {
                String(decoding: UnsafeBufferPointer(start: $0, count: n), as: UTF8.self)
            }
            if line.hasPrefix("HTTP/") {
                t.headers = [:]  // a new response (redirect, 100-continue): forget the previous one
                t.status = line.split(separator: " ").dropFirst().first.flatMap { Int($0) } ?? 0
            } else if let colon = line.firstIndex(of: ":") {
                let name = line[..<colon].trimmingCharacters(in: .whitespaces).lowercased()
                let value = line[line.index(after: colon)...].trimmingCharacters(in: .whitespacesAndNewlines)
                if !name.isEmpty { t.headers[name] = value }
                if name == "location", (300..<400).contains(t.status), !HTTPClient.redirectAllowed(value, transfer: t) {
                    return 0  // stops the transfer before libcurl follows
                }
            }
            return n
        }
        _ = anyviz_curl_setopt_pointer(easy, CURLOPT_HEADERDATA, opaque)
        _ = anyviz_curl_setopt_long(easy, CURLOPT_NOPROGRESS, 0)
        _ = anyviz_curl_setopt_xfer(easy) { user, _, _, _, _ in
            Unmanaged<Transfer>.fromOpaque(user!).takeUnretainedValue().cancellation.isCancelled ? 1 : 0
        }
        _ = anyviz_curl_setopt_pointer(easy, CURLOPT_XFERINFODATA, opaque)
        guard transfer.policy != nil else { return }
        _ = anyviz_curl_setopt_opensocket(easy) { user, _, address in
            let t = Unmanaged<Transfer>.fromOpaque(user!).takeUnretainedValue()
            guard let address else { return CURL_SOCKET_BAD }
            if let policy = t.policy, let ip = IPAddress(socketAddress: anyviz_curl_sockaddr(address)),
               !policy.permits(ip) {
                t.refusedAddress = "\(ip)"
                return CURL_SOCKET_BAD
            }
            return socket(address.pointee.family, address.pointee.socktype, address.pointee.protocol)
        }
        _ = anyviz_curl_setopt_pointer(easy, CURLOPT_OPENSOCKETDATA, opaque)
    }

    /// The request headers in a stable order; a POST also turns off the 100-continue round trip.
    private static func headerList(_ headers: [String: String], hasBody: Bool) -> UnsafeMutablePointer<curl_slist>? {
        var list: UnsafeMutablePointer<curl_slist>? = nil
        for (name, value) in headers.sorted(by: { $0.key < $1.key }) {
            list = curl_slist_append(list, "\(name): \(value)")
        }
        if hasBody { list = curl_slist_append(list, "Expect:") }
        return list
    }

    /// Runs the transfer, as a POST of `body` when there is one.
    private func run(_ easy: UnsafeMutableRawPointer, body: Data?, cancellation: CancellationFlag) throws -> CURLcode {
        guard let body else { return try runMulti(easy, cancellation: cancellation) }
        return try body.withUnsafeBytes { raw -> CURLcode in
            _ = anyviz_curl_setopt_long(easy, CURLOPT_POST, 1)
            _ = anyviz_curl_setopt_off(easy, CURLOPT_POSTFIELDSIZE_LARGE, curl_off_t(raw.count))
            // POSTFIELDS is not copied by libcurl: the bytes stay alive for this closure. An
            // empty body still needs a valid pointer.
            let bytes = raw.baseAddress ?? UnsafeRawPointer(("" as StaticString).utf8Start)
            _ = anyviz_curl_setopt_pointer(easy, CURLOPT_POSTFIELDS, UnsafeMutableRawPointer(mutating: bytes))
            return try runMulti(easy, cancellation: cancellation)
        }
    }

    /// Why a transfer that libcurl ended with `code` failed, the most specific cause first
    /// (a callback's reason before libcurl's generic code); `detail` is libcurl's error text.
    private static func failure(_ code: CURLcode, of transfer: Transfer, detail: String, timeout: Double) -> HTTPClientError {
        if transfer.cancellation.isCancelled || code == CURLE_ABORTED_BY_CALLBACK { return .cancelled }
        if transfer.exceeded || code == CURLE_FILESIZE_EXCEEDED { return .tooLarge(limitBytes: transfer.maxBytes) }
        if let refused = transfer.refusedAddress { return .refusedAddress(refused) }
        if code == CURLE_UNSUPPORTED_PROTOCOL {
            return .unsupportedScheme(detail.split(separator: "\"").dropFirst().first.map(String.init) ?? "that")
        }
        if code == CURLE_OPERATION_TIMEDOUT { return .timeout(seconds: timeout) }
        if let fileError = transfer.fileError { return .file(fileError) }
        let summary = String(cString: curl_easy_strerror(code))
        return .transport(detail.isEmpty ? summary : "\(summary): \(detail)")
    }

    /// A redirect's target, checked by name before libcurl follows it. Direct connections are
    /// also checked by address when opened; this catches what a proxy would connect to for us
    /// (numeric private addresses and `localhost` names; names the proxy resolves are its own).
    fileprivate static func redirectAllowed(_ location: String, transfer t: Transfer) -> Bool {
        guard let policy = t.policy, let target = URLParts(location, base: t.currentURL) else { return true }
        t.currentURL = target.url
        if policy.allowPrivate { return true }
        let host = target.host.lowercased().trimmingCharacters(in: CharacterSet(charactersIn: "."))
        if let address = IPAddress(host), !policy.permits(address) {
            t.refusedAddress = "\(address)"
            return false
        }
        if host == "localhost" || host.hasSuffix(".localhost") {
            t.refusedAddress = host
            return false
        }
        return true
    }

    /// Drive one easy handle to completion in 50 ms slices, checking the flag between slices.
    private func runMulti(_ easy: UnsafeMutableRawPointer, cancellation: CancellationFlag) throws -> CURLcode {
        guard let multi = curl_multi_init() else {
            throw HTTPClientError.transport("libcurl could not create a multi handle")
        }
        defer { curl_multi_cleanup(multi) }
        guard curl_multi_add_handle(multi, easy) == CURLM_OK else {
            throw HTTPClientError.transport("libcurl could not start the transfer")
        }
        defer { curl_multi_remove_handle(multi, easy) }
        var running: Int32 = 1
        while true {
            let mc = curl_multi_perform(multi, &running)
            if mc != CURLM_OK {
                throw HTTPClientError.transport(String(cString: curl_multi_strerror(mc)))
            }
            if running == 0 { break }
            if cancellation.isCancelled { throw HTTPClientError.cancelled }
            _ = curl_multi_poll(multi, nil, 0, 50, nil)
        }
        var left: Int32 = 0
        var result = CURLE_OK
        while let msg = curl_multi_info_read(multi, &left) {
            if msg.pointee.msg == CURLMSG_DONE { result = msg.pointee.data.result }
        }
        return result
    }
}
