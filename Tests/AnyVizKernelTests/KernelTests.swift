import AnyVizKernel
import AnyVizProtocol
import Foundation
import XCTest

/// The in-memory server: records what the kernel sends, so dispatch is tested without sockets.
final class MemoryServer: KernelServer, @unchecked Sendable {
    private let lock = NSLock()
    private var sent: [(Channel, Message)] = []

    func send(_ message: Message, on channel: Channel) {
        lock.withLock { sent.append((channel, message)) }
    }

    var messages: [(Channel, Message)] { lock.withLock { sent } }

    func waitFor(_ count: Int, where predicate: (Channel, Message) -> Bool, timeout: TimeInterval = 5) -> [(Channel, Message)] {
        let deadline = Date().addingTimeInterval(timeout)
        while Date() < deadline {
            let found = messages.filter(predicate)
            if found.count >= count { return found }
            usleep(2000)
        }
        return messages.filter(predicate)
    }
}

/// A scripted interpreter: `fail` makes a cell fail; `block` holds a cell until released.
final class ScriptedInterpreter: Interpreter, @unchecked Sendable {
    let gate = DispatchSemaphore(value: 0)
    var interrupted = false
    var executed: [String] = []

    func startImpl() {}
    func kernelInfoImpl() -> JSONValue { ["implementation": "test", "language_info": ["name": "python"]] }

    func executeImpl(_ request: ExecuteRequest, context: ExecutionContext) -> ExecuteOutcome {
        executed.append(request.code)
        if request.code == "block" { gate.wait() }
        if request.code.hasPrefix("print") { context.publish("stream", content: (["name": "stdout", "text": "x"] as JSONValue).data) }
        if request.code.hasPrefix("value") {
            context.publish("execute_result", content: (["execution_count": .int(request.executionCount),
                                                         "data": ["text/plain": "42"], "metadata": [:]] as JSONValue).data)
        }
        if request.code == "fail" { return ExecuteOutcome(failure: .init(ename: "ValueError", evalue: "bad", traceback: ["tb"])) }
        if request.code == "usage" {
            // Like IPython's UsageError: one stderr line, no error message on IOPub.
            context.publish("stream", content: (["name": "stderr", "text": "UsageError: bad\n"] as JSONValue).data)
            return ExecuteOutcome(failure: .init(ename: "UsageError", evalue: "bad", traceback: [], published: true))
        }
        return ExecuteOutcome()
    }

    func completeImpl(code: String, cursorPos: Int) -> JSONValue { ["matches": ["print"], "cursor_start": 0, "cursor_end": .int(cursorPos), "metadata": [:]] }
    func inspectImpl(code: String, cursorPos: Int, detailLevel: Int) -> JSONValue { ["found": false, "data": [:], "metadata": [:]] }
    func isCompleteImpl(code: String) -> JSONValue { ["status": "complete"] }
    func interruptImpl() {
        interrupted = true
        gate.signal()
    }
    func shutdownImpl(restart: Bool) {}

    /// With `backgroundWork` on, idles like an event loop with pending tasks: waits (up to 30 s)
    /// for the kernel's wake descriptor, then drains it.
    let idleLock = NSLock()
    var backgroundWork = false
    var idleTurns = 0
    func idleImpl(wakeDescriptor: Int32) -> Bool {
        guard idleLock.withLock({ backgroundWork }) else { return false }
        idleLock.withLock { idleTurns += 1 }
        var entry = pollfd(fd: wakeDescriptor, events: Int16(POLLIN), revents: 0)
        _ = poll(&entry, 1, 30_000)
        var bytes = [UInt8](repeating: 0, count: 64)
        _ = read(wakeDescriptor, &bytes, bytes.count)
        return true
    }
}

final class KernelTests: XCTestCase {
    private var server: MemoryServer!
    private var interpreter: ScriptedInterpreter!
    private var kernel: Kernel!

    override func setUp() {
        server = MemoryServer()
        interpreter = ScriptedInterpreter()
        kernel = Kernel(server: server, interpreter: interpreter, session: "test-session")
        kernel.start()
    }

    private func request(_ type: String, _ content: JSONValue = [:]) -> Message {
        Message(identities: [Data("client".utf8)], header: Header(session: "client-session", msgType: type), content: content.data)
    }

    private func replies(to message: Message, type: String, count: Int = 1) -> [Message] {
        server.waitFor(count) { $1.msgType == type && parentID($1) == message.header.msgID }.map(\.1)
    }

