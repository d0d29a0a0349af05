import AnyVizKernel
import AnyVizProtocol
import AnyVizPython
import AnyVizServices
import AnyVizTransport
import ArgumentParser
import Foundation
import Logging
import Metrics
import Prometheus

struct AnyVizKernelCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "anyviz-kernel",
        abstract: "A Jupyter kernel that turns data into interactive charts.",
        subcommands: [Run.self, Install.self],
        defaultSubcommand: Run.self
    )
}

struct Run: ParsableCommand {
    static let configuration = CommandConfiguration(abstract: "Run the kernel for a Jupyter client.")

    @Option(name: [.customShort("f"), .customLong("connection-file")], help: "The connection file written by the client.")
    var connectionFile: String

    func run() throws {
        // Block SIGINT before any thread starts: only the Python thread unblocks it, so an
        // interrupt always lands where it can raise KeyboardInterrupt.
        var set = sigset_t()
        sigemptyset(&set)
        sigaddset(&set, SIGINT)
        pthread_sigmask(SIG_BLOCK, &set, nil)

        let environment = ProcessInfo.processInfo.environment
        let level = Logger.Level(rawValue: environment["ANYVIZ_LOG_LEVEL"] ?? "") ?? .notice
        let logFile = environment["ANYVIZ_LOG_FILE"].flatMap { $0.isEmpty ? nil : LogFileStream(path: $0) }
        // The Python side points descriptor 2 at the notebook (as ipykernel does); the kernel's
        // own log keeps a copy of the original descriptor, so it never lands in a cell.
        let standardError = LogFileStream(descriptor: fcntl(STDERR_FILENO, F_DUPFD_CLOEXEC, 0))
        LoggingSystem.bootstrap { label in
            var handlers: [LogHandler] = [StreamLogHandler(label: label, stream: standardError)]
            if let logFile { handlers.append(StreamLogHandler(label: label, stream: logFile)) }
            var handler = MultiplexLogHandler(handlers)
            handler.logLevel = level
            return handler
        }
        let logger = Logger(label: "anyviz")
        let connection: ConnectionInfo
        do {
            connection = try ConnectionInfo.load(path: connectionFile)
        } catch {
            throw ValidationError("cannot read the connection file \(connectionFile): \(error)")
        }
        let runtime = PythonRuntime(environment: PythonEnvironment.discover(executable: executablePath()), logger: logger)
        let interpreter = PythonInterpreter(runtime: runtime, resourcePath: PythonInterpreter.bundledResourcePath, logger: logger)
        interpreter.onMetrics = { PipelineMetrics.record($0) }
        // CPython starts now, on the thread that will run every cell: its initialisation and
        // first imports overlap the sockets' setup, the client's connect and kernel_info (which
        // never waits for Python), so the first cell finds it ready sooner.
        let shell = ShellThread(starting: interpreter)
        let telemetry = Telemetry.start(environment: ProcessInfo.processInfo.environment, logger: logger)
        let server: ZMQServer
        do {
            server = try ZMQServer(connection: connection, logger: logger)
        } catch {
            throw StartError(description: "cannot open the kernel's sockets from \(connectionFile): \(error). "
                             + "Another process may hold one of its ports: start the kernel again "
                             + "(the client picks new ports).")
        }
        // Magics and the chart pipeline are Python (anyviz.magics, anyviz.viz.pipeline); what
        // needs native code (LLM calls, downloads over libcurl) is a service they call.
        let services = KernelServices(logger: logger)
        services.registerLLM()
        services.registerFetch()
        _ = telemetry
        services.install()
        let kernel = Kernel(server: server, interpreter: interpreter, logger: logger)
        kernel.onShutdown = { _ in server.shutdownAndExit() }
        server.start(handler: kernel)
        kernel.start(on: shell)
        while true { sleep(3600) }
    }
}

/// Why the kernel could not start, for the user (printed as `Error: …`, exit status 1).
struct StartError: Error, CustomStringConvertible {
    let description: String
}

struct Install: ParsableCommand {
    static let configuration = CommandConfiguration(abstract: "Install the `anyviz` kernelspec so Jupyter can start this kernel.")

