import AnyVizProtocol
import Foundation
import Logging
import Metrics

/// The kernel core: routes requests from the transport to the interpreter, wraps each one in
/// `busy`/`idle`, numbers executions, keeps history and aborts queued work after an error.
/// It knows neither zmq nor Python: both sit behind `KernelServer` and `Interpreter`.
public final class Kernel: MessageHandler, @unchecked Sendable {
    public let session: String
    let history = History()
    private let server: KernelServer
    private let interpreter: Interpreter
    private let logger: Logger
    private let shellQueue = RequestQueue<Message>()
    private let stateLock = NSLock()
    private var executionCount = 0
    private var running: Message?
    private var pendingInput: InputWaiter?
    /// Called after a shutdown_reply has been queued; the executable exits the process.
    public var onShutdown: (@Sendable (Bool) -> Void)?

    public init(server: KernelServer, interpreter: Interpreter, session: String = UUID().uuidString.lowercased(),
                logger: Logger = Logger(label: "anyviz.kernel")) {
        self.server = server
        self.interpreter = interpreter
        self.session = session
        self.logger = logger
    }

    /// Starts serving shell requests in order, on `shell` (a `ShellThread` started with this
    /// kernel's interpreter, already preparing it) or else on a new shell thread that prepares
    /// the interpreter first.
    public func start(on shell: ShellThread? = nil) {
        publishStatus("starting", parent: nil)
        (shell ?? ShellThread(starting: interpreter)).serve { [self] in
            while true {
                // Between requests the interpreter may run its background work (tasks a cell
                // left on its event loop) until the next request arrives.
                while shellQueue.isEmpty, interpreter.idleImpl(wakeDescriptor: shellQueue.wakeDescriptor) {}
                let message = shellQueue.pop()
                serveShell(message)
            }
        }
    }

    // MARK: - MessageHandler

    public func handle(_ message: Message, from channel: Channel) {
        switch channel {
        case .shell where message.msgType == "kernel_info_request":
            // Stateless and needed at once by every client waiting for the kernel to be ready:
            // answered without waiting for the interpreter to start or a cell to finish.
            serveKernelInfo(message, on: .shell)
        case .shell: shellQueue.push(message)
        case .control: serveControl(message)
        case .stdin: deliverInput(message)
        case .iopub: break
        }
    }

    // MARK: - Control (served on the I/O thread, so it answers while a cell runs)

    private func serveControl(_ message: Message) {
        publishStatus("busy", parent: message)
        var shutdownRequested: Bool?
        defer {
            publishStatus("idle", parent: message)
            if let restart = shutdownRequested { shutdown(restart: restart) }
        }
        switch message.msgType {
        case "kernel_info_request":
            reply(to: message, on: .control, type: "kernel_info_reply", content: kernelInfo())
        case "interrupt_request":
            interrupt()
            reply(to: message, on: .control, type: "interrupt_reply", content: ["status": "ok"])
        case "shutdown_request":
            let restart = message.parsedContent()["restart"]?.boolValue ?? false
            reply(to: message, on: .control, type: "shutdown_reply", content: ["status": "ok", "restart": .bool(restart)])
            shutdownRequested = restart
        case "debug_request":
            reply(to: message, on: .control, type: "debug_reply", content: [:])
        default:
            logger.warning("ignored control message", metadata: ["msg_type": "\(message.msgType)"])
        }
    }

    private func serveKernelInfo(_ message: Message, on channel: Channel) {
        publishStatus("busy", parent: message)
        reply(to: message, on: channel, type: "kernel_info_reply", content: kernelInfo())
        publishStatus("idle", parent: message)
    }

    /// Stops the running request; also reached from SIGINT in signal interrupt mode.
    public func interrupt() {
        let waiter = stateLock.withLock { () -> InputWaiter? in
            running == nil ? nil : pendingInput
        }
        waiter?.fail(.interrupted)
        interpreter.interruptImpl()
    }

    private func shutdown(restart: Bool) {
        interpreter.shutdownImpl(restart: restart)
        onShutdown?(restart)
    }

    // MARK: - Shell (served in order on the shell thread)

