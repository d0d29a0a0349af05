import AnyVizPython
import Foundation
import Logging

extension MagicRegistry {
    /// The registry with every AnyViz magic.
    public static func standard(runtime: PythonRuntime, logger: Logger) -> MagicRegistry {
        let registry = MagicRegistry(runtime: runtime, logger: logger)
        let data = "anyviz.data.magics"
        registry.register(Magic(name: "load", summary: "Load CSV/TSV/Parquet/JSON files or URLs into named DataFrames.",
                                implementation: .native { line in
                                    _ = try runtime.call(data, "load", line)
                                    // Data is in: start the chart sandbox now so the first %viz does not wait for it.
                                    _ = try? runtime.call("anyviz.viz.api", "warm", "{}")
                                }, helpFrom: (data, "load")))
        registry.register(Magic(name: "profile", summary: "Profile a DataFrame: types, missing values, distributions, alerts.",
                                implementation: .python(module: data, function: "profile")))
        registry.register(Magic(name: "who", summary: "List your variables; DataFrames with their shapes.",
                                implementation: .python(module: data, function: "who")))
        registry.register(Magic(name: "frames", summary: "List the DataFrames in the session with source, shape and memory.",
                                implementation: .python(module: data, function: "frames")))
        registry.register(Magic(name: "drop", summary: "Remove a DataFrame from the session.",
                                implementation: .python(module: data, function: "drop")))
        // IPython habits and front ends (VS Code sends `%config ...` lines to Python kernels):
        // accepted, and said plainly what they do here.
        registry.register(Magic(name: "config", summary: "Accepted for IPython compatibility; AnyViz has no IPython configurables.",
                                implementation: .native { line in
                                    if !line.trimmingCharacters(in: .whitespaces).isEmpty {
                                        Output.text("%config: AnyViz has no IPython configurables; ignored.")
                                    }
                                }))
        registry.register(Magic(name: "matplotlib", summary: "Accepted for IPython compatibility: matplotlib figures are always shown inline.",
                                implementation: .native { line in
                                    let mode = line.trimmingCharacters(in: .whitespaces)
                                    if !mode.isEmpty, mode != "inline" {
                                        Output.text("%matplotlib \(mode): AnyViz shows matplotlib figures inline as PNG; for interactive charts use plotly.express or %viz.")
                                    }
                                }))
        return registry
    }
}
