import AnyVizProtocol
import Foundation
import XCTest

final class WireCodecTests: XCTestCase {
    private let codec = WireCodec(key: "secret")

    private func sample() -> Message {
        Message(identities: [Data("peer".utf8)], header: Header(session: "s1", msgType: "execute_request"),
                content: (["code": "1+1"] as JSONValue).data)
    }

    func testRoundTripKeepsIdentitiesAndContent() throws {
        let decoded = try codec.decode(codec.encode(sample()))
        XCTAssertEqual(decoded.identities, [Data("peer".utf8)])
        XCTAssertEqual(decoded.msgType, "execute_request")
        XCTAssertEqual(decoded.parsedContent()["code"], "1+1")
    }

    func testTamperedContentIsRejected() {
        var frames = codec.encode(sample())
        frames[frames.count - 1] = Data(#"{"code": "import os"}"#.utf8)
        XCTAssertThrowsError(try codec.decode(frames)) { XCTAssertEqual($0 as? WireError, .badSignature) }
    }

    func testWrongKeyAndMissingSignatureAreRejected() {
        let other = WireCodec(key: "other")
        XCTAssertThrowsError(try codec.decode(other.encode(sample()))) { XCTAssertEqual($0 as? WireError, .badSignature) }
        let unsigned = WireCodec(key: "").encode(sample())
        XCTAssertThrowsError(try codec.decode(unsigned)) { XCTAssertEqual($0 as? WireError, .missingSignature) }
    }

    func testUnsignedKernelAcceptsUnsignedMessages() throws {
        let plain = WireCodec(key: "")
        XCTAssertEqual(try plain.decode(plain.encode(sample())).msgType, "execute_request")
    }

    func testMalformedFramesAreRejectedNotCrashing() {
        XCTAssertThrowsError(try codec.decode([Data("garbage".utf8)])) { XCTAssertEqual($0 as? WireError, .missingDelimiter) }
        XCTAssertThrowsError(try codec.decode([WireCodec.delimiter, Data()])) { XCTAssertEqual($0 as? WireError, .tooFewFrames(1)) }
        let badHeader = [WireCodec.delimiter, Data(), Data("not json".utf8), Data("{}".utf8), Data("{}".utf8), Data("{}".utf8)]
        XCTAssertThrowsError(try WireCodec(key: "").decode(badHeader))
    }

    func testSignatureIsHexHMACSHA256() {
        // RFC 4231 test case 2: key "Jefe", data "what do ya want for nothing?".
        let codec = WireCodec(key: "Jefe")
        XCTAssertEqual(codec.signature(of: [Data("what do ya want ".utf8), Data("for nothing?".utf8)]),
                       "5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843")
    }

    func testHeaderHasEveryRequiredFieldAndModernVersion() throws {
        let header = Header(session: "s", msgType: "status")
        let json = try JSONValue.parse(JSONEncoder().encode(header))
        for field in ["msg_id", "session", "username", "date", "msg_type", "version"] {
            XCTAssertNotNil(json[field], field)
        }
        let parts = header.version.split(separator: ".").compactMap { Int($0) }
        XCTAssertTrue(parts[0] == 5 && parts[1] >= 3, "version \(header.version) must be >= 5.3")
        XCTAssertNotEqual(Header(session: "s", msgType: "a").msgID, Header(session: "s", msgType: "a").msgID)
    }
}

final class JSONValueTests: XCTestCase {
    func testNonFiniteNumbersBecomeNull() throws {
        let value: JSONValue = ["a": .double(.nan), "b": .double(.infinity), "c": [.double(-.infinity), 1.5]]
        XCTAssertEqual(value.jsonString, #"{"a":null,"b":null,"c":[null,1.5]}"#)
        XCTAssertNoThrow(try JSONSerialization.jsonObject(with: value.data))
    }

    func testStringsAreEscaped() throws {
        let value: JSONValue = .string("quote \" backslash \\ newline \n tab \t bell \u{07} é")
        XCTAssertEqual(try JSONValue.parse(value.data), value)
    }

    func testParseKeepsIntegersAndBooleans() throws {
        let value = try JSONValue.parse(#"{"n": 3, "x": 2.5, "t": true, "s": "x", "l": [null]}"#)
        XCTAssertEqual(value["n"], .int(3))
        XCTAssertEqual(value["x"], .double(2.5))
        XCTAssertEqual(value["t"], .bool(true))
        XCTAssertEqual(value["l"], .array([.null]))
    }

    func testConnectionFileEndpoints() throws {
        let json = #"{"shell_port": 1, "iopub_port": 2, "stdin_port": 3, "control_port": 4, "hb_port": 5, "ip": "127.0.0.1", "key": "k", "transport": "tcp", "signature_scheme": "hmac-sha256"}"#
        let info = try JSONDecoder().decode(ConnectionInfo.self, from: Data(json.utf8))
        XCTAssertEqual(info.endpoint(port: info.shellPort), "tcp://127.0.0.1:1")
        var ipc = info
        ipc.transport = "ipc"
        ipc.ip = "/tmp/kernel"
        XCTAssertEqual(ipc.endpoint(port: 5), "ipc:///tmp/kernel-5")
    }

    func testUnusableConnectionFilesSayWhatIsWrong() throws {
        let path = NSTemporaryDirectory() + "anyviz-connection-\(getpid()).json"
        defer { unlink(path) }
        let ports = #""shell_port": 1, "iopub_port": 2, "stdin_port": 3, "control_port": 4"#
        let cases = [
            #"{\#(ports), "hb_port": 5, "key": "k", "signature_scheme": "hmac-sha512"}"#:
                "signature_scheme hmac-sha512 is not supported: AnyViz signs with hmac-sha256",
            #"{\#(ports), "key": "k"}"#: "hb_port is missing",
            #"{\#(ports), "hb_port": "five"}"#: "hb_port has the wrong type",
            "not json": "it is not a JSON object",
        ]
        for (text, explanation) in cases {
            try text.write(toFile: path, atomically: true, encoding: .utf8)
            XCTAssertThrowsError(try ConnectionInfo.load(path: path)) {
                XCTAssertEqual(($0 as? ConnectionFileError)?.description, explanation)
            }
        }
    }
}
