"""Protocol behaviour a frontend relies on, against one shared kernel process.

stdin round trips, exits that must not kill the kernel, streaming while a cell runs,
comm_info / comm_open for unknown targets, kernel_info on control.
"""
import time

import pytest

from kernel_harness import IS_ANYVIZ, collect_iopub, execute, requires_anyviz, shell_reply


def test_input_round_trip(kernel):
    _, kc = kernel
    msg_id = kc.execute("answer = input('your name? ')\nprint('hello', answer)", allow_stdin=True)
    req = kc.get_stdin_msg(timeout=10)
    assert req["msg_type"] == "input_request"
    assert req["content"]["prompt"] == "your name? "
    assert req["content"]["password"] is False
    assert req["parent_header"]["msg_id"] == msg_id
    kc.input("Ada")
    outputs = collect_iopub(kc, msg_id)
    reply = shell_reply(kc, msg_id)
    assert reply["content"]["status"] == "ok"
    text = "".join(m["content"]["text"] for m in outputs if m["msg_type"] == "stream")
    assert "hello Ada" in text
    assert execute(kc, "answer").result_text() == "'Ada'"


def test_input_without_stdin_is_a_clear_error(kernel):
    _, kc = kernel
    res = execute(kc, "input('never asked? ')", allow_stdin=False)
    assert res.status == "error"
    assert "stdin" in (res.content["ename"] + res.content["evalue"]).lower()
    assert execute(kc, "1 + 1").result_text() == "2"


EXITS = [
    "import sys\nsys.exit()",
    "import sys\nsys.exit(3)",
    # ipykernel really exits on exit()/quit(); AnyViz keeps the session (the user closes the
    # notebook to stop it), so these two are AnyViz-specific expectations.
    pytest.param("exit()", marks=requires_anyviz),
    pytest.param("quit()", marks=requires_anyviz),
    "raise SystemExit('bye')",
    "raise KeyboardInterrupt",
    "raise RuntimeError('boom')",
]


@pytest.mark.parametrize("code", EXITS)
def test_exit_attempts_leave_kernel_running(kernel, code):
    km, kc = kernel
    execute(kc, "still_here = 'yes'")
    res = execute(kc, code, timeout=15)
    assert res.reply["msg_type"] == "execute_reply"
    time.sleep(0.2)
    assert km.is_alive(), f"kernel died after {code!r}"
    assert execute(kc, "still_here").result_text() == "'yes'"


def test_runtime_error_reply_names_exception(kernel):
    _, kc = kernel
    res = execute(kc, "raise RuntimeError('boom')")
    assert res.status == "error"
    assert res.content["ename"] == "RuntimeError"
    assert res.content["evalue"] == "boom"
    assert any("RuntimeError" in line for line in res.content["traceback"])


def test_stream_arrives_while_cell_runs(kernel):
    _, kc = kernel
    t0 = time.monotonic()
    msg_id = kc.execute("print('early bird')\nimport time\ntime.sleep(3)\nprint('late')")
    arrivals = []

    def note(msg):
        arrivals.append((time.monotonic() - t0, msg))

    collect_iopub(kc, msg_id, timeout=15, on_message=note)
    shell_reply(kc, msg_id)
    first_stream = next((t for t, m in arrivals if m["msg_type"] == "stream"
                         and "early bird" in m["content"]["text"]), None)
    idle = next(t for t, m in arrivals
                if m["msg_type"] == "status" and m["content"]["execution_state"] == "idle")
    assert first_stream is not None, "the first print never arrived"
    assert first_stream < 1.0, f"first print arrived after {first_stream:.2f}s"
    assert idle >= 3.0 and first_stream < idle


def test_comm_info_is_answered(kernel):
    _, kc = kernel
    msg_id = kc.comm_info()
    reply = shell_reply(kc, msg_id, timeout=10)
    assert reply["msg_type"] == "comm_info_reply"
    assert reply["content"]["status"] == "ok"
    assert isinstance(reply["content"]["comms"], dict)


