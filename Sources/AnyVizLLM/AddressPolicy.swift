import CCurl
import Foundation

/// An IPv4 or IPv6 address as raw bytes (4 or 16), parsed with the C library so every form the
/// resolver accepts is understood the same way here.
struct IPAddress: Hashable, Sendable, CustomStringConvertible {
    let bytes: [UInt8]

    init?(bytes: [UInt8]) {
        guard bytes.count == 4 || bytes.count == 16 else { return nil }
        self.bytes = bytes
    }

    /// A numeric address (`127.0.0.1`, `::1`, `[::1]`); nil for names.
    init?(_ text: String) {
        var host = text
        if host.hasPrefix("["), host.hasSuffix("]") { host = String(host.dropFirst().dropLast()) }
        if let zone = host.firstIndex(of: "%") { host = String(host[..<zone]) }
        var v4 = in_addr()
        if inet_pton(AF_INET, host, &v4) == 1 {
            self.bytes = withUnsafeBytes(of: &v4) { Array($0) }
            return
        }
        var v6 = in6_addr()
        if inet_pton(AF_INET6, host, &v6) == 1 {
            self.bytes = withUnsafeBytes(of: &v6) { Array($0) }
            return
        }
        return nil
    }

    var description: String {
        var buffer = [CChar](repeating: 0, count: Int(INET6_ADDRSTRLEN) + 1)
        let family = bytes.count == 4 ? AF_INET : AF_INET6
        _ = bytes.withUnsafeBytes { inet_ntop(family, $0.baseAddress, &buffer, socklen_t(buffer.count)) }
        return String(cString: buffer)
    }

    /// Loopback, private, link-local, unspecified, carrier-grade NAT and unique-local
    /// addresses: what a page on the internet must not make the kernel fetch. IPv4-mapped and
    /// NAT64 IPv6 addresses are judged by the IPv4 address inside.
    var isPrivate: Bool {
        if bytes.count == 4 { return Self.isPrivateV4(bytes) }
        let b = bytes
        if b[0..<10].allSatisfy({ $0 == 0 }) && b[10] == 0xff && b[11] == 0xff {
            return Self.isPrivateV4(Array(b[12..<16]))  // ::ffff:a.b.c.d
        }
        if b[0] == 0x00, b[1] == 0x64, b[2] == 0xff, b[3] == 0x9b, b[4..<12].allSatisfy({ $0 == 0 }) {
            return Self.isPrivateV4(Array(b[12..<16]))  // 64:ff9b::a.b.c.d
        }
        if b[0..<15].allSatisfy({ $0 == 0 }) { return b[15] <= 1 }  // :: and ::1
        if b[0] & 0xfe == 0xfc { return true }  // fc00::/7 unique local
        if b[0] == 0xfe, b[1] & 0xc0 == 0x80 { return true }  // fe80::/10 link-local
        if b[0] == 0xfe, b[1] & 0xc0 == 0xc0 { return true }  // fec0::/10 old site-local
        return false
    }

    private static func isPrivateV4(_ b: [UInt8]) -> Bool {
        switch (b[0], b[1]) {
        case (0, _), (10, _), (127, _): return true
        case (100, 64...127): return true  // carrier-grade NAT, also cloud metadata services
        case (169, 254): return true
        case (172, 16...31): return true
        case (192, 168): return true
        case (255, 255): return b[2] == 255 && b[3] == 255
        default: return false
        }
    }
}

/// Which addresses a download may connect to. A URL whose own host is (or resolves to) a
/// loopback or private address may go anywhere: the user asked for a local resource. Any other
/// URL may not reach such an address, neither through a redirect nor through a name that
/// resolves differently the second time (DNS rebinding): the check runs on the address of
/// every connection libcurl actually opens.
struct AddressPolicy: Sendable {
    /// Private addresses are allowed (the original host is private, or the user opted in).
    var allowPrivate: Bool
    /// Configured proxies the kernel may connect to whatever their address.
    var proxies: Set<IPAddress>

    init(allowPrivate: Bool, proxies: Set<IPAddress> = []) {
        self.allowPrivate = allowPrivate
        self.proxies = proxies
    }

    func permits(_ address: IPAddress) -> Bool {
        allowPrivate || !address.isPrivate || proxies.contains(address)
    }

    /// The policy for a download of `url`: `ANYVIZ_ALLOW_PRIVATE_REDIRECTS=1` turns the check
    /// off; proxies named by the usual environment variables stay reachable.
    static func forDownload(of url: String, environment: [String: String],
                            cancellation: CancellationFlag) throws -> AddressPolicy {
        if ["1", "true", "yes"].contains(environment["ANYVIZ_ALLOW_PRIVATE_REDIRECTS"]?.lowercased() ?? "") {
            return AddressPolicy(allowPrivate: true)
        }
        let host = URLParts(url)?.host ?? ""
        var proxies = Set<IPAddress>()
        for name in ["http_proxy", "HTTP_PROXY", "https_proxy", "HTTPS_PROXY", "all_proxy", "ALL_PROXY"] {
            guard let value = environment[name], !value.isEmpty,
                  let proxyHost = URLParts(value, guessScheme: true)?.host else { continue }
            proxies.formUnion(try resolve(proxyHost, cancellation: cancellation))
        }
        let own = try resolve(host, cancellation: cancellation)
        return AddressPolicy(allowPrivate: own.contains(where: \.isPrivate), proxies: proxies)
    }

