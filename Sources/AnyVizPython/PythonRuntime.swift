import AnyVizProtocol
import CAnyVizPython
import Foundation
import Logging

/// Where the embedded interpreter finds its packages.
public struct PythonEnvironment: Sendable {
    public var venv: String?

    public init(venv: String?) { self.venv = venv }

    /// `ANYVIZ_PYTHON_VENV`, else `VIRTUAL_ENV`, else a `.venv` beside or above the executable
    /// (the project's own, created by the setup command).
    public static func discover(environment: [String: String] = ProcessInfo.processInfo.environment,
                                executable: String = CommandLine.arguments.first ?? "") -> PythonEnvironment {
        for key in ["ANYVIZ_PYTHON_VENV", "VIRTUAL_ENV"] {
            if let path = environment[key], !path.isEmpty, FileManager.default.fileExists(atPath: path + "/bin/python") {
                return PythonEnvironment(venv: path)
            }
        }
        var dir = URL(fileURLWithPath: executable).resolvingSymlinksInPath().deletingLastPathComponent()
        while dir.path != "/" {
            let candidate = dir.appendingPathComponent(".venv")
            if FileManager.default.fileExists(atPath: candidate.appendingPathComponent("bin/python").path) {
                return PythonEnvironment(venv: candidate.path)
            }
            dir = dir.deletingLastPathComponent()
        }
        return PythonEnvironment(venv: nil)
    }
}

/// Answer of a kernel service asked for by Python through `_anyviz.call`.
public enum ServiceResult {
    case ok(String)
    /// A message for the user (raised as anyviz.errors.MagicError).
    case userError(String)
    case interrupted
    /// A Python exception to re-raise unchanged in the caller.
    case python(PythonError)
    case failure(String)
}

/// The embedded CPython: initialised on the thread that will run every cell (Python's main
/// thread, so signal handlers and KeyboardInterrupt work there), with the GIL released between
/// calls.
public final class PythonRuntime: @unchecked Sendable {
    let environment: PythonEnvironment
    private let logger: Logger
    private(set) var pythonThread: pthread_t?

    /// Set while a request runs: where `_anyviz.emit`/`input` go.
    /// Python threads other than the cell's (e.g. the stream flusher) publish too, so the
    /// reference is swapped and read under a lock, never torn.
    static var context: (any BridgeContext)? {
        get { contextLock.withLock { currentContext } }
        set { contextLock.withLock { currentContext = newValue } }
    }
    private static let contextLock = NSLock()
    nonisolated(unsafe) private static var currentContext: (any BridgeContext)?
    /// Recent requests by parent token: a thread that prints after its cell ended publishes
    /// under that cell (Python threads remember the token of the request that created them).
    nonisolated(unsafe) private static var recentContexts: [Int: any BridgeContext] = [:]
    nonisolated(unsafe) private static var nextToken = 0
    private static let recentLimit = 64

    /// Makes `context` the running request's and returns its parent token for Python.
    static func begin(_ context: any BridgeContext) -> Int {
        contextLock.withLock {
            nextToken += 1
            recentContexts[nextToken] = context
            recentContexts.removeValue(forKey: nextToken - recentLimit)
            currentContext = context
            return nextToken
        }
    }

    /// Where output tagged with `token` goes: that request if it is still remembered, else the
    /// running one.
    static func context(for token: Int) -> (any BridgeContext)? {
        contextLock.withLock { token == 0 ? currentContext : (recentContexts[token] ?? currentContext) }
    }
    /// What `_anyviz.call(service, payload_json)` reaches (the C bridge's callback has no
    /// context argument, so the handler is process-wide); installed once at start.
    public static var services: (@Sendable (String, String) -> ServiceResult)? {
        get { contextLock.withLock { serviceHandler } }
        set { contextLock.withLock { serviceHandler = newValue } }
    }
    nonisolated(unsafe) private static var serviceHandler: (@Sendable (String, String) -> ServiceResult)?

    public init(environment: PythonEnvironment, logger: Logger) {
        self.environment = environment
        self.logger = logger
    }

    /// Starts the interpreter on the calling thread and imports the AnyViz runtime package.
    func start(resourcePath: String) throws {
        anyviz_register_module()
        anyviz_set_callbacks(bridgeEmit, bridgeInput, bridgeCall)
        // UTF-8 mode, as python3 itself has under a C or C.UTF-8 locale: the isolated
        // configuration would otherwise leave file names and open() in ASCII, and
        // `%%writefile données.txt` or reading a UTF-8 source file would fail.
        var preconfig = PyPreConfig()
        PyPreConfig_InitIsolatedConfig(&preconfig)
        preconfig.utf8_mode = 1
        try check(Py_PreInitialize(&preconfig), "pre-initialize")
        var config = PyConfig()
        // The isolated configuration ignores PYTHONHOME/PYTHONPATH from the environment (pyenv
        // would otherwise mix standard libraries); the venv is found through program_name.
        PyConfig_InitIsolatedConfig(&config)
        defer { PyConfig_Clear(&config) }
        config.install_signal_handlers = 1
        config.user_site_directory = 0
        config.parse_argv = 0
        let program = environment.venv.map { $0 + "/bin/python" } ?? "/usr/bin/python3.11"
        let status = withUnsafeMutablePointer(to: &config) { pointer in
            PyConfig_SetBytesString(pointer, &pointer.pointee.program_name, program)
        }
        try check(status, "program name")
        // SIGINT stays blocked from the reset to its default until the kernel's handler is in
        // place, so an interrupt during startup cannot terminate the process (it is delivered,
        // and then discarded as a stale interrupt, once the handler exists).
        var sigint = sigset_t()
        sigemptyset(&sigint)
        sigaddset(&sigint, SIGINT)
        var previousMask = sigset_t()
        pthread_sigmask(SIG_BLOCK, &sigint, &previousMask)
        anyviz_default_sigint()
        try check(Py_InitializeFromConfig(&config), "initialize")
        // No garbage collection until IPython's shell is built (anyviz.startup freezes what is
        // alive then and enables it): the start's imports make almost no garbage, and
        // collecting during them costs ~10 % of their time.
        _ = PyGC_Disable()
        pythonThread = pthread_self()
        anyviz_install_sigint_flag()
        pthread_sigmask(SIG_SETMASK, &previousMask, nil)

        let setup = """
        import sys, signal
        sys.path.insert(0, \(pythonLiteral(resourcePath)))
        sys.path.insert(0, '')
        sys.argv = ['anyviz']
        import anyviz.runtime
        del sys, signal, anyviz
        """
        guard PyRun_SimpleString(setup) == 0 else {
            throw PythonError(typeName: "ImportError", message: "the AnyViz Python runtime could not be imported from \(resourcePath) with venv \(environment.venv ?? "none")")
        }
        _ = PyEval_SaveThread()
        logger.info("python ready", metadata: ["venv": "\(environment.venv ?? "none")"])
    }

