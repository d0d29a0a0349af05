import AnyVizKernel
import AnyVizProtocol
import CAnyVizPython
import Foundation
import Logging

/// The kernel's interpreter for Python cells: each `*Impl` forwards to `anyviz.runtime` in the
/// embedded CPython, with the request's context bound so Python's outputs reach IOPub.
public final class PythonInterpreter: Interpreter, @unchecked Sendable {
    public let runtime: PythonRuntime
    private let logger: Logger
    private let resourcePath: String
    private let stateLock = NSLock()
    private var executing = false
    public private(set) var startupError: String?
    /// The last execute or comm reply said the cells' event loop has work for `idleImpl`
    /// (touched only on the shell thread).
    private var backgroundWork = false
    /// Receives the operator counters a cell's Python code counted (`anyviz.metrics`), which
    /// ride on the execute reply instead of costing a crossing of their own.
    public var onMetrics: (@Sendable (JSONValue) -> Void)?

    public init(runtime: PythonRuntime, resourcePath: String, logger: Logger) {
        self.runtime = runtime
        self.resourcePath = resourcePath
        self.logger = logger
    }

    /// The folder holding the `anyviz` package shipped as a resource of this module.
    public static var bundledResourcePath: String {
        Bundle.module.resourcePath ?? Bundle.module.bundlePath
    }

    public func startImpl() {
        do {
            try runtime.start(resourcePath: resourcePath)
            // IPython's shell is built here, on the shell thread, while kernel_info is already
            // answered by the I/O thread: the first cell waits for it, nothing else does.
            _ = try runtime.call("anyviz.runtime", "configure", "{}")
        } catch {
            startupError = "\(error)"
            logger.critical("python failed to start", metadata: ["error": "\(error)"])
        }
        // Python's main thread must receive SIGINT: every other thread keeps it blocked. Only
        // now, so an interrupt during startup waits (and is then discarded as stale) instead
        // of breaking the imports above.
        var set = sigset_t()
        sigemptyset(&set)
        sigaddset(&set, SIGINT)
        pthread_sigmask(SIG_UNBLOCK, &set, nil)
    }

    public func kernelInfoImpl() -> JSONValue {
        let version = "3.11"
        return [
            "implementation": "anyviz",
            "implementation_version": "0.1.0",
            "language_info": [
                "name": "python",
                "version": .string(version),
                "mimetype": "text/x-python",
                "file_extension": ".py",
                "pygments_lexer": "ipython3",
                "codemirror_mode": ["name": "ipython", "version": 3],
                "nbconvert_exporter": "python",
            ],
            "banner": "AnyViz: Python with %load, %profile, %viz and %customize. Type %lsmagic for the magics.",
            "help_links": [
                ["text": "Python", "url": "https://docs.python.org/3.11/"],
                ["text": "pandas", "url": "https://pandas.pydata.org/docs/"],
                ["text": "Plotly Express", "url": "https://plotly.com/python/plotly-express/"],
            ],
        ]
    }

    public func executeImpl(_ request: ExecuteRequest, context: ExecutionContext) -> ExecuteOutcome {
        if let startupError {
            return ExecuteOutcome(failure: .init(ename: "KernelStartupError", evalue: startupError,
                                                 traceback: ["The embedded Python could not start: \(startupError)",
                                                             "Run the setup command in README.md, or point ANYVIZ_PYTHON_VENV at a venv with pandas and plotly."]))
        }
        return running(context) { token in execute(request, token: token, context: context) }
    }