def test_comm_open_unknown_target_is_clean(kernel):
    km, kc = kernel
    msg = kc.session.msg("comm_open", content={
        "comm_id": "0123456789abcdef", "target_name": "no.such.target", "data": {}})
    kc.shell_channel.send(msg)
    outputs = collect_iopub(kc, msg["header"]["msg_id"], timeout=10)
    # Acceptable: closing the comm and a warning on stderr; never an error/traceback.
    assert {m["msg_type"] for m in outputs} <= {"comm_close", "stream"}, outputs
    for m in outputs:
        if m["msg_type"] == "comm_close":
            assert m["content"]["comm_id"] == "0123456789abcdef"
        else:
            assert m["content"]["name"] == "stderr" and "Traceback" not in m["content"]["text"]
    # comm_msg/comm_close for the unknown comm are ignored too.
    for msg_type, content in (("comm_msg", {"comm_id": "0123456789abcdef", "data": {"x": 1}}),
                              ("comm_close", {"comm_id": "0123456789abcdef", "data": {}})):
        m = kc.session.msg(msg_type, content=content)
        kc.shell_channel.send(m)
        outs = collect_iopub(kc, m["header"]["msg_id"], timeout=10)
        assert not [o for o in outs if o["msg_type"] in ("error", "execute_result")], outs
        assert not [o for o in outs if o["msg_type"] == "stream"
                    and (o["content"]["name"] != "stderr" or "Traceback" in o["content"]["text"])]
    assert km.is_alive()
    assert execute(kc, "'alive'").result_text() == "'alive'"


def test_kernel_info_on_control(kernel):
    _, kc = kernel
    msg = kc.session.msg("kernel_info_request")
    kc.control_channel.send(msg)
    reply = kc.get_control_msg(timeout=10)
    assert reply["msg_type"] == "kernel_info_reply"
    assert reply["parent_header"]["msg_id"] == msg["header"]["msg_id"]
    content = reply["content"]
    assert content["status"] == "ok"
    assert content["protocol_version"].startswith("5.")
    assert content["language_info"]["name"] == "python"
    assert content["language_info"]["file_extension"] == ".py"
    if IS_ANYVIZ:
        assert content["implementation"] == "anyviz"


def test_kernel_info_on_control_while_shell_busy(kernel):
    """Control is served even while a long cell occupies the shell."""
    _, kc = kernel
    busy_id = kc.execute("import time\ntime.sleep(2)")
    time.sleep(0.3)
    msg = kc.session.msg("kernel_info_request")
    t0 = time.monotonic()
    kc.control_channel.send(msg)
    reply = kc.get_control_msg(timeout=10)
    assert reply["msg_type"] == "kernel_info_reply"
    assert time.monotonic() - t0 < 1.0
    shell_reply(kc, busy_id, timeout=10)
    collect_iopub(kc, busy_id)


@requires_anyviz
def test_lsmagic_lists_the_anyviz_magics(kernel):
    _, kc = kernel
    res = execute(kc, "%lsmagic")
    assert res.status == "ok"
    shown = res.stream() + "".join(
        m["content"]["data"].get("text/plain", "")
        for m in res.of_type("display_data") + res.of_type("execute_result"))
    for name in ("load", "profile", "viz", "who"):
        assert f"%{name}" in shown, f"%{name} missing from %lsmagic: {shown!r}"


@requires_anyviz
def test_who_lists_user_variables(kernel):
    _, kc = kernel
    execute(kc, "who_marker_a = 1\nwho_marker_b = 'x'")
    res = execute(kc, "%who")
    assert res.status == "ok"
    shown = res.stream() + "".join(m["content"]["data"].get("text/plain", "")
                                   for m in res.of_type("execute_result") + res.of_type("display_data"))
    assert "who_marker_a" in shown and "who_marker_b" in shown


@requires_anyviz
def test_unknown_magic_suggests_close_name(kernel):
    _, kc = kernel
    res = execute(kc, "%lsmagi")
    assert res.status == "error"
    text = res.content["evalue"] + "".join(res.content["traceback"]) + res.stream("stderr")
    assert "lsmagic" in text
