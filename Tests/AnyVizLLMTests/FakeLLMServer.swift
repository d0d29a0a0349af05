import Foundation
import XCTest

/// Runs tests/fakellm.py as a subprocess for one test: a real HTTP server on 127.0.0.1 with a
/// scripted sequence of answers, and a JSON-lines log of what the client sent.
final class FakeLLMServer {
    let process = Process()
    let port: Int
    let directory: URL
    let logURL: URL
    private let stdinPipe = Pipe()

    /// The repository root: three levels above this file (symlinks resolved, so a private dev
    /// package that links the test folder still finds tests/fakellm.py).
    static var repoRoot: URL {
        if let root = ProcessInfo.processInfo.environment["ANYVIZ_REPO_ROOT"] { return URL(fileURLWithPath: root) }
        return URL(fileURLWithPath: #filePath).resolvingSymlinksInPath()
            .deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
    }

    /// The project venv's python, else the system one (the fake server needs only the stdlib).
    static var python: String {
        let venv = repoRoot.appendingPathComponent(".venv/bin/python").path
        return FileManager.default.isExecutableFile(atPath: venv) ? venv : "/usr/bin/python3"
    }

    init(script: [[String: Any]], requireKey: String? = nil) throws {
        directory = FileManager.default.temporaryDirectory.appendingPathComponent("fakellm-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        let scriptURL = directory.appendingPathComponent("script.json")
        logURL = directory.appendingPathComponent("log.jsonl")
        try JSONSerialization.data(withJSONObject: script).write(to: scriptURL)

        let server = Self.repoRoot.appendingPathComponent("tests/fakellm.py").path
        process.executableURL = URL(fileURLWithPath: Self.python)
        var args = [server, "--port", "0", "--script", scriptURL.path, "--log", logURL.path, "--exit-on-stdin-eof"]
        if let requireKey { args += ["--require-key", requireKey] }
        process.arguments = args
        let out = Pipe()
        process.standardOutput = out
        process.standardInput = stdinPipe
        try process.run()

        // First stdout line is the port.
        var line = Data()
        while true {
            let byte = out.fileHandleForReading.readData(ofLength: 1)
            if byte.isEmpty || byte == Data("\n".utf8) { break }
            line.append(byte)
        }
        guard let port = Int(String(decoding: line, as: UTF8.self)) else {
            process.terminate()
            throw NSError(domain: "FakeLLMServer", code: 1,
                          userInfo: [NSLocalizedDescriptionKey: "fakellm.py did not print a port (python: \(Self.python))"])
        }
        self.port = port
    }

    var url: String { "http://127.0.0.1:\(port)" }
    var openAIBaseURL: String { "\(url)/v1" }
    var geminiBaseURL: String { "\(url)/v1beta" }

    /// Every request logged so far (path, lower-cased headers, parsed JSON body).
    func requests() -> [[String: Any]] {
        guard let text = try? String(contentsOf: logURL, encoding: .utf8) else { return [] }
        return text.split(separator: "\n").compactMap {
            try? JSONSerialization.jsonObject(with: Data($0.utf8)) as? [String: Any]
        }
    }

    /// Raw log text, for "the key appears only where it should" checks.
    func rawLog() -> String { (try? String(contentsOf: logURL, encoding: .utf8)) ?? "" }

    func stop() {
        if process.isRunning {
            process.terminate()
            process.waitUntilExit()
        }
        try? stdinPipe.fileHandleForWriting.close()
        try? FileManager.default.removeItem(at: directory)
    }

    deinit { stop() }
}
