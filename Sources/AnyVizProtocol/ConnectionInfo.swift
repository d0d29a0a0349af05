import Foundation

/// The connection file a Jupyter client writes for the kernel it starts.
public struct ConnectionInfo: Codable, Sendable, Equatable {
    public var transport: String
    public var ip: String
    public var shellPort: Int
    public var iopubPort: Int
    public var stdinPort: Int
    public var controlPort: Int
    public var hbPort: Int
    public var key: String
    public var signatureScheme: String

    enum CodingKeys: String, CodingKey {
        case transport, ip, key
        case shellPort = "shell_port", iopubPort = "iopub_port", stdinPort = "stdin_port"
        case controlPort = "control_port", hbPort = "hb_port"
        case signatureScheme = "signature_scheme"
    }

    public init(from decoder: Decoder) throws {
        let c = try decoder.container(keyedBy: CodingKeys.self)
        transport = (try? c.decode(String.self, forKey: .transport)) ?? "tcp"
        ip = (try? c.decode(String.self, forKey: .ip)) ?? "127.0.0.1"
        shellPort = try c.decode(Int.self, forKey: .shellPort)
        iopubPort = try c.decode(Int.self, forKey: .iopubPort)
        stdinPort = try c.decode(Int.self, forKey: .stdinPort)
        controlPort = try c.decode(Int.self, forKey: .controlPort)
        hbPort = try c.decode(Int.self, forKey: .hbPort)
        key = (try? c.decode(String.self, forKey: .key)) ?? ""
        signatureScheme = (try? c.decode(String.self, forKey: .signatureScheme)) ?? "hmac-sha256"
        // Signing with another scheme than the client's would make every message a bad signature.
        guard key.isEmpty || signatureScheme == "hmac-sha256" else {
            throw DecodingError.dataCorruptedError(
                forKey: .signatureScheme, in: c,
                debugDescription: "signature_scheme \(signatureScheme) is not supported: AnyViz signs with hmac-sha256")
        }
    }

    /// Reads the connection file at `path`; a file that cannot be used is a
    /// `ConnectionFileError` saying what is wrong with it.
    public static func load(path: String) throws -> ConnectionInfo {
        let data = try Data(contentsOf: URL(fileURLWithPath: path))
        do {
            return try JSONDecoder().decode(ConnectionInfo.self, from: data)
        } catch let error as DecodingError {
            throw ConnectionFileError(description: explain(error))
        }
    }

    private static func explain(_ error: DecodingError) -> String {
        switch error {
        case .keyNotFound(let key, _):
            return "\(key.stringValue) is missing"
        case .typeMismatch(_, let context), .valueNotFound(_, let context):
            return "\(context.codingPath.map(\.stringValue).joined(separator: ".")) has the wrong type"
        case .dataCorrupted(let context):
            return context.codingPath.isEmpty ? "it is not a JSON object" : context.debugDescription
        @unknown default:
            return "\(error)"
        }
    }

    /// The zmq endpoint of one port: `tcp://ip:port`, or `ipc://ip-port` for the ipc transport.
    public func endpoint(port: Int) -> String {
        transport == "ipc" ? "ipc://\(ip)-\(port)" : "\(transport)://\(ip):\(port)"
    }
}

/// Why a connection file cannot be used, in words (it goes into the kernel's startup error).
public struct ConnectionFileError: Error, CustomStringConvertible {
    public let description: String
}
