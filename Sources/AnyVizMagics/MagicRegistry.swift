import AnyVizProtocol
import AnyVizPython
import Foundation
import Logging

/// A magic failed in a way the user can fix; the message says what was wrong and what to do.
public struct MagicError: Error, CustomStringConvertible {
    public let message: String
    public init(_ message: String) { self.message = message }
    public var description: String { message }
}

/// One line magic: `%name line`.
public struct Magic: Sendable {
    public enum Implementation: Sendable {
        /// A Python function `f(line: str)` in the runtime package, e.g. `anyviz.data.magics.load`.
        case python(module: String, function: String)
        case native(@Sendable (String) throws -> Void)
    }

    public let name: String
    public let summary: String
    public let usage: String
    public let implementation: Implementation
    /// The Python function whose docstring is the help text.
    public let helpFrom: (module: String, function: String)?

    public init(name: String, summary: String, usage: String = "", implementation: Implementation,
                helpFrom: (module: String, function: String)? = nil) {
        self.name = name
        self.summary = summary
        self.usage = usage
        self.implementation = implementation
        if case .python(let module, let function) = implementation {
            self.helpFrom = (module, function)
        } else {
            self.helpFrom = helpFrom
        }
    }
}

/// The magics the kernel knows. Python cells reach it through the `magic` kernel service;
/// later work extends it with `register`.
public final class MagicRegistry: @unchecked Sendable {
    private var magics: [String: Magic] = [:]
    private var services: [String: @Sendable (JSONValue) throws -> JSONValue] = [:]
    let runtime: PythonRuntime
    let logger: Logger

    public init(runtime: PythonRuntime, logger: Logger) {
        self.runtime = runtime
        self.logger = logger
        register(Magic(name: "lsmagic", summary: "List the magics with a one-line summary each.",
                       implementation: .native { [unowned self] _ in self.listMagics() }))
    }

    public var names: [String] { magics.keys.sorted() }

    public func register(_ magic: Magic) {
        magics[magic.name] = magic
    }

    /// Registers a kernel service Python can ask for (`anyviz.iopub.call(name, payload)`).
    public func registerService(_ name: String, _ handler: @escaping @Sendable (JSONValue) throws -> JSONValue) {
        services[name] = handler
    }

    /// Hooks the registry into the interpreter: magic names for completion, and the services.
    public func install(in interpreter: PythonInterpreter) {
        interpreter.magicNames = names
        PythonRuntime.services = { [self] service, json in handle(service: service, json: json) }
    }

    func handle(service: String, json: String) -> ServiceResult {
        let payload = (try? JSONValue.parse(json)) ?? [:]
        do {
            if service == "magic" {
                try run(name: payload["name"]?.stringValue ?? "", line: payload["line"]?.stringValue ?? "")
                return .ok("{}")
            }
            guard let handler = services[service] else { return .failure("unknown kernel service \(service)") }
            return .ok(try handler(payload).jsonString)
        } catch let error as PythonError {
            return .python(error)
        } catch let error as MagicError {
            return .userError(error.message)
        } catch is MagicInterrupted {
            return .interrupted
        } catch {
            return .failure("\(error)")
        }
    }

    /// Runs `%name line`; `name?` shows the magic's help.
    public func run(name: String, line: String) throws {
        if name.hasSuffix("?") {
            return try showHelp(String(name.drop(while: { $0 == "%" }).prefix(while: { $0 != "?" })))
        }
        guard let magic = magics[name] else { throw MagicError(unknownMessage(name)) }
        switch magic.implementation {
        case .native(let body):
            try body(line)
        case .python(let module, let function):
            _ = try runtime.call(module, function, line)
        }
    }

    func unknownMessage(_ name: String) -> String {
        let close = names.map { ($0, editDistance($0, name.lowercased())) }
            .filter { $0.1 <= max(2, name.count / 3) || $0.0.hasPrefix(name.lowercased()) }
            .sorted { $0.1 < $1.1 }
            .prefix(3)
            .map { "%" + $0.0 }
        let hint = close.isEmpty ? "" : " Did you mean \(close.joined(separator: ", "))?"
        return "Unknown magic %\(name).\(hint) Run %lsmagic to list the magics."
    }

    private func showHelp(_ name: String) throws {
        guard let magic = magics[name] else { throw MagicError(unknownMessage(name)) }
        var text = "%\(magic.name): \(magic.summary)\n"
        if !magic.usage.isEmpty { text += "\n" + magic.usage + "\n" }
        if let (module, function) = magic.helpFrom,
           let doc = try? runtime.call("anyviz.magichelp", "doc", (["module": .string(module), "function": .string(function)] as JSONValue).jsonString),
           let parsed = try? JSONValue.parse(doc).stringValue, !parsed.isEmpty {
            text += "\n" + parsed + "\n"
        }
        Output.page(text)
    }

    private func listMagics() {
        let rows = names.compactMap { magics[$0] }
        let width = (rows.map(\.name.count).max() ?? 0) + 2
        let text = "Available line magics (add ? for help, e.g. %load?):\n"
            + rows.map { "  %" + $0.name.padding(toLength: width, withPad: " ", startingAt: 0) + $0.summary }.joined(separator: "\n")
        let html = "<table><thead><tr><th>magic</th><th>what it does</th></tr></thead><tbody>"
            + rows.map { "<tr><td><code>%\(Output.escape($0.name))</code></td><td>\(Output.escape($0.summary))</td></tr>" }.joined()
            + "</tbody></table>"
        Output.display(["text/plain": .string(text), "text/html": .string(html)])
    }
}

/// Levenshtein distance, for "did you mean" suggestions.
func editDistance(_ a: String, _ b: String) -> Int {
    let a = Array(a), b = Array(b)
    if a.isEmpty { return b.count }
    if b.isEmpty { return a.count }
    var previous = Array(0...b.count)
    for i in 1...a.count {
        var current = [i] + Array(repeating: 0, count: b.count)
        for j in 1...b.count {
            current[j] = min(previous[j] + 1, current[j - 1] + 1, previous[j - 1] + (a[i - 1] == b[j - 1] ? 0 : 1))
        }
        previous = current
    }
    return previous[b.count]
}