    private func iopub(for message: Message) -> [Message] {
        server.messages.filter { $0.0 == .iopub && parentID($0.1) == message.header.msgID }.map(\.1)
    }

    func testExecuteIsWrappedInBusyIdleWithInputAndCount() {
        let first = request("execute_request", ["code": "print(1)"])
        kernel.handle(first, from: .shell)
        let reply = replies(to: first, type: "execute_reply")[0].parsedContent()
        XCTAssertEqual(reply["status"], "ok")
        XCTAssertEqual(reply["execution_count"], 1)
        _ = server.waitFor(1) { $1.msgType == "status" && parentID($1) == first.header.msgID && $1.parsedContent()["execution_state"] == "idle" }
        let types = iopub(for: first).map(\.msgType)
        XCTAssertEqual(types, ["status", "execute_input", "stream", "status"])
        XCTAssertEqual(iopub(for: first).first?.parsedContent()["execution_state"], "busy")
        XCTAssertEqual(iopub(for: first).last?.parsedContent()["execution_state"], "idle")

        let silent = request("execute_request", ["code": "x", "silent": true])
        kernel.handle(silent, from: .shell)
        XCTAssertEqual(replies(to: silent, type: "execute_reply")[0].parsedContent()["execution_count"], 1, "silent does not count")
        XCTAssertFalse(iopub(for: silent).contains { $0.msgType == "execute_input" })
    }

    func testARequestEndsTheInterpretersIdleWorkAtOnce() {
        interpreter.idleLock.withLock { interpreter.backgroundWork = true }
        let first = request("execute_request", ["code": "value"])
        kernel.handle(first, from: .shell)
        XCTAssertEqual(replies(to: first, type: "execute_reply").count, 1)
        // The shell thread is now idling in the interpreter; the next request must wake it.
        let deadline = Date().addingTimeInterval(5)
        while interpreter.idleLock.withLock({ interpreter.idleTurns }) == 0, Date() < deadline { usleep(2000) }
        XCTAssertGreaterThan(interpreter.idleLock.withLock { interpreter.idleTurns }, 0)
        // Without the wake the interpreter would idle 30 s, far past the reply's 5 s wait.
        let second = request("execute_request", ["code": "value"])
        kernel.handle(second, from: .shell)
        XCTAssertEqual(replies(to: second, type: "execute_reply").count, 1)
        interpreter.idleLock.withLock { interpreter.backgroundWork = false }
    }

    func testErrorIsPublishedAndQueuedExecutesAreAborted() {
        let blocker = request("execute_request", ["code": "block"])
        let failing = request("execute_request", ["code": "fail"])
        let queued = request("execute_request", ["code": "never"])
        kernel.handle(blocker, from: .shell)
        kernel.handle(failing, from: .shell)
        kernel.handle(queued, from: .shell)
        interpreter.gate.signal()
        let errorReply = replies(to: failing, type: "execute_reply")[0].parsedContent()
        XCTAssertEqual(errorReply["status"], "error")
        XCTAssertEqual(errorReply["ename"], "ValueError")
        XCTAssertEqual(replies(to: failing, type: "error").count, 1)
        XCTAssertEqual(replies(to: queued, type: "execute_reply")[0].parsedContent()["status"], "aborted")
        XCTAssertFalse(interpreter.executed.contains("never"))
    }

    func testAnErrorTheInterpreterPublishedIsNotPublishedAgain() {
        let usage = request("execute_request", ["code": "usage"])
        kernel.handle(usage, from: .shell)
        XCTAssertEqual(replies(to: usage, type: "execute_reply")[0].parsedContent()["ename"], "UsageError")
        _ = server.waitFor(1) { $1.msgType == "status" && parentID($1) == usage.header.msgID && $1.parsedContent()["execution_state"] == "idle" }
        XCTAssertEqual(iopub(for: usage).map(\.msgType), ["status", "execute_input", "stream", "status"])
    }

    func testCommsGoToTheInterpreterWhichClosesUnknownOnesByDefault() {
        let open = request("comm_open", ["comm_id": "c1", "target_name": "nobody", "data": [:]])
        kernel.handle(open, from: .shell)
        let closed = server.waitFor(1) { $1.msgType == "comm_close" && parentID($1) == open.header.msgID }
        XCTAssertEqual(closed.first?.1.parsedContent()["comm_id"], "c1")
        let info = request("comm_info_request")
        kernel.handle(info, from: .shell)
        XCTAssertEqual(replies(to: info, type: "comm_info_reply")[0].parsedContent()["comms"], [:])
    }