    /// The addresses `host` stands for: itself when numeric, loopback for `localhost` names,
    /// else what the resolver says (empty when it cannot say: the connection will fail or go
    /// through a proxy). Runs the lookup on another thread so an interrupt is not held up.
    static func resolve(_ host: String, cancellation: CancellationFlag) throws -> [IPAddress] {
        if host.isEmpty { return [] }
        if let literal = IPAddress(host) { return [literal] }
        let name = host.lowercased().trimmingCharacters(in: CharacterSet(charactersIn: "."))
        if name == "localhost" || name.hasSuffix(".localhost") { return [IPAddress("127.0.0.1")!, IPAddress("::1")!] }
        let lookup = Lookup(host: host)
        let thread = Thread { lookup.run() }
        thread.start()
        while !lookup.done.wait(timeout: 0.05) {
            if cancellation.isCancelled { throw HTTPClientError.cancelled }
        }
        return lookup.addresses
    }
}

/// One getaddrinfo call whose result another thread waits for.
private final class Lookup: @unchecked Sendable {
    let host: String
    let done = Latch()
    private(set) var addresses: [IPAddress] = []

    init(host: String) { self.host = host }

    func run() {
        var hints = addrinfo()
        hints.ai_socktype = Int32(SOCK_STREAM.rawValue)
        var list: UnsafeMutablePointer<addrinfo>?
        var found: [IPAddress] = []
        if getaddrinfo(host, nil, &hints, &list) == 0 {
            var node = list
            while let entry = node {
                if let address = entry.pointee.ai_addr.flatMap({ IPAddress(socketAddress: $0) }) { found.append(address) }
                node = entry.pointee.ai_next
            }
            freeaddrinfo(list)
        }
        addresses = found
        done.open()
    }
}

/// A one-shot signal with a timed wait.
private final class Latch: @unchecked Sendable {
    private let condition = NSCondition()
    private var isOpen = false

    func open() {
        condition.lock(); isOpen = true; condition.broadcast(); condition.unlock()
    }

    func wait(timeout: Double) -> Bool {
        condition.lock(); defer { condition.unlock() }
        if !isOpen { _ = condition.wait(until: Date().addingTimeInterval(timeout)) }
        return isOpen
    }
}

extension IPAddress {
    /// The address of an IPv4 or IPv6 socket address.
    init?(socketAddress: UnsafePointer<sockaddr>) {
        switch Int32(socketAddress.pointee.sa_family) {
        case AF_INET:
            let bytes = socketAddress.withMemoryRebound(to: sockaddr_in.self, capacity: 1) { pointer in
                withUnsafeBytes(of: pointer.pointee.sin_addr) { Array($0) }
            }
            self.init(bytes: bytes)
        case AF_INET6:
            let bytes = socketAddress.withMemoryRebound(to: sockaddr_in6.self, capacity: 1) { pointer in
                withUnsafeBytes(of: pointer.pointee.sin6_addr) { Array($0) }
            }
            self.init(bytes: bytes)
        default:
            return nil
        }
    }
}

/// A URL as libcurl reads it (so the host checked is the host libcurl connects to).
struct URLParts {
    let scheme: String
    let host: String
    /// The whole URL, normalised (a relative reference resolved against its base).
    let url: String

    /// `url` alone, or a `Location` value resolved against the URL that answered with it.
    init?(_ url: String, base: String? = nil, guessScheme: Bool = false) {
        guard let handle = curl_url() else { return nil }
        defer { curl_url_cleanup(handle) }
        let flags: UInt32 = guessScheme ? UInt32(CURLU_GUESS_SCHEME) : 0
        // Any scheme is parsed (so `file:` and `gopher:` get a clear refusal, not "invalid URL").
        let anyScheme = UInt32(CURLU_NON_SUPPORT_SCHEME)
        if let base, curl_url_set(handle, CURLUPART_URL, base, anyScheme) != CURLUE_OK { return nil }
        guard curl_url_set(handle, CURLUPART_URL, url, flags | anyScheme) == CURLUE_OK else { return nil }
        func part(_ which: CURLUPart) -> String? {
            var value: UnsafeMutablePointer<CChar>?
            guard curl_url_get(handle, which, &value, 0) == CURLUE_OK, let value else { return nil }
            defer { curl_free(value) }
            return String(cString: value)
        }
        guard let scheme = part(CURLUPART_SCHEME), let whole = part(CURLUPART_URL) else { return nil }
        self.scheme = scheme.lowercased()
        self.url = whole
        self.host = part(CURLUPART_HOST) ?? ""  // file: URLs have none
    }
}