    private func serveShell(_ message: Message) {
        publishStatus("busy", parent: message)
        stateLock.withLock { running = message }
        defer {
            stateLock.withLock { running = nil }
            publishStatus("idle", parent: message)
        }
        let content = message.parsedContent()
        switch message.msgType {
        case "execute_request":
            execute(message, content: content)
        case "complete_request":
            let code = content["code"]?.stringValue ?? ""
            var result = interpreter.completeImpl(code: code, cursorPos: content["cursor_pos"]?.intValue ?? code.count)
            result = merge(result, ["status": "ok"])
            reply(to: message, on: .shell, type: "complete_reply", content: result)
        case "inspect_request":
            let code = content["code"]?.stringValue ?? ""
            let result = interpreter.inspectImpl(code: code, cursorPos: content["cursor_pos"]?.intValue ?? code.count,
                                                 detailLevel: content["detail_level"]?.intValue ?? 0)
            reply(to: message, on: .shell, type: "inspect_reply", content: merge(result, ["status": "ok"]))
        case "is_complete_request":
            let result = interpreter.isCompleteImpl(code: content["code"]?.stringValue ?? "")
            reply(to: message, on: .shell, type: "is_complete_reply", content: result)
        case "history_request":
            let answer = interpreter.historyImpl(content)
                ?? ["status": "ok", "history": .array(history.reply(for: content))]
            reply(to: message, on: .shell, type: "history_reply", content: answer)
        case "comm_info_request":
            let comms = interpreter.commInfoImpl(targetName: content["target_name"]?.stringValue)
            reply(to: message, on: .shell, type: "comm_info_reply", content: ["status": "ok", "comms": comms])
        case "comm_open", "comm_msg", "comm_close":
            let context = RequestContext(kernel: self, request: message, allowStdin: false, historyLine: nil)
            interpreter.commImpl(msgType: message.msgType, content: content, context: context)
        case "shutdown_request":
            let restart = content["restart"]?.boolValue ?? false
            reply(to: message, on: .shell, type: "shutdown_reply", content: ["status": "ok", "restart": .bool(restart)])
            shutdown(restart: restart)
        default:
            logger.warning("ignored shell message", metadata: ["msg_type": "\(message.msgType)"])
        }
    }

    private func execute(_ message: Message, content: JSONValue) {
        let code = content["code"]?.stringValue ?? ""
        let silent = content["silent"]?.boolValue ?? false
        let storeHistory = silent ? false : (content["store_history"]?.boolValue ?? true)
        let shownCount: Int = stateLock.withLock {
            if storeHistory { executionCount += 1 }
            return executionCount
        }
        if !silent {
            publish(message, type: "execute_input", content: ["code": .string(code), "execution_count": .int(shownCount)])
        }
        if storeHistory { history.record(line: shownCount, input: code) }

        let request = ExecuteRequest(code: code, silent: silent, storeHistory: storeHistory,
                                     userExpressions: content["user_expressions"] ?? [:],
                                     allowStdin: content["allow_stdin"]?.boolValue ?? false, executionCount: shownCount)
        let outcome = run(request, for: message)
        if let failure = outcome.failure {
            answer(message, failure: failure, request: request,
                   stopOnError: content["stop_on_error"]?.boolValue ?? true)
        } else {
            reply(to: message, on: .shell, type: "execute_reply",
                  content: ["status": "ok", "execution_count": .int(shownCount),
                            "user_expressions": outcome.userExpressions, "payload": outcome.payload],
                  metadata: ["status": "ok"])
        }
    }

    /// Runs the request in the interpreter, timed into the metrics and the log. Logs carry the
    /// request id, timing and error class, never code or data values.
    private func run(_ request: ExecuteRequest, for message: Message) -> ExecuteOutcome {
        let context = RequestContext(kernel: self, request: message, allowStdin: request.allowStdin,
                                     historyLine: request.storeHistory ? request.executionCount : nil)
        let started = DispatchTime.now()
        let outcome = interpreter.executeImpl(request, context: context)
        let elapsed = Double(DispatchTime.now().uptimeNanoseconds - started.uptimeNanoseconds) / 1e9
        Metrics.Timer(label: "anyviz_execute_seconds").recordSeconds(elapsed)
        if logger.logLevel <= .info {  // the metadata costs string formatting on every request
            var log = logger
            log[metadataKey: "request"] = "\(message.header.msgID.prefix(12))"
            log.info("execute", metadata: ["seconds": "\(String(format: "%.4f", elapsed))",
                                            "status": "\(outcome.failure == nil ? "ok" : "error")",
                                            "ename": "\(outcome.failure?.ename ?? "")"])
        }
        return outcome
    }

    /// The error on IOPub (unless the interpreter published it), the error reply, and with
    /// stop_on_error the queued executions answered as aborted.
    private func answer(_ message: Message, failure: ExecuteOutcome.Failure, request: ExecuteRequest, stopOnError: Bool) {
        Counter(label: "anyviz_errors_total", dimensions: [("type", failure.ename)]).increment()
        let error: JSONValue = ["ename": .string(failure.ename), "evalue": .string(failure.evalue),
                                "traceback": .array(failure.traceback.map(JSONValue.string))]
        if !request.silent, !failure.published { publish(message, type: "error", content: error) }
        // Only requests queued before the error are aborted: once the reply is out the
        // client may send its next cell, which must run.
        let aborted = stopOnError ? shellQueue.drain(where: { $0.msgType == "execute_request" }) : []
        reply(to: message, on: .shell, type: "execute_reply",
              content: merge(error, ["status": "error", "execution_count": .int(request.executionCount),
                                     "user_expressions": [:]]),
              metadata: ["status": "error"])
        answerAborted(aborted)
    }

    /// After an error with stop_on_error, requests already queued are answered as aborted, not run.
    private func answerAborted(_ requests: [Message]) {
        for queued in requests {
            publishStatus("busy", parent: queued)
            reply(to: queued, on: .shell, type: "execute_reply",
                  content: ["status": "aborted", "execution_count": .int(stateLock.withLock { executionCount })],
                  metadata: ["status": "aborted"])
            publishStatus("idle", parent: queued)
        }
    }

