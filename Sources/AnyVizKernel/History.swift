import AnyVizProtocol
import Foundation

/// Inputs (and text outputs) of this kernel session, answering history_request's three forms
/// when the interpreter keeps no history of its own (it failed to start, or a test double).
final class History: @unchecked Sendable {
    struct Entry: Sendable {
        var line: Int
        var input: String
        var output: String?
    }

    /// Session number reported in replies; the same in tail, range and search replies.
    let session: Int
    private var entries: [Entry] = []
    private let lock = NSLock()

    init(session: Int = 1) {
        self.session = session
    }

    func record(line: Int, input: String) {
        lock.withLock { entries.append(Entry(line: line, input: input, output: nil)) }
    }

    func recordOutput(line: Int, output: String) {
        lock.withLock {
            if let i = entries.lastIndex(where: { $0.line == line }) { entries[i].output = output }
        }
    }

    /// The reply's `history` list for a request's content.
    func reply(for request: JSONValue) -> [JSONValue] {
        let snapshot = lock.withLock { entries }
        let withOutput = request["output"]?.boolValue ?? false
        let selected: [Entry]
        switch request["hist_access_type"]?.stringValue ?? "tail" {
        case "range":
            let sessionAsked = request["session"]?.intValue ?? 0
            guard sessionAsked == 0 || sessionAsked == session || sessionAsked < 0 else { return [] }
            let start = request["start"]?.intValue ?? 0
            let stop = request["stop"]?.intValue
            selected = snapshot.filter { $0.line >= start && (stop == nil || $0.line < stop!) }
        case "search":
            let pattern = request["pattern"]?.stringValue ?? "*"
            let unique = request["unique"]?.boolValue ?? false
            var matches = snapshot.filter { History.glob(pattern, matches: $0.input) }
            if unique {
                var seen = Set<String>()
                matches = matches.reversed().filter { seen.insert($0.input).inserted }.reversed()
            }
            if let n = request["n"]?.intValue, n > 0 { matches = Array(matches.suffix(n)) }
            selected = matches
        default:
            let n = request["n"]?.intValue ?? 10
            selected = Array(snapshot.suffix(max(0, n)))
        }
        return selected.map { entry in
            let value: JSONValue = withOutput
                ? .array([.string(entry.input), entry.output.map(JSONValue.string) ?? .null])
                : .string(entry.input)
            return .array([.int(session), .int(entry.line), value])
        }
    }

    /// Shell-style glob (`*`, `?`) over the whole input, as IPython's history search uses.
    static func glob(_ pattern: String, matches text: String) -> Bool {
        fnmatch(pattern, text, 0) == 0
    }
}