    /// Calls `module.function(argument)` where the argument and result are JSON text.
    func call(_ module: String, _ function: String, _ argument: String) throws -> String {
        try PythonGIL.run {
            guard let mod = PyImport_ImportModule(module) else { throw PythonError() }
            defer { anyviz_decref(mod) }
            guard let fn = PyObject_GetAttrString(mod, function) else { throw PythonError() }
            defer { anyviz_decref(fn) }
            guard let arg = PyUnicode_FromString(argument) else { throw PythonError() }
            defer { anyviz_decref(arg) }
            guard let result = PyObject_CallOneArg(fn, arg) else { throw PythonError() }
            defer { anyviz_decref(result) }
            if anyviz_is_unicode(result) != 0, let text = PyUnicode_AsUTF8(result) { return String(cString: text) }
            return "null"
        }
    }

    /// Calls a JSON function and parses the reply; a reply that is not JSON is an error naming
    /// the function, never a silent null.
    func callJSON(_ module: String, _ function: String, _ argument: JSONValue) throws -> JSONValue {
        let text = try call(module, function, argument.jsonString)
        do {
            return try JSONValue.parse(text)
        } catch {
            throw PythonError(typeName: "InternalError", message: "\(module).\(function) answered with text that is not JSON")
        }
    }

    /// Forgets an interrupt that arrived while nothing was running, so it cannot hit the next cell.
    func clearPendingInterrupt() {
        anyviz_clear_interrupt_flag()
        PythonGIL.run {
            if PyErr_CheckSignals() != 0 { PyErr_Clear() }
        }
    }

    /// Interrupts the running Python code (and any Swift work polling `interruptRequested`).
    func interrupt() {
        if let thread = pythonThread { pthread_kill(thread, SIGINT) }
    }

    public static var interruptRequested: Bool { anyviz_interrupt_flag() != 0 }

    private func check(_ status: PyStatus, _ what: String) throws {
        if PyStatus_Exception(status) != 0 {
            let message = status.err_msg.map { String(cString: $0) } ?? "unknown"
            throw PythonError(typeName: "PythonInitError", message: "\(what): \(message)")
        }
    }

    private func pythonLiteral(_ s: String) -> String {
        "'" + s.replacingOccurrences(of: "\\", with: "\\\\").replacingOccurrences(of: "'", with: "\\'") + "'"
    }
}

/// Where the bridge sends what Python publishes while a request runs.
protocol BridgeContext: AnyObject {
    func publish(_ msgType: String, content: Data)
    func publish(_ msgType: String, content: Data, metadata: Data)
    /// The line typed, and an `ANYVIZ_*` status for the C bridge.
    func requestInput(prompt: String, password: Bool) -> (String?, Int32)
}

private func duplicate(_ s: String) -> UnsafeMutablePointer<CChar>? { strdup(s) }

private let bridgeEmit: anyviz_emit_fn = { type, json, length, parent, metadata, metadataLength in
    guard let type, let json, let context = PythonRuntime.context(for: parent) else { return }
    let data = Data(bytes: json, count: Int(length))
    if let metadata, metadataLength > 0 {
        context.publish(String(cString: type), content: data, metadata: Data(bytes: metadata, count: Int(metadataLength)))
    } else {
        context.publish(String(cString: type), content: data)
    }
}

private let bridgeInput: anyviz_input_fn = { prompt, password, status in
    guard let context = PythonRuntime.context else {
        status?.pointee = Int32(ANYVIZ_NO_STDIN)
        return nil
    }
    let (value, code) = context.requestInput(prompt: prompt.map { String(cString: $0) } ?? "", password: password != 0)
    status?.pointee = code
    return value.flatMap(duplicate)
}

private let bridgeCall: anyviz_call_fn = { service, json, status in
    guard let service, let json, let handler = PythonRuntime.services else {
        status?.pointee = Int32(ANYVIZ_FAILED)
        return duplicate("no kernel service handler")
    }
    switch handler(String(cString: service), String(cString: json)) {
    case .ok(let text):
        status?.pointee = Int32(ANYVIZ_OK)
        return duplicate(text)
    case .userError(let message):
        status?.pointee = Int32(ANYVIZ_USER_ERROR)
        return duplicate(message)
    case .interrupted:
        status?.pointee = Int32(ANYVIZ_INTERRUPTED)
        return nil
    case .python(let error):
        PythonGIL.run { error.restore() }
        status?.pointee = Int32(ANYVIZ_PYTHON_ERROR)
        return nil
    case .failure(let message):
        status?.pointee = Int32(ANYVIZ_FAILED)
        return duplicate(message)
    }
}
