import XCTest
@testable import AnyVizLLM

/// Replies as models really write them: the pipeline must get runnable code from each.
final class ChartReplyTests: XCTestCase {
    func testPlainJSONObject() throws {
        let reply = try ChartReply.parse(#"{"code": "fig = px.bar(df, x='region', y='sales')", "explanation": "Sales by region.", "alternatives": ["pie of sales", "line over time"]}"#)
        XCTAssertEqual(reply, ChartReply(code: "fig = px.bar(df, x='region', y='sales')",
                                         explanation: "Sales by region.",
                                         alternatives: ["pie of sales", "line over time"]))
    }

    func testJSONInsideJsonFenceWithProseAround() throws {
        let text = """
        Sure! Here is the chart you asked for:
        ```json
        {"code": "import plotly.express as px\\nfig = px.line(df, x='date', y='value')",
         "explanation": "A line shows the trend.", "alternatives": []}
        ```
        Let me know if you need anything else.
        """
        let reply = try ChartReply.parse(text)
        XCTAssertEqual(reply.code, "import plotly.express as px\nfig = px.line(df, x='date', y='value')")
        XCTAssertEqual(reply.explanation, "A line shows the trend.")
        XCTAssertEqual(reply.alternatives, [])
    }

    func testJSONWithRawNewlinesInCodeString() throws {
        // Invalid JSON (raw newline and tab in a string), yet common in model output.
        let text = "{\"code\": \"fig = px.scatter(df,\n\tx='a', y='b')\", \"explanation\": \"Scatter.\"}"
        let reply = try ChartReply.parse(text)
        XCTAssertEqual(reply.code, "fig = px.scatter(df,\n\tx='a', y='b')")
        XCTAssertEqual(reply.explanation, "Scatter.")
    }

    func testJSONEmbeddedInProseWithoutFence() throws {
        let text = #"Answer: {"code": "fig = px.histogram(df, x='age')", "explanation": "Ages."} Hope it helps."#
        XCTAssertEqual(try ChartReply.parse(text).code, "fig = px.histogram(df, x='age')")
    }

    func testJSONCodeAsListAndFencedInsideAndAlternativeObjects() throws {
        let text = #"{"code": ["```python", "import plotly.express as px", "fig = px.box(df, y='price')", "```"], "alternatives": [{"title": "Violin", "description": "shows density"}, "Histogram"]}"#
        let reply = try ChartReply.parse(text)
        XCTAssertEqual(reply.code, "import plotly.express as px\nfig = px.box(df, y='price')")
        XCTAssertEqual(reply.explanation, "")
        XCTAssertEqual(reply.alternatives, ["Violin: shows density", "Histogram"])
    }

    func testPythonFenceWithProseAndAlternatives() throws {
        let text = """
        Here is the code:

        ```python
        import plotly.express as px
        fig = px.bar(df, x="month", y="revenue")
        fig.update_layout(title="Revenue")
        ```

        A bar chart compares months side by side.

        **Alternatives:**
        - A line chart of revenue over months
        - A table of the top months
        """
        let reply = try ChartReply.parse(text)
        XCTAssertEqual(reply.code, "import plotly.express as px\nfig = px.bar(df, x=\"month\", y=\"revenue\")\nfig.update_layout(title=\"Revenue\")")
        XCTAssertEqual(reply.explanation, "A bar chart compares months side by side.")
        XCTAssertEqual(reply.alternatives, ["A line chart of revenue over months", "A table of the top months"])
    }

    func testUnlabelledFenceAndUnclosedFence() throws {
        XCTAssertEqual(try ChartReply.parse("```\nfig = px.pie(df, names='k')\n```").code, "fig = px.pie(df, names='k')")
        // Cut off before the closing fence (token limit): still usable.
        XCTAssertEqual(try ChartReply.parse("Chart:\n```py\nfig = px.area(df)\nfig.update_traces()").code,
                       "fig = px.area(df)\nfig.update_traces()")
    }

    func testPythonFencePreferredOverOtherLanguages() throws {
        let text = "Run:\n```bash\npip install plotly\n```\n```python\nfig = px.bar(df)\n```"
        XCTAssertEqual(try ChartReply.parse(text).code, "fig = px.bar(df)")
    }

    func testBareCodeWithStrayProseStripped() throws {
        let text = """
        Here is the code:
        import plotly.express as px
        fig = px.scatter(
            df, x="height", y="weight",
        )
        This plots height against weight.
        """
        let reply = try ChartReply.parse(text)
        XCTAssertEqual(reply.code, "import plotly.express as px\nfig = px.scatter(\n    df, x=\"height\", y=\"weight\",\n)")
        XCTAssertEqual(reply.explanation, "This plots height against weight.")
    }

    func testBareCodeOnly() throws {
        let code = "fig = px.bar(df, x='a', y='b')\nfig.update_layout(bargap=0.1)"
        XCTAssertEqual(try ChartReply.parse("\n\(code)\n\n"), ChartReply(code: code))
    }

    func testNoCodeThrowsWithTheReplyInTheMessage() {
        for text in ["", "I cannot help with that request.", "```python\n# nothing to do\n```", #"{"code": "", "explanation": "none"}"#] {
            XCTAssertThrowsError(try ChartReply.parse(text), "input: \(text)") { error in
                guard case LLMError.noCode = error else { return XCTFail("expected noCode, got \(error)") }
                XCTAssertTrue((error as! LLMError).userMessage.contains("no Python code"))
            }
        }
        XCTAssertThrowsError(try ChartReply.parse("I cannot help with that request.")) { error in
            XCTAssertTrue((error as! LLMError).userMessage.contains("I cannot help"))
        }
    }

    func testCRLFAndSingleAlternativeString() throws {
        let text = "{\"code\": \"fig = px.bar(df)\",\r\n \"alternatives\": \"a stacked bar\"}"
        let reply = try ChartReply.parse(text)
        XCTAssertEqual(reply.alternatives, ["a stacked bar"])
    }
}

extension ChartReplyTests {
    func testPythonDictWithCodeKeyIsNotMistakenForTheReply() throws {
        let bare = "fig = px.bar(df, x='code', labels={\"code\": \"Product code\"})"
        XCTAssertEqual(try ChartReply.parse(bare).code, bare)
        let fenced = "```python\n\(bare)\n```\nBars per product."
        XCTAssertEqual(try ChartReply.parse(fenced), ChartReply(code: bare, explanation: "Bars per product."))
    }
}
