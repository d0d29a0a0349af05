import AnyVizLLM
import Foundation

/// Builds the chat messages for chart generation. The prompt carries a compact summary of the
/// data (types, stats, a few sample values), never the data itself, and never a key.
public enum PromptBuilder {
    /// Part of every cache key: bump it when the prompt changes so old answers are not reused.
    public static let version = "anyviz-prompt-v1"

    static let rules = """
    You write Python that turns a pandas DataFrame into one interactive Plotly chart.
    Contract:
    - The data is already loaded as the pandas DataFrame `df` (other session frames are available by their names). Never read or write files, never use the network, never import anything but pandas (pd), numpy (np) and plotly (px = plotly.express, go = plotly.graph_objects); they are already imported.
    - Assign the final figure to a variable named `fig`. Do not call fig.show().
    - Use Plotly Express where possible. Use only columns that exist, spelled exactly as listed.
    - Handle missing values (dropna on the plotted columns). Aggregate in pandas before plotting (groupby) when the request implies a total, mean, count or share; for large frames aggregate or bin rather than plotting millions of raw points.
    - Give the chart a clear title and labelled axes (labels=...), sensible colours, sorted categories where it helps reading.
    Reply with a JSON object only: {"code": "<python code>", "explanation": "<one or two sentences: which columns, which aggregation and why>", "alternatives": ["<another chart the user could ask for>", "..."]}
    """

    public static func chartMessages(summary: String, request: String, hints: [String: String]) -> [LLMMessage] {
        var user = "Data:\n\(summary)\n\nRequest: \(request.isEmpty ? "the most informative chart for this data" : request)"
        let fixed = hints.filter { !$0.value.isEmpty }.sorted { $0.key < $1.key }
        if !fixed.isEmpty {
            user += "\nThe user fixed these choices: " + fixed.map { "\($0.key)=\($0.value)" }.joined(separator: ", ")
        }
        return [.system(rules), .user(user)]
    }

    public static func repairMessages(_ conversation: [LLMMessage], reply: String, error: String) -> [LLMMessage] {
        conversation + [
            .assistant(reply),
            .user("That code failed: \(error)\nFix it. Use only the listed columns and the allowed libraries. Reply with the same JSON object format."),
        ]
    }

    public static func customizeMessages(summary: String, code: String, instruction: String) -> [LLMMessage] {
        let user = """
        Data:
        \(summary)

        Current chart code:
        ```python
        \(code)
        ```
        Change the chart as follows: \(instruction)
        Return the complete new code (it must still assign `fig`).
        """
        return [.system(rules), .user(user)]
    }
}