    @Flag(help: "Install for the current user (~/.local/share/jupyter).") var user = false
    @Option(help: "Install under this prefix (PREFIX/share/jupyter/kernels).") var prefix: String?
    @Flag(help: "Install into the active virtual environment ($VIRTUAL_ENV).") var sysPrefix = false
    @Option(help: "The Python venv the kernel embeds (default: $VIRTUAL_ENV or the project's .venv).") var venv: String?
    @Option(help: "Interrupt mode written to the kernelspec: signal or message.") var interruptMode = "signal"
    @Option(help: "Kernelspec name.") var name = "anyviz"

    func run() throws {
        let env = ProcessInfo.processInfo.environment
        let base: String
        if let prefix {
            base = prefix + "/share/jupyter/kernels"
        } else if sysPrefix {
            guard let venv = env["VIRTUAL_ENV"] ?? venv else {
                throw ValidationError("--sys-prefix needs an active virtual environment (VIRTUAL_ENV) or --venv")
            }
            base = venv + "/share/jupyter/kernels"
        } else {
            let home = env["HOME"] ?? NSHomeDirectory()
            base = user ? home + "/.local/share/jupyter/kernels" : "/usr/local/share/jupyter/kernels"
        }
        guard ["signal", "message"].contains(interruptMode) else {
            throw ValidationError("--interrupt-mode must be signal or message")
        }
        let exe = executablePath()
        let pythonEnv = venv.map { PythonEnvironment(venv: URL(fileURLWithPath: $0).standardizedFileURL.path) }
            ?? PythonEnvironment.discover(executable: exe)
        let dir = base + "/" + name
        try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
        var spec: JSONValue = [
            "argv": [.string(exe), "-f", "{connection_file}"],
            "display_name": "AnyViz (Python)",
            "language": "python",
            "interrupt_mode": .string(interruptMode),
            "metadata": ["debugger": false],
        ]
        if let venvPath = pythonEnv.venv, case .object(var fields) = spec {
            fields["env"] = ["ANYVIZ_PYTHON_VENV": .string(venvPath)]
            spec = .object(fields)
        }
        try spec.data.write(to: URL(fileURLWithPath: dir + "/kernel.json"))
        if let source = kernelspecSource(from: exe) {
            for logo in ["logo-32x32.png", "logo-64x64.png", "logo-svg.svg"] {
                let from = source + "/" + logo
                guard FileManager.default.fileExists(atPath: from) else { continue }
                try? FileManager.default.removeItem(atPath: dir + "/" + logo)
                try FileManager.default.copyItem(atPath: from, toPath: dir + "/" + logo)
            }
        }
        print("Installed kernelspec \(name) in \(dir)")
    }

    /// The repository's `kernelspec/` folder (logos), found above the executable.
    private func kernelspecSource(from exe: String) -> String? {
        var dir = URL(fileURLWithPath: exe).deletingLastPathComponent()
        while dir.path != "/" {
            let candidate = dir.appendingPathComponent("kernelspec")
            if FileManager.default.fileExists(atPath: candidate.path) { return candidate.path }
            dir = dir.deletingLastPathComponent()
        }
        return nil
    }
}

/// Appends log lines to a file (`ANYVIZ_LOG_FILE`), for deployments that collect files.
final class LogFileStream: TextOutputStream, @unchecked Sendable {
    private let handle: FileHandle
    private let lock = NSLock()

    init?(path: String) {
        if !FileManager.default.fileExists(atPath: path) {
            FileManager.default.createFile(atPath: path, contents: nil)
        }
        guard let handle = FileHandle(forWritingAtPath: path) else { return nil }
        handle.seekToEndOfFile()
        self.handle = handle
    }

    init(descriptor: Int32) {
        handle = FileHandle(fileDescriptor: descriptor, closeOnDealloc: true)
    }

    func write(_ string: String) {
        lock.withLock { handle.write(Data(string.utf8)) }
    }
}

/// The absolute path of this executable (argv[0] may be relative or a symlink).
func executablePath() -> String {
    (try? FileManager.default.destinationOfSymbolicLink(atPath: "/proc/self/exe")) ?? CommandLine.arguments[0]
}

AnyVizKernelCommand.main()