    // MARK: - stdin

    fileprivate func readInput(for request: Message, prompt: String, password: Bool, abandon: @escaping () -> Bool) throws -> String {
        let waiter = InputWaiter()
        stateLock.withLock { pendingInput = waiter }
        defer { stateLock.withLock { pendingInput = nil } }
        let ask = request.child(msgType: "input_request",
                                content: (["prompt": .string(prompt), "password": .bool(password)] as JSONValue).data,
                                session: session)
        server.send(ask, on: .stdin)
        return try waiter.wait(abandon: abandon)
    }

    private func deliverInput(_ message: Message) {
        guard message.msgType == "input_reply" else { return }
        let value = message.parsedContent()["value"]?.stringValue ?? ""
        let waiter = stateLock.withLock { pendingInput }
        waiter?.succeed(value)
    }

    // MARK: - Sending

    func kernelInfo() -> JSONValue {
        merge(interpreter.kernelInfoImpl(), ["status": "ok", "protocol_version": .string(Header.protocolVersion)])
    }

    private func reply(to request: Message, on channel: Channel, type: String, content: JSONValue, metadata: JSONValue = [:]) {
        server.send(request.child(msgType: type, content: content.data, session: session, metadata: metadata.data), on: channel)
    }

    fileprivate func publish(_ parent: Message, type: String, content: JSONValue) {
        publishRaw(parent, type: type, content: content.data)
    }

    fileprivate func publishRaw(_ parent: Message, type: String, content: Data, metadata: Data = Data("{}".utf8),
                                buffers: [Data] = []) {
        var message = parent.child(msgType: type, content: content, session: session, metadata: metadata)
        message.identities = [Data(type.utf8)]
        message.buffers = buffers
        server.send(message, on: .iopub)
    }

    private func publishStatus(_ state: String, parent: Message?) {
        let content: JSONValue = ["execution_state": .string(state)]
        if let parent {
            publish(parent, type: "status", content: content)
        } else {
            server.send(Message(identities: [Data("status".utf8)], header: Header(session: session, msgType: "status"),
                                content: content.data), on: .iopub)
        }
    }

    private func merge(_ base: JSONValue, _ extra: JSONValue) -> JSONValue {
        var result = base.objectValue ?? [:]
        for (k, v) in extra.objectValue ?? [:] { result[k] = v }
        return .object(result)
    }
}

/// The context handed to the interpreter for one execute request.
private final class RequestContext: ExecutionContext, @unchecked Sendable {
    let kernel: Kernel
    let request: Message
    let allowStdin: Bool
    /// The history line whose output an execute_result is (nil when history is not stored).
    let historyLine: Int?

    init(kernel: Kernel, request: Message, allowStdin: Bool, historyLine: Int?) {
        self.kernel = kernel
        self.request = request
        self.allowStdin = allowStdin
        self.historyLine = historyLine
    }

    var parentHeader: JSONValue {
        (try? JSONValue.parse(request.headerData)) ?? [:]
    }

    var parentHeaderData: Data { request.headerData }

    func publish(_ msgType: String, content: Data) {
        // The kernel's own history is the fallback when the interpreter keeps none; a large
        // result (a table's HTML) is not parsed again here just for it.
        if msgType == "execute_result", let line = historyLine, content.count <= 65_536,
           let text = (try? JSONValue.parse(content))?["data"]?["text/plain"]?.stringValue {
            kernel.history.recordOutput(line: line, output: text)
        }
        kernel.publishRaw(request, type: msgType, content: content)
    }

    func publish(_ msgType: String, content: Data, metadata: Data) {
        kernel.publishRaw(request, type: msgType, content: content, metadata: metadata)
    }

    func publish(_ msgType: String, content: Data, metadata: Data, buffers: [Data]) {
        kernel.publishRaw(request, type: msgType, content: content, metadata: metadata, buffers: buffers)
    }

    var buffers: [Data] { request.buffers }

    func requestInput(prompt: String, password: Bool, abandon: @escaping () -> Bool) throws -> String {
        guard allowStdin else { throw InputError.notAllowed }
        return try kernel.readInput(for: request, prompt: prompt, password: password, abandon: abandon)
    }
}

/// One pending input_request: the shell thread waits, the I/O or control thread resolves it.
final class InputWaiter: @unchecked Sendable {
    private let condition = NSCondition()
    private var result: Result<String, InputError>?

    func wait(abandon: () -> Bool) throws -> String {
        condition.lock()
        defer { condition.unlock() }
        while result == nil {
            if abandon() { throw InputError.interrupted }
            _ = condition.wait(until: Date().addingTimeInterval(0.05))
        }
        return try result!.get()
    }

    func succeed(_ value: String) { resolve(.success(value)) }
    func fail(_ error: InputError) { resolve(.failure(error)) }

    private func resolve(_ value: Result<String, InputError>) {
        condition.lock()
        if result == nil { result = value }
        condition.signal()
        condition.unlock()
    }
}
