"""Jupyter messaging-protocol conformance via jupyter_kernel_test.

Every sample attribute of KernelTests is filled so no upstream check is skipped (the harness in
tests/conftest.py fails the run if any is). The samples are what ipykernel users write: IPython's
`display` and `clear_output`, `print?` paging, a Plotly figure through `display()`, `%timeit`,
so the same class validates against ipykernel.
"""
import jupyter_kernel_test as jkt

from kernel_harness import KERNEL, requires_anyviz

CLEAR = "from IPython.display import clear_output\n"
PLOTLY = "application/vnd.plotly.v1+json"


class AnyVizKernelTests(jkt.KernelTests):
    kernel_name = KERNEL
    language_name = "python"
    file_extension = ".py"

    code_hello_world = "print('hello, world')"
    code_stderr = "import sys; print('oops, to stderr', file=sys.stderr)"

    # Exact match sets: names chosen so that only one builtin/variable completes each prefix.
    completion_samples = [
        {"text": "zi", "matches": {"zip"}},
        {"text": "import collecti", "matches": {"collections"}},
        {"text": "isinst", "matches": {"isinstance"}},
    ]
    complete_code_samples = ["1", "print('hello, world')", "def f(x):\n    return x\n", "x = [1,\n 2]"]
    incomplete_code_samples = ["print('hello',", "def f(x):", "for i in range(3):", "x = [1,\n"]
    invalid_code_samples = ["import = 7q", "1 +* 2", ")"]

    code_page_something = "print?"

    code_generate_error = "raise ValueError('conformance error')"

    code_execute_result = [
        {"code": "1+2+3", "result": "6"},
        {"code": "[n * n for n in range(4)]", "result": "[0, 1, 4, 9]"},
        {"code": "'a' + 'b'", "result": "'ab'"},
    ]
    code_display_data = [
        {"code": "class Bold:\n    def _repr_html_(self):\n        return '<b>bold</b>'\n"
                           "display(Bold())",
         "mime": "text/html"},
        {"code": "display(42)", "mime": "text/plain"},
        {"code": "from IPython.display import display\nimport plotly.express as px\n"
                 "display(px.bar(x=['a', 'b'], y=[1, 2]))",
         "mime": PLOTLY},
    ]

    # Must match one of code_execute_result; the search test asks for n=3, so it is run often.
    code_history_pattern = "1+2*"
    supported_history_operations = ("tail", "range", "search")

    code_inspect_sample = "print"
    code_clear_output = CLEAR + "print('about to vanish'); clear_output()"


    def test_timeit_reports_on_stdout(self):
        """IPython's %timeit runs and its line arrives as a stdout stream."""
        self.flush_channels()
        reply, outputs = self.execute_helper("%timeit -n 3 -r 2 sum(range(100))")
        self.assertEqual(reply["content"]["status"], "ok")
        streams = [m for m in outputs if m["msg_type"] == "stream"]
        self.assertTrue(streams and all(m["content"]["name"] == "stdout" for m in streams))
        self.assertIn("per loop", "".join(m["content"]["text"] for m in streams))

    @requires_anyviz
    def test_plotly_display_is_one_output_with_html(self):
        """fig.show() gives one display_data carrying the Plotly JSON and its HTML form (under
        ipykernel plotly's default renderer sends the JSON only)."""
        self.flush_channels()
        reply, outputs = self.execute_helper(
            "import plotly.express as px\nfig = px.line(x=[1, 2, 3], y=[2, 1, 3])\nfig.show()")
        self.assertEqual(reply["content"]["status"], "ok")
        displays = [m for m in outputs if m["msg_type"] == "display_data"]
        self.assertEqual(len(displays), 1)
        self.assertIn(PLOTLY, displays[0]["content"]["data"])
        self.assertIn("text/html", displays[0]["content"]["data"])


class AnyVizIopubWelcomeTests(jkt.IopubWelcomeTests):
    kernel_name = KERNEL
    support_iopub_welcome = True
