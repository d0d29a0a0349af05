// swift-tools-version:5.9
// AnyViz: a Jupyter kernel in Swift that turns data into interactive charts.
// Layers: transport → protocol → kernel → Python bridge (IPython shell, magics, chart pipeline) → native services (LLM, downloads).
import PackageDescription

let pythonInclude = "/usr/include/python3.11"
// The kernel links CPython statically from Debian's non-PIC archive (as /usr/bin/python3.11 is
// built): the shared libpython3.11.so is compiled position-independent and runs Python code
// about 1.7x slower (every cell, every import at start). The executable is therefore not PIE,
// and exports Python's symbols for extension modules (numpy, pandas) loaded at run time.
let pythonStaticLinking: [LinkerSetting] = [.unsafeFlags([
    "-Xclang-linker", "-no-pie", "-Xlinker", "--export-dynamic",
    "-Xlinker", "/usr/lib/python3.11/config-3.11-x86_64-linux-gnu/libpython3.11.a",
    "-lz", "-lexpat", "-lm", "-ldl", "-lutil",
])]

let package = Package(
    name: "AnyViz",
    platforms: [.macOS(.v13)],
    products: [
        .executable(name: "anyviz-kernel", targets: ["anyviz-kernel"]),
    ],
    dependencies: [
        .package(url: "https://github.com/apple/swift-argument-parser", from: "1.8.2"),
        .package(url: "https://github.com/apple/swift-log", from: "1.16.2"),
        .package(url: "https://github.com/apple/swift-crypto", "3.12.3"..<"5.0.0"),
        .package(url: "https://github.com/apple/swift-metrics", from: "2.13.0"),
        .package(url: "https://github.com/swift-server/swift-prometheus", from: "2.4.1"),
    ],
    targets: [
        // C libraries.
        .systemLibrary(name: "CZmq", pkgConfig: "libzmq", providers: [.apt(["libzmq3-dev"])]),
        .systemLibrary(name: "CCurl", pkgConfig: "libcurl", providers: [.apt(["libcurl4-openssl-dev"])]),
        .target(
            name: "CAnyVizPython",
            // No libpython here: the executable links it statically, tests link the shared one.
            cSettings: [.unsafeFlags(["-I\(pythonInclude)"])]
        ),

        // Wire format, signing, message types: no libzmq, no Python.
        .target(
            name: "AnyVizProtocol",
            dependencies: [.product(name: "Crypto", package: "swift-crypto")]
        ),
        // zmq sockets: one implementation of the abstract KernelServer.
        .target(name: "AnyVizTransport", dependencies: ["CZmq", "AnyVizProtocol",
                                                         .product(name: "Logging", package: "swift-log"),
                                                         .product(name: "Metrics", package: "swift-metrics")]),
        // Dispatch, execution queue, interrupts; talks to an abstract server and interpreter.
        .target(name: "AnyVizKernel", dependencies: ["AnyVizProtocol", .product(name: "Metrics", package: "swift-metrics"),
                                                      .product(name: "Logging", package: "swift-log")]),
        // LLM providers over libcurl.
        .target(name: "AnyVizLLM", dependencies: ["CCurl", .product(name: "Logging", package: "swift-log")]),
        // Embedded CPython: the interpreter implementation.
        .target(
            name: "AnyVizPython",
            dependencies: ["CAnyVizPython", "AnyVizKernel", "AnyVizProtocol",
                           .product(name: "Logging", package: "swift-log")],
            resources: [.copy("Resources/anyviz")],
            swiftSettings: [.unsafeFlags(["-Xcc", "-I\(pythonInclude)"])]
        ),
        // Native services Python reaches through `_anyviz.call` (LLM completions, downloads).
        .target(name: "AnyVizServices", dependencies: ["AnyVizPython", "AnyVizLLM", "AnyVizProtocol",
                                                        .product(name: "Metrics", package: "swift-metrics"),
                                                        .product(name: "Logging", package: "swift-log")],
                swiftSettings: [.unsafeFlags(["-Xcc", "-I\(pythonInclude)"])]),
        .executableTarget(
            name: "anyviz-kernel",
            dependencies: ["AnyVizTransport", "AnyVizKernel", "AnyVizPython", "AnyVizServices", "AnyVizProtocol",
                           .product(name: "Metrics", package: "swift-metrics"),
                           .product(name: "Prometheus", package: "swift-prometheus"),
                           .product(name: "ArgumentParser", package: "swift-argument-parser"),
                           .product(name: "Logging", package: "swift-log")],
            swiftSettings: [.unsafeFlags(["-Xcc", "-I\(pythonInclude)"])],
            linkerSettings: pythonStaticLinking
        ),
        .testTarget(name: "AnyVizProtocolTests", dependencies: ["AnyVizProtocol"]),
        .testTarget(name: "AnyVizTransportTests", dependencies: ["AnyVizTransport", "CZmq"]),
        .testTarget(name: "AnyVizKernelTests", dependencies: ["AnyVizKernel", "AnyVizProtocol"]),
        .testTarget(name: "AnyVizLLMTests", dependencies: ["AnyVizLLM"]),
        .testTarget(name: "AnyVizServicesTests", dependencies: ["AnyVizServices", "AnyVizPython", "AnyVizLLM", "AnyVizProtocol",
                                                              .product(name: "Logging", package: "swift-log")],
                    swiftSettings: [.unsafeFlags(["-Xcc", "-I\(pythonInclude)"])],
                    linkerSettings: [.linkedLibrary("python3.11")]),
    ]
)
