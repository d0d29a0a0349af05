import AnyVizTransport
import CZmq
import Foundation
import XCTest

final class RejectionLogLimiterTests: XCTestCase {
    func testFloodLogsBurstThenOneSummaryPerWindow() {
        var limiter = RejectionLogLimiter(burst: 5, interval: 5)
        var detailLines = 0
        var summaries: [Int] = []
        // 10,000 rejections over 2 s of a clock driven by the test.
        for i in 0..<10_000 {
            let decision = limiter.record(at: 100 + Double(i) * 0.0002)
            if decision.logDetail { detailLines += 1 }
            if let count = decision.summary { summaries.append(count) }
        }
        XCTAssertEqual(detailLines, 5)
        XCTAssertEqual(summaries, [])
        XCTAssertEqual(limiter.summaryDeadline, 105)
        XCTAssertNil(limiter.flush(at: 104.9))
        XCTAssertEqual(limiter.flush(at: 105), 9_995)
        XCTAssertNil(limiter.flush(at: 200), "a summary is written once")
        XCTAssertNil(limiter.summaryDeadline)
    }

    func testNextWindowStartsWithAFreshBurstAndReportsTheOldOneFirst() {
        var limiter = RejectionLogLimiter(burst: 1, interval: 1)
        XCTAssertEqual(limiter.record(at: 0), .init(logDetail: true, summary: nil))
        XCTAssertEqual(limiter.record(at: 0.5), .init(logDetail: false, summary: nil))
        XCTAssertEqual(limiter.record(at: 2), .init(logDetail: true, summary: 1))
    }

    func testFewRejectionsAreAllLoggedAndNeedNoSummary() {
        var limiter = RejectionLogLimiter(burst: 5, interval: 5)
        for t in 0..<3 { XCTAssertTrue(limiter.record(at: Double(t)).logDetail) }
        XCTAssertNil(limiter.summaryDeadline)
        XCTAssertNil(limiter.flush(at: 60))
    }
}

final class TransportLimitsTests: XCTestCase {
    func testSettingIsReadInMegabytesWithAGenerousDefault() {
        XCTAssertEqual(TransportLimits.fromEnvironment([:]).limits.maxMessageBytes, 256 << 20)
        XCTAssertEqual(TransportLimits.fromEnvironment(["ANYVIZ_MAX_MESSAGE_MB": "8"]).limits.maxMessageBytes, 8 << 20)
        let bad = TransportLimits.fromEnvironment(["ANYVIZ_MAX_MESSAGE_MB": "lots"])
        XCTAssertEqual(bad.limits.maxMessageBytes, 256 << 20)
        XCTAssertTrue(bad.warning?.contains("ANYVIZ_MAX_MESSAGE_MB") ?? false)
        XCTAssertNotNil(TransportLimits.fromEnvironment(["ANYVIZ_MAX_MESSAGE_MB": "0"]).warning)
    }
}

/// Real libzmq sockets over inproc: the byte limit drops a whole oversized multipart message
/// and the next message on the same socket still arrives.
final class ReceiveLimitTests: XCTestCase {
    func testOversizedMultipartIsDroppedAndTheNextMessageArrives() throws {
        let context = ZMQContext()
        let server = try context.socket(ZMQ_PAIR)
        let client = try context.socket(ZMQ_PAIR)
        try server.bind("inproc://limits")
        try client.connect("inproc://limits")
        let big = Data(count: 600)
        XCTAssertTrue(client.sendMultipart([big, big, Data("tail".utf8)]))
        XCTAssertTrue(client.sendMultipart([Data("small".utf8), Data("ok".utf8)]))
        XCTAssertEqual(server.receive(byteLimit: 1000), .oversized(bytes: 1204))
        XCTAssertEqual(server.receive(byteLimit: 1000), .message([Data("small".utf8), Data("ok".utf8)]))
        XCTAssertNil(server.receive(dontWait: true, byteLimit: 1000))
        server.close()
        client.close()
    }
}