    private func execute(_ request: ExecuteRequest, token: Int, context: ExecutionContext) -> ExecuteOutcome {
        let payload: JSONValue = [
            "code": .string(request.code), "silent": .bool(request.silent), "store_history": .bool(request.storeHistory),
            "execution_count": .int(request.executionCount), "user_expressions": request.userExpressions,
            "allow_stdin": .bool(request.allowStdin), "parent_token": .int(token),
        ]
        do {
            let text = try runtime.call("anyviz.runtime", "execute", Self.withParentHeader(payload, context))
            let reply = (try? JSONValue.parse(text)) ?? .null
            if let counts = reply["metrics"] { onMetrics?(counts) }
            backgroundWork = reply["background"]?.boolValue ?? false
            let payload = reply["payload"] ?? []
            if reply["status"]?.stringValue == "error" {
                return ExecuteOutcome(failure: .init(ename: reply["ename"]?.stringValue ?? "Error",
                                                     evalue: reply["evalue"]?.stringValue ?? "",
                                                     traceback: reply["traceback"]?.arrayValue?.compactMap(\.stringValue) ?? [],
                                                     published: reply["error_published"]?.boolValue ?? false),
                                      userExpressions: reply["user_expressions"] ?? [:], payload: payload)
            }
            return ExecuteOutcome(userExpressions: reply["user_expressions"] ?? [:], payload: payload)
        } catch let error as PythonError {
            return ExecuteOutcome(failure: .init(ename: error.typeName, evalue: error.message, traceback: ["\(error)"]))
        } catch {
            return ExecuteOutcome(failure: .init(ename: "InternalError", evalue: "\(error)", traceback: ["\(error)"]))
        }
    }

    public func completeImpl(code: String, cursorPos: Int) -> JSONValue {
        request("complete", ["code": .string(code), "cursor_pos": .int(cursorPos)],
                fallback: ["matches": [], "cursor_start": .int(cursorPos), "cursor_end": .int(cursorPos), "metadata": [:]])
    }

    public func inspectImpl(code: String, cursorPos: Int, detailLevel: Int) -> JSONValue {
        request("inspect", ["code": .string(code), "cursor_pos": .int(cursorPos), "detail_level": .int(detailLevel)],
                fallback: ["found": false, "data": [:], "metadata": [:]])
    }

    public func isCompleteImpl(code: String) -> JSONValue {
        request("is_complete", ["code": .string(code)], fallback: ["status": "unknown"])
    }

    /// Runs `body` as the request of `context`: its output goes to that parent, and interrupts
    /// reach it (a late one is cleared so it cannot leak into the next request).
    private func running<T>(_ context: ExecutionContext, _ body: (Int) -> T) -> T {
        let token = PythonRuntime.begin(ContextBridge(context: context))
        runtime.clearPendingInterrupt()
        stateLock.withLock { executing = true }
        defer {
            stateLock.withLock { executing = false }
            runtime.clearPendingInterrupt()
            PythonRuntime.context = nil
        }
        return body(token)
    }

    public func interruptImpl() {
        if stateLock.withLock({ executing }) { runtime.interrupt() }
    }

    public func shutdownImpl(restart: Bool) {}

    /// Tasks and timers the cells left on their asyncio loop run while the kernel is idle, as
    /// under ipykernel; their output goes to the cell that started them.
    /// Python says so in its execute and comm replies, so a kernel whose cells leave nothing
    /// running makes no call between requests.
    public func idleImpl(wakeDescriptor: Int32) -> Bool {
        guard startupError == nil, backgroundWork else { return false }
        let text = try? runtime.call("anyviz.runtime", "idle", "{\"wake_fd\": \(wakeDescriptor)}")
        backgroundWork = text == "true"
        return backgroundWork
    }

    public func commImpl(msgType: String, content: JSONValue, context: ExecutionContext) {
        guard startupError == nil else { return }
        running(context) { token in
            let payload: JSONValue = ["msg_type": .string(msgType), "content": content, "parent_token": .int(token)]
            withIncomingBuffers(context.buffers) {
                do {
                    let text = try runtime.call("anyviz.runtime", "comm", Self.withParentHeader(payload, context))
                    backgroundWork = (try? JSONValue.parse(text))?["background"]?.boolValue ?? false
                } catch {
                    logger.error("runtime request failed", metadata: ["function": "comm", "error": "\(error)"])
                }
            }
        }
    }

