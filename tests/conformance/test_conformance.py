"""Jupyter messaging-protocol conformance via jupyter_kernel_test.

Every sample attribute of KernelTests is filled so no upstream check is skipped (the harness in
tests/conftest.py fails the run if any is). Samples are plain Python plus the builtins AnyViz
shares with IPython (`display`, `print?` paging), so the same class validates against ipykernel.
"""
import jupyter_kernel_test as jkt

from kernel_harness import KERNEL

# `display` is a builtin in both kernels (as in IPython); clear_output is imported the way users
# write it, which AnyViz serves with its own implementation.
CLEAR = "from IPython.display import clear_output\n"


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
    ]

    # Must match one of code_execute_result; the search test asks for n=3, so it is run often.
    code_history_pattern = "1+2*"
    supported_history_operations = ("tail", "range", "search")

    code_inspect_sample = "print"
    code_clear_output = CLEAR + "print('about to vanish'); clear_output()"


class AnyVizIopubWelcomeTests(jkt.IopubWelcomeTests):
    kernel_name = KERNEL
    support_iopub_welcome = True
