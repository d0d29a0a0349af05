@testable import AnyVizMagics
import AnyVizPython
import Logging
import XCTest

final class MagicParsingTests: XCTestCase {
    func testTokenizerGroupsBalancedQuotesAndKeepsApostrophes() {
        XCTAssertEqual(Tokenizer.split("title 'Sales 2024' --x year"), ["title", "Sales 2024", "--x", "year"])
        XCTAssertEqual(Tokenizer.split("what's the trend of sales"), ["what's", "the", "trend", "of", "sales"])
        XCTAssertEqual(Tokenizer.split(#"  --df "my frame"   revenue  "#), ["--df", "my frame", "revenue"])
        XCTAssertEqual(Tokenizer.split("''"), [""])
        XCTAssertEqual(Tokenizer.split(""), [])
    }

    func testVizOptionsParseAnywhereAndTheRestIsTheRequest() throws {
        let arguments = try VizArguments.parse(Tokenizer.split("revenue by region --type bar --code over time"))
        XCTAssertEqual(arguments.request.joined(separator: " "), "revenue by region over time")
        XCTAssertEqual(arguments.type, "bar")
        XCTAssertTrue(arguments.code)
        XCTAssertThrowsError(try VizArguments.parse(["--colour", "red"]))
    }

    func testUnknownMagicSuggestsCloseNames() {
        let registry = MagicRegistry.standard(runtime: PythonRuntime(environment: PythonEnvironment(venv: nil),
                                                                     logger: Logger(label: "test")),
                                              logger: Logger(label: "test"))
        let message = registry.unknownMessage("lod")
        XCTAssertTrue(message.contains("Unknown magic %lod."), message)
        XCTAssertTrue(message.contains("%load"), message)
        XCTAssertTrue(message.contains("%lsmagic"), message)
        XCTAssertFalse(registry.unknownMessage("zzzzzzzzzz").contains("Did you mean"))
    }

    func testEditDistance() {
        XCTAssertEqual(editDistance("load", "lod"), 1)
        XCTAssertEqual(editDistance("profile", "profile"), 0)
        XCTAssertEqual(editDistance("", "viz"), 3)
    }
}
