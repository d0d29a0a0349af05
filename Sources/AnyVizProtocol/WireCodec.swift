import Crypto
import Foundation

/// Why an incoming multipart message was refused. Such messages are logged and dropped, never run.
public enum WireError: Error, Equatable, CustomStringConvertible {
    case missingDelimiter
    case tooFewFrames(Int)
    case badSignature
    case missingSignature
    case malformedHeader(String)

    public var description: String {
        switch self {
        case .missingDelimiter: return "no <IDS|MSG> delimiter"
        case .tooFewFrames(let n): return "only \(n) frames after the delimiter (need 5)"
        case .badSignature: return "signature does not match"
        case .missingSignature: return "message is not signed but the kernel has a key"
        case .malformedHeader(let why): return "malformed header: \(why)"
        }
    }
}

/// Turns messages into ZeroMQ frames and back: identities, `<IDS|MSG>`, HMAC-SHA256 signature,
/// header, parent header, metadata, content, buffers.
public struct WireCodec: Sendable {
    public static let delimiter = Data("<IDS|MSG>".utf8)
    /// The HMAC state after the key: copied for every message (copy on write), which saves
    /// hashing the key pads twice per message.
    private let keyedMAC: HMAC<SHA256>?

    /// An empty key disables signing, as the spec allows.
    public init(key: String) {
        keyedMAC = key.isEmpty ? nil : HMAC<SHA256>(key: SymmetricKey(data: Data(key.utf8)))
    }

    public func signature(of parts: [Data]) -> String {
        guard var mac = keyedMAC else { return "" }
        for part in parts { mac.update(data: part) }
        return WireCodec.hex(Data(mac.finalize()))
    }

    public func encode(_ message: Message) -> [Data] {
        let parts = [message.header.data, message.parentHeader, message.metadata, message.content]
        return message.identities + [WireCodec.delimiter, Data(signature(of: parts).utf8)] + parts + message.buffers
    }

    public func decode(_ frames: [Data]) throws -> Message {
        guard let split = frames.firstIndex(of: WireCodec.delimiter) else { throw WireError.missingDelimiter }
        let rest = Array(frames[(split + 1)...])
        guard rest.count >= 5 else { throw WireError.tooFewFrames(rest.count) }
        let parts = Array(rest[1...4])
        if var mac = keyedMAC {
            guard !rest[0].isEmpty else { throw WireError.missingSignature }
            guard let given = WireCodec.hexBytes(rest[0]) else { throw WireError.badSignature }
            // Part by part (no concatenated copy of a large message); swift-crypto compares the
            // MAC in constant time, so timing leaks nothing.
            for part in parts { mac.update(data: part) }
            guard mac.finalize() == given else { throw WireError.badSignature }
        }
        let header: Header
        do {
            header = try JSONDecoder().decode(Header.self, from: parts[0])
        } catch {
            throw WireError.malformedHeader("\(error)")
        }
        for (name, part) in [("parent_header", parts[1]), ("metadata", parts[2]), ("content", parts[3])] {
            guard (try? JSONSerialization.jsonObject(with: part)) is [String: Any] else {
                throw WireError.malformedHeader("\(name) is not a JSON object")
            }
        }
        return Message(identities: Array(frames[..<split]), header: header, parentHeader: parts[1],
                       metadata: parts[2], content: parts[3], buffers: Array(rest.dropFirst(5)), receivedHeader: parts[0])
    }

    private static let hexDigits = Array("0123456789abcdef".utf8)

    /// Lower-case hex, without a formatter per byte (this runs for every message).
    static func hex(_ bytes: Data) -> String {
        var out = [UInt8]()
        out.reserveCapacity(bytes.count * 2)
        for byte in bytes {
            out.append(hexDigits[Int(byte >> 4)])
            out.append(hexDigits[Int(byte & 0x0f)])
        }
        return String(decoding: out, as: UTF8.self)
    }

    private static func hexBytes(_ data: Data) -> Data? {
        guard data.count == 64 else { return nil }
        var out = Data(capacity: 32)
        var iterator = data.makeIterator()
        while let hi = iterator.next(), let lo = iterator.next() {
            guard let h = hexValue(hi), let l = hexValue(lo) else { return nil }
            out.append(h << 4 | l)
        }
        return out
    }

    private static func hexValue(_ c: UInt8) -> UInt8? {
        switch c {
        case 48...57: return c - 48
        case 97...102: return c - 87
        case 65...70: return c - 55
        default: return nil
        }
    }
}
