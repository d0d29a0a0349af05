import Foundation

/// What the chart prompt asks the model for: Python that builds `fig`, a short explanation and
/// other charts worth trying. Models do not always follow the requested JSON shape, so `parse`
/// accepts the shapes they actually produce.
public struct ChartReply: Sendable, Equatable {
    public var code: String
    public var explanation: String
    public var alternatives: [String]

    public init(code: String, explanation: String = "", alternatives: [String] = []) {
        self.code = code
        self.explanation = explanation
        self.alternatives = alternatives
    }

    /// Read a reply in any of these shapes, tried in order:
    /// 1. a JSON object `{"code", "explanation", "alternatives"}`, bare or in a ```json fence or
    ///    surrounded by prose (raw newlines inside its strings are tolerated);
    /// 2. a ```python (or unlabelled) fenced block, the prose around it being the explanation and
    ///    a bulleted "Alternatives:" list the alternatives;
    /// 3. bare code, with leading/trailing prose lines ("Here is the code:") stripped.
    /// Throws `LLMError.noCode` when no code can be found, so the pipeline can repair or fall back.
    public static func parse(_ text: String) throws -> ChartReply {
        let text = text.replacingOccurrences(of: "\r\n", with: "\n")
            .trimmingCharacters(in: .whitespacesAndNewlines)
        guard !text.isEmpty else { throw LLMError.noCode("") }
        let blocks = fencedBlocks(text)

        // 1. JSON: fenced json blocks first, then the whole text, then the outermost {...}.
        var candidates = blocks.filter { $0.language == "json" || ($0.language.isEmpty && $0.content.hasPrefix("{")) }
            .map(\.content)
        candidates.append(text)
        if let open = text.firstIndex(of: "{"), let close = text.lastIndex(of: "}"), open < close,
           startsAnObject(text, at: open) {
            candidates.append(String(text[open...close]))
        }
        for candidate in candidates {
            if let reply = fromJSON(candidate) { return reply }
        }

        // 2. Fenced code.
        let codeBlocks = blocks.filter { pythonLanguages.contains($0.language) && !$0.content.hasPrefix("{") }
        if let block = codeBlocks.first(where: { !$0.language.isEmpty }) ?? codeBlocks.first {
            let code = block.content
            guard hasCode(code) else { throw LLMError.noCode(snippet(text, limit: 160)) }
            let prose = proseOutside(blocks: blocks, in: text)
            let (explanation, alternatives) = splitProse(prose)
            return ChartReply(code: code, explanation: explanation, alternatives: alternatives)
        }

        // 3. Bare code between prose.
        let lines = text.components(separatedBy: "\n")
        guard let first = lines.firstIndex(where: { isCode($0) }),
              let last = lines.lastIndex(where: { isCode($0) }) else {
            throw LLMError.noCode(snippet(text, limit: 160))
        }
        let code = lines[first...last].joined(separator: "\n").trimmingCharacters(in: .newlines)
        guard hasCode(code) else { throw LLMError.noCode(snippet(text, limit: 160)) }
        let prose = Array(lines[..<first]) + Array(lines[(last + 1)...])
        let (explanation, alternatives) = splitProse(prose)
        return ChartReply(code: code, explanation: explanation, alternatives: alternatives)
    }

    // MARK: - JSON shape

    static func fromJSON(_ candidate: String) -> ChartReply? {
        let trimmed = candidate.trimmingCharacters(in: .whitespacesAndNewlines)
        guard trimmed.hasPrefix("{") else { return nil }
        for attempt in [trimmed, escapeControlCharactersInStrings(trimmed)] {
            guard let data = attempt.data(using: .utf8),
                  let object = try? JSONSerialization.jsonObject(with: data) as? [String: Any] else { continue }
            var code: String
            switch object["code"] {
            case let s as String: code = s
            case let lines as [Any]: code = lines.compactMap { $0 as? String }.joined(separator: "\n")
            default: return nil
            }
            // Some models fence the code even inside the JSON string.
            if let inner = fencedBlocks(code).first(where: { pythonLanguages.contains($0.language) }) {
                code = inner.content
            }
            code = code.trimmingCharacters(in: .newlines)
            guard hasCode(code) else { return nil }
            let explanation = (object["explanation"] as? String)?.trimmingCharacters(in: .whitespacesAndNewlines) ?? ""
            return ChartReply(code: code, explanation: explanation, alternatives: alternatives(object["alternatives"]))
        }
        return nil
    }

    /// A `{` that opens a JSON answer sits at the start of a line or after "Answer:"; one after
    /// `=`, `(` or `,` is a Python dict inside code (`labels={"code": "Code"}`), not the reply.
    static func startsAnObject(_ text: String, at open: String.Index) -> Bool {
        let before = text[..<open].reversed().first { $0 != " " && $0 != "\t" }
        return before == nil || before == "\n" || before == ":"
    }

    static func alternatives(_ value: Any?) -> [String] {
        func text(_ item: Any) -> String? {
            if let s = item as? String { return s }
            if let d = item as? [String: Any] {  // {"title": ..., "description": ...} and similar
                let parts = ["title", "name", "chart", "description", "why"].compactMap { d[$0] as? String }
                return parts.isEmpty ? nil : parts.joined(separator: ": ")
            }
            return nil
        }
        let items: [Any]
        switch value {
        case let list as [Any]: items = list
        case let single as String: items = [single]
        default: items = []
        }
        return items.compactMap(text).map { $0.trimmingCharacters(in: .whitespacesAndNewlines) }.filter { !$0.isEmpty }
    }

