import AnyVizProtocol
import AnyVizPython
import Foundation

/// Publishing from Swift magics, into the output of the cell being run.
public enum Output {
    public static func display(_ data: [String: JSONValue], metadata: JSONValue = [:], displayID: String? = nil, update: Bool = false) {
        var content: [String: JSONValue] = ["data": .object(data), "metadata": metadata, "transient": [:]]
        if let displayID { content["transient"] = ["display_id": .string(displayID)] }
        PythonRuntime.publish(update ? "update_display_data" : "display_data", content: .object(content))
    }

    public static func text(_ text: String) {
        PythonRuntime.publish("stream", content: ["name": "stdout", "text": .string(text.hasSuffix("\n") ? text : text + "\n")])
    }

    /// Help text: shown as plain text output (front ends with a pager show it the same way).
    public static func page(_ text: String) {
        display(["text/plain": .string(text)])
    }

    public static func escape(_ s: String) -> String {
        s.replacingOccurrences(of: "&", with: "&amp;").replacingOccurrences(of: "<", with: "&lt;")
            .replacingOccurrences(of: ">", with: "&gt;").replacingOccurrences(of: "\"", with: "&quot;")
    }
}
