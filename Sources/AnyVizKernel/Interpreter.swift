import AnyVizProtocol
import Foundation

/// An execute request as the interpreter sees it: the message's fields, with the messaging
/// spec's defaults where the client left them out (`stop_on_error` is the kernel's business:
/// it aborts the queued requests).
public struct ExecuteRequest: Sendable {
    public var code: String
    public var silent: Bool
    public var storeHistory: Bool
    public var userExpressions: JSONValue
    public var allowStdin: Bool
    /// The count this execution is shown with (In[n]).
    public var executionCount: Int
}

/// What an execution ended with. The kernel publishes `error` on IOPub and builds the reply.
public struct ExecuteOutcome: Sendable {
    public struct Failure: Sendable, Equatable {
        public var ename: String
        public var evalue: String
        public var traceback: [String]
        /// The interpreter already published the `error` message (in order with the cell's
        /// other outputs, as ipykernel does), or chose not to (IPython's UsageError is one line
        /// on stderr): the kernel only builds the reply.
        public var published: Bool
        public init(ename: String, evalue: String, traceback: [String], published: Bool = false) {
            self.ename = ename
            self.evalue = evalue
            self.traceback = traceback
            self.published = published
        }
    }

    public var failure: Failure?
    public var userExpressions: JSONValue
    public var payload: JSONValue

    public init(failure: Failure? = nil, userExpressions: JSONValue = [:], payload: JSONValue = []) {
        self.failure = failure
        self.userExpressions = userExpressions
        self.payload = payload
    }
}

/// Why reading from the front end failed.
public enum InputError: Error, Sendable {
    case notAllowed
    case interrupted
}

/// Lets an interpreter publish outputs and ask for input while it runs a request. Everything it
/// publishes carries the running request as parent.
public protocol ExecutionContext: AnyObject, Sendable {
    /// The header of the request being served (the parent of everything published).
    var parentHeader: JSONValue { get }
    /// The same header as JSON bytes, for passing on without parsing it.
    var parentHeaderData: Data { get }
    func publish(_ msgType: String, content: Data)
    /// With message metadata (the widget protocol version travels there).
    func publish(_ msgType: String, content: Data, metadata: Data)
    /// With binary buffers after the JSON parts (comm messages of widgets: images, arrays).
    func publish(_ msgType: String, content: Data, metadata: Data, buffers: [Data])
    /// The binary buffers that came with the request (a widget's comm_msg from the front end).
    var buffers: [Data] { get }
    /// Sends input_request and waits for the reply; `abandon` is polled while waiting, so an
    /// interrupt that only the interpreter sees (a signal) also ends the wait.
    func requestInput(prompt: String, password: Bool, abandon: @escaping () -> Bool) throws -> String
}

/// The language side of the kernel: one `*Impl` per request type (as in xeus). The kernel calls
/// every method but `interruptImpl` and `kernelInfoImpl` on its one shell thread, which is also
/// where `startImpl` ran; those two are called from the I/O thread and must not block.
public protocol Interpreter: AnyObject, Sendable {
    /// Prepares the language runtime on the shell thread before any request is served.
    func startImpl()
    /// `language_info`, `banner`, `help_links` and the implementation fields of kernel_info_reply.
    func kernelInfoImpl() -> JSONValue
    func executeImpl(_ request: ExecuteRequest, context: ExecutionContext) -> ExecuteOutcome
    func completeImpl(code: String, cursorPos: Int) -> JSONValue
    func inspectImpl(code: String, cursorPos: Int, detailLevel: Int) -> JSONValue
    func isCompleteImpl(code: String) -> JSONValue
    /// Called from the control thread while a request may be running: stop it promptly.
    func interruptImpl()
    func shutdownImpl(restart: Bool)
    /// `comm_open`, `comm_msg` or `comm_close` from the front end; outputs go under `context`.
    func commImpl(msgType: String, content: JSONValue, context: ExecutionContext)
    /// The open comms (`{comm_id: {"target_name": ...}}`), optionally of one target.
    func commInfoImpl(targetName: String?) -> JSONValue
    /// history_reply content, or nil to let the kernel answer from its own record.
    func historyImpl(_ request: JSONValue) -> JSONValue?
    /// Called on the shell thread while no request is queued: runs the interpreter's background
    /// work (an event loop's pending tasks) until `wakeDescriptor` becomes readable. Returns
    /// false at once when there is nothing to run; the kernel then waits for a request.
    func idleImpl(wakeDescriptor: Int32) -> Bool
}

extension ExecutionContext {
    public func publish(_ msgType: String, content: Data, metadata: Data) {
        publish(msgType, content: content)
    }

    public func publish(_ msgType: String, content: Data, metadata: Data, buffers: [Data]) {
        publish(msgType, content: content, metadata: metadata)
    }

    public var buffers: [Data] { [] }

    public var parentHeaderData: Data { parentHeader.data }
}

extension Interpreter {
    /// Without comm support a comm_open is closed at once, so the front end does not wait on it.
    public func commImpl(msgType: String, content: JSONValue, context: ExecutionContext) {
        guard msgType == "comm_open" else { return }
        let close: JSONValue = ["comm_id": content["comm_id"] ?? "", "data": [:]]
        context.publish("comm_close", content: close.data)
    }

    public func commInfoImpl(targetName: String?) -> JSONValue { [:] }

    public func historyImpl(_ request: JSONValue) -> JSONValue? { nil }

    public func idleImpl(wakeDescriptor: Int32) -> Bool { false }
}