    /// JSON forbids raw newlines/tabs inside strings, yet models often emit multi-line code that
    /// way. Escape control characters that occur inside string literals, leave the rest alone.
    static func escapeControlCharactersInStrings(_ text: String) -> String {
        var out = ""
        out.reserveCapacity(text.utf8.count + 16)
        var inString = false, escaped = false
        for ch in text {
            if inString {
                if escaped { escaped = false; out.append(ch); continue }
                switch ch {
                case "\\": escaped = true; out.append(ch)
                case "\"": inString = false; out.append(ch)
                case "\n": out += "\\n"
                case "\r": out += "\\r"
                case "\t": out += "\\t"
                default: out.append(ch)
                }
            } else {
                if ch == "\"" { inString = true }
                out.append(ch)
            }
        }
        return out
    }

    // MARK: - Fences and prose

    struct Block { var language: String; var content: String; var lines: ClosedRange<Int> }

    static let pythonLanguages: Set<String> = ["", "python", "py", "python3", "ipython", "ipython3"]

    /// Markdown ``` blocks with their language tag (lower-cased) and line span; an unclosed
    /// fence (reply cut off) runs to the end.
    static func fencedBlocks(_ text: String) -> [Block] {
        let lines = text.components(separatedBy: "\n")
        var blocks: [Block] = []
        var open: (language: String, start: Int)? = nil
        for (i, line) in lines.enumerated() {
            let t = line.trimmingCharacters(in: .whitespaces)
            guard t.hasPrefix("```") else { continue }
            if let o = open {
                let body = lines[(o.start + 1)..<i].joined(separator: "\n")
                blocks.append(Block(language: o.language, content: body.trimmingCharacters(in: .newlines), lines: o.start...i))
                open = nil
            } else {
                open = (String(t.dropFirst(3)).trimmingCharacters(in: .whitespaces).lowercased(), i)
            }
        }
        if let o = open, o.start + 1 <= lines.count {
            let body = lines[(o.start + 1)...].joined(separator: "\n")
            blocks.append(Block(language: o.language, content: body.trimmingCharacters(in: .newlines), lines: o.start...(lines.count - 1)))
        }
        return blocks
    }

    static func proseOutside(blocks: [Block], in text: String) -> [String] {
        let lines = text.components(separatedBy: "\n")
        return lines.enumerated().filter { i, _ in !blocks.contains { $0.lines.contains(i) } }.map(\.element)
    }

    /// Explanation lines plus the bullets of an "Alternatives:" section. Lead-in lines such as
    /// "Here is the code:" carry nothing and are dropped.
    static func splitProse(_ lines: [String]) -> (String, [String]) {
        var explanation: [String] = [], alternatives: [String] = []
        var inAlternatives = false
        for raw in lines {
            let line = raw.trimmingCharacters(in: .whitespaces)
            if line.isEmpty { continue }
            let plain = line.trimmingCharacters(in: CharacterSet(charactersIn: "*#_ ")).lowercased()
            if plain.range(of: #"^(alternatives?|other (charts|options|ideas)|you could also|you might also)\b"#, options: .regularExpression) != nil {
                inAlternatives = true
                let rest = line.split(separator: ":", maxSplits: 1).dropFirst().first.map(String.init)?
                    .trimmingCharacters(in: CharacterSet(charactersIn: "*_ ")) ?? ""
                if !rest.isEmpty { alternatives += rest.components(separatedBy: ";").map { $0.trimmingCharacters(in: .whitespaces) }.filter { !$0.isEmpty } }
                continue
            }
            if inAlternatives, let item = bullet(line) {
                alternatives.append(item)
                continue
            }
            inAlternatives = false
            if line.range(of: #"^(here('s| is| are)|below is|the following)\b.*:$"#, options: [.regularExpression, .caseInsensitive]) != nil {
                continue
            }
            explanation.append(line)
        }
        return (explanation.joined(separator: "\n"), alternatives)
    }

    static func bullet(_ line: String) -> String? {
        guard let range = line.range(of: #"^([-*•+]|\d+[.)])\s+"#, options: .regularExpression) else { return nil }
        let item = line[range.upperBound...].trimmingCharacters(in: .whitespaces)
        return item.isEmpty ? nil : item
    }

    // MARK: - Telling code from prose

    static let keywords: Set<String> = [
        "import", "from", "def", "class", "for", "while", "if", "elif", "else", "try", "except",
        "finally", "with", "return", "pass", "raise", "assert", "del", "global", "nonlocal",
        "lambda", "yield", "async", "await", "print", "break", "continue",
    ]

    /// A line that Python would accept as (part of) a statement rather than an English sentence:
    /// indented, a comment/decorator/closing bracket, a keyword, or `name...` followed by an
    /// assignment, call, index, attribute or tuple comma. "Here is the code:" is not.
    static func isCode(_ line: String) -> Bool {
        let t = line.trimmingCharacters(in: .whitespaces)
        if t.isEmpty { return false }
        if line.first == " " || line.first == "\t" { return true }
        if let c = t.first, "#@)]}.".contains(c) { return true }
        let word = t.prefix { $0.isLetter || $0.isNumber || $0 == "_" }
        if keywords.contains(String(word)) { return true }
        return t.range(of: #"^[A-Za-z_][A-Za-z0-9_]*(\.[A-Za-z_][A-Za-z0-9_]*)*\s*(\[[^\]]*\]\s*)*((=|\+=|-=|\*=|/=|\(|,)|$)"#,
                       options: .regularExpression) != nil
    }

    /// Something besides comments and blank lines.
    static func hasCode(_ code: String) -> Bool {
        code.components(separatedBy: "\n").contains {
            let t = $0.trimmingCharacters(in: .whitespaces)
            return !t.isEmpty && !t.hasPrefix("#")
        }
    }
}