    /// `payload` (an object) as JSON text with the request's header as `parent_header`, spliced
    /// in as received: no parse and re-serialisation of the header on every request.
    static func withParentHeader(_ payload: JSONValue, _ context: ExecutionContext) -> String {
        var bytes = payload.data
        let header = context.parentHeaderData
        guard bytes.last == UInt8(ascii: "}"), !header.isEmpty else { return payload.jsonString }
        bytes.removeLast()
        if bytes.count > 1 { bytes.append(UInt8(ascii: ",")) }
        bytes.append(contentsOf: Array(#""parent_header":"#.utf8))
        bytes.append(header)
        bytes.append(UInt8(ascii: "}"))
        return String(decoding: bytes, as: UTF8.self)
    }

    /// Lets Python take the request's binary buffers (`_anyviz.take_buffers()`) while `body` runs.
    private func withIncomingBuffers(_ buffers: [Data], _ body: () -> Void) {
        guard !buffers.isEmpty else { return body() }
        var joined = [UInt8]()
        joined.reserveCapacity(buffers.reduce(0) { $0 + $1.count })
        for buffer in buffers { joined.append(contentsOf: buffer) }
        let lengths = buffers.map { Py_ssize_t($0.count) }
        joined.withUnsafeBufferPointer { bytes in
            lengths.withUnsafeBufferPointer { sizes in
                anyviz_set_incoming_buffers(bytes.baseAddress, sizes.baseAddress, Int32(sizes.count))
                defer { anyviz_set_incoming_buffers(nil, nil, 0) }
                body()
            }
        }
    }

    public func commInfoImpl(targetName: String?) -> JSONValue {
        request("comm_info", ["target_name": targetName.map(JSONValue.string) ?? .null], fallback: ["comms": [:]])["comms"] ?? [:]
    }

    public func historyImpl(_ request: JSONValue) -> JSONValue? {
        guard startupError == nil else { return nil }
        return self.request("history", request, fallback: ["status": "ok", "history": []])
    }

    private func request(_ function: String, _ payload: JSONValue, fallback: JSONValue) -> JSONValue {
        guard startupError == nil else { return fallback }
        do {
            return try runtime.callJSON("anyviz.runtime", function, payload)
        } catch {
            logger.error("runtime request failed", metadata: ["function": "\(function)", "error": "\(error)"])
            return fallback
        }
    }
}

/// Adapts the kernel's execution context to what the C bridge callbacks need.
final class ContextBridge: BridgeContext {
    let context: ExecutionContext

    init(context: ExecutionContext) { self.context = context }

    func publish(_ msgType: String, content: Data) {
        if anyviz_emit_buffer_count() > 0 {
            context.publish(msgType, content: content, metadata: Data("{}".utf8), buffers: emittedBuffers())
        } else {
            context.publish(msgType, content: content)
        }
    }

    func publish(_ msgType: String, content: Data, metadata: Data) {
        if anyviz_emit_buffer_count() > 0 {
            context.publish(msgType, content: content, metadata: metadata, buffers: emittedBuffers())
        } else {
            context.publish(msgType, content: content, metadata: metadata)
        }
    }

    /// Copies of the binary buffers Python passed to the `_anyviz.emit` being served.
    private func emittedBuffers() -> [Data] {
        (0..<anyviz_emit_buffer_count()).map { index in
            var length: Py_ssize_t = 0
            guard let bytes = anyviz_emit_buffer(Int32(index), &length), length > 0 else { return Data() }
            return Data(bytes: bytes, count: Int(length))
        }
    }

    func requestInput(prompt: String, password: Bool) -> (String?, Int32) {
        do {
            return (try context.requestInput(prompt: prompt, password: password, abandon: { PythonRuntime.interruptRequested }),
                    Int32(ANYVIZ_OK))
        } catch InputError.notAllowed {
            return (nil, Int32(ANYVIZ_NO_STDIN))
        } catch {
            return (nil, Int32(ANYVIZ_INTERRUPTED))
        }
    }
}
