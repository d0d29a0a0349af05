import Foundation

/// The sockets of a Jupyter kernel; heartbeat is served by the transport alone.
public enum Channel: String, Sendable, CaseIterable {
    case shell, control, stdin, iopub
}

/// Fresh message ids: a random 128-bit prefix per process and a counter, like ipykernel's. Unique
/// for every message (jupyter_client rejects a repeated signature) without the file reads that
/// Foundation's `UUID()` costs on Linux for each id.
public enum MessageID {
    private static let prefix: String = {
        var generator = SystemRandomNumberGenerator()
        return (0..<2).map { _ in String(generator.next() as UInt64, radix: 16) }.joined(separator: "-")
    }()
    private static let lock = NSLock()
    nonisolated(unsafe) private static var counter: UInt64 = 0

    public static func next() -> String {
        let n = lock.withLock { () -> UInt64 in
            counter &+= 1
            return counter
        }
        return "\(prefix)_\(n)"
    }
}

/// A message header as the messaging spec requires it (all fields always present).
public struct Header: Codable, Sendable, Equatable {
    public var msgID: String
    public var session: String
    public var username: String
    public var date: String
    public var msgType: String
    public var version: String

    /// The messaging spec version this kernel implements, stamped on every header and reported
    /// in kernel_info_reply. 5.4 brought shutdown on control and the IOPub welcome message, which
    /// the kernel has; 5.5's subshells and `supported_features` it does not. Must be >= 5.3:
    /// jupyter_client treats a minor version <= 1 as a legacy kernel and its schema checks fail.
    public static let protocolVersion = "5.4"

    enum CodingKeys: String, CodingKey {
        case msgID = "msg_id", session, username, date, msgType = "msg_type", version
    }

    public init(msgID: String = MessageID.next(), session: String, username: String = "anyviz",
                date: String = Header.timestamp(), msgType: String, version: String = Header.protocolVersion) {
        self.msgID = msgID
        self.session = session
        self.username = username
        self.date = date
        self.msgType = msgType
        self.version = version
    }

    public init(from decoder: Decoder) throws {
        let c = try decoder.container(keyedBy: CodingKeys.self)
        msgID = try c.decode(String.self, forKey: .msgID)
        msgType = try c.decode(String.self, forKey: .msgType)
        session = (try? c.decode(String.self, forKey: .session)) ?? ""
        username = (try? c.decode(String.self, forKey: .username)) ?? ""
        date = (try? c.decode(String.self, forKey: .date)) ?? ""
        version = (try? c.decode(String.self, forKey: .version)) ?? Header.protocolVersion
    }

    /// The header as JSON bytes, written directly (it is on every message, so no Foundation
    /// encoder round trip on the hot path).
    public var data: Data {
        (["msg_id": .string(msgID), "session": .string(session), "username": .string(username), "date": .string(date),
          "msg_type": .string(msgType), "version": .string(version)] as JSONValue).data
    }

    /// ISO 8601 with microseconds and a UTC offset, as jupyter_client writes it.
    public static func timestamp(_ date: Date = Date()) -> String {
        var t = time_t(date.timeIntervalSince1970)
        var tmv = tm()
        gmtime_r(&t, &tmv)
        let micros = max(0, min(Int((date.timeIntervalSince1970 - Double(t)) * 1_000_000), 999_999))
        func pad(_ value: Int, _ width: Int) -> String {
            let digits = String(value)
            return String(repeating: "0", count: max(0, width - digits.count)) + digits
        }
        return "\(pad(Int(tmv.tm_year) + 1900, 4))-\(pad(Int(tmv.tm_mon) + 1, 2))-\(pad(Int(tmv.tm_mday), 2))T"
            + "\(pad(Int(tmv.tm_hour), 2)):\(pad(Int(tmv.tm_min), 2)):\(pad(Int(tmv.tm_sec), 2)).\(pad(micros, 6))Z"
    }
}

/// One Jupyter message. Parent header, metadata and content are kept as raw JSON bytes so large
/// payloads (a Plotly figure can be megabytes) pass through without being re-parsed in Swift.
public struct Message: Sendable {
    public var identities: [Data]
    public var header: Header
    public var parentHeader: Data
    public var metadata: Data
    public var content: Data
    public var buffers: [Data]
    /// The header exactly as received, reused as the parent header of replies.
    var receivedHeader: Data?

    public init(identities: [Data] = [], header: Header, parentHeader: Data = Data("{}".utf8),
                metadata: Data = Data("{}".utf8), content: Data = Data("{}".utf8), buffers: [Data] = [],
                receivedHeader: Data? = nil) {
        self.identities = identities
        self.header = header
        self.receivedHeader = receivedHeader
        self.parentHeader = parentHeader
        self.metadata = metadata
        self.content = content
        self.buffers = buffers
    }

    public var msgType: String { header.msgType }

    /// The content parsed; empty object when it is not valid JSON.
    public func parsedContent() -> JSONValue {
        (try? JSONValue.parse(content)) ?? .object([:])
    }

    /// The header of this message serialized, for use as the parent header of replies.
    public var headerData: Data {
        receivedHeader ?? header.data
    }

    /// A message answering or caused by this one: same identities (for routing) and session,
    /// with this message's header as parent.
    public func child(msgType: String, content: Data, session: String, metadata: Data = Data("{}".utf8)) -> Message {
        Message(identities: identities,
                header: Header(session: session, username: header.username, msgType: msgType),
                parentHeader: headerData, metadata: metadata, content: content)
    }
}
