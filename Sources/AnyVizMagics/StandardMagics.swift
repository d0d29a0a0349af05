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
        return registry
    }
}