    func testControlIsServedWhileShellIsBusy() {
        let blocker = request("execute_request", ["code": "block"])
        kernel.handle(blocker, from: .shell)
        _ = server.waitFor(1) { $1.msgType == "execute_input" }
        let info = request("kernel_info_request")
        kernel.handle(info, from: .control)
        let reply = replies(to: info, type: "kernel_info_reply")
        XCTAssertEqual(reply.count, 1)
        // kernel_info and every header speak the same protocol version.
        XCTAssertEqual(reply[0].parsedContent()["protocol_version"]?.stringValue, reply[0].header.version)
        XCTAssertEqual(reply[0].header.version, Header.protocolVersion)
        let interrupt = request("interrupt_request")
        kernel.handle(interrupt, from: .control)
        XCTAssertEqual(replies(to: interrupt, type: "interrupt_reply").count, 1)
        XCTAssertTrue(interpreter.interrupted)
        XCTAssertEqual(replies(to: blocker, type: "execute_reply").count, 1)
    }

    func testKernelInfoOnShellIsAnsweredWhileACellRuns() {
        let blocker = request("execute_request", ["code": "block"])
        kernel.handle(blocker, from: .shell)
        let info = request("kernel_info_request")
        kernel.handle(info, from: .shell)
        XCTAssertEqual(replies(to: info, type: "kernel_info_reply").count, 1)
        XCTAssertEqual(server.waitFor(2) { $1.msgType == "status" && parentID($1) == info.header.msgID }.count, 2)
        XCTAssertTrue(replies(to: blocker, type: "execute_reply", count: 0).isEmpty, "the cell is still running")
        interpreter.gate.signal()
        XCTAssertEqual(replies(to: blocker, type: "execute_reply").count, 1)
    }

    func testHistoryTailRangeAndSearchAgree() {
        for code in ["a = 1", "b = 2", "a = 1"] {
            let message = request("execute_request", ["code": .string(code)])
            kernel.handle(message, from: .shell)
            _ = replies(to: message, type: "execute_reply")
        }
        func history(_ content: JSONValue) -> [JSONValue] {
            let message = request("history_request", content)
            kernel.handle(message, from: .shell)
            return replies(to: message, type: "history_reply")[0].parsedContent()["history"]?.arrayValue ?? []
        }
        let tail = history(["hist_access_type": "tail", "n": 2, "output": false, "raw": true])
        XCTAssertEqual(tail.map { $0.arrayValue?[2] }, ["b = 2", "a = 1"])
        let session = tail[0].arrayValue![0]
        let range = history(["hist_access_type": "range", "session": session, "start": 2, "stop": 3])
        XCTAssertEqual(range.count, 1)
        XCTAssertEqual(range[0].arrayValue?[0], session)
        XCTAssertEqual(history(["hist_access_type": "search", "pattern": "a*", "unique": true]).count, 1)
        XCTAssertEqual(history(["hist_access_type": "search", "pattern": "a*"]).count, 2)
    }

    func testHistoryWithOutputCarriesTheResultText() {
        for code in ["value", "a = 1"] {
            let message = request("execute_request", ["code": .string(code)])
            kernel.handle(message, from: .shell)
            _ = replies(to: message, type: "execute_reply")
        }
        let ask = request("history_request", ["hist_access_type": "tail", "n": 2, "output": true, "raw": true])
        kernel.handle(ask, from: .shell)
        let entries = replies(to: ask, type: "history_reply")[0].parsedContent()["history"]?.arrayValue ?? []
        XCTAssertEqual(entries.map { $0.arrayValue?[2] }, [["value", "42"], ["a = 1", .null]])
    }

    func testCommOpenWithoutTargetIsClosedAndCommInfoIsEmpty() {
        let open = request("comm_open", ["comm_id": "c1", "target_name": "nothing", "data": [:]])
        kernel.handle(open, from: .shell)
        XCTAssertEqual(replies(to: open, type: "comm_close")[0].parsedContent()["comm_id"], "c1")
        let info = request("comm_info_request")
        kernel.handle(info, from: .shell)
        XCTAssertEqual(replies(to: info, type: "comm_info_reply")[0].parsedContent()["comms"], .object([:]))
    }
}

private func parentID(_ message: Message) -> String? {
    (try? JSONValue.parse(message.parentHeader))?["msg_id"]?.stringValue
}
