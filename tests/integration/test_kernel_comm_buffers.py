"""Binary buffers of comm messages, both ways, through jupyter_client: what ipywidgets' Image
and array widgets rely on. A front end's buffers reach the Python comm's `msg["buffers"]` as
memoryviews; `comm.send(data, buffers=[...])` reaches the front end as binary frames."""

from kernel_harness import collect_iopub, execute

ECHO_TARGET = """
import comm
import numpy as np
seen = []

def _open(c, msg):
    def _on_msg(m):
        bufs = m["buffers"]
        seen.append([(type(b).__name__, bytes(b)) for b in bufs])
        c.send({"count": len(bufs)},
               buffers=[bytes(reversed(bytes(b))) for b in bufs] + [np.arange(4, dtype="<i4")])
    c.on_msg(_on_msg)

comm.get_comm_manager().register_target("test.buffers", _open)
"""

# Every byte value, and one frame large enough to span several zmq chunks.
PAYLOADS = [bytes(range(256)), b"\x00" * 3 + b"tail", bytes(200_000)]


def _send(kc, msg_type, content, buffers=None):
    msg = kc.session.msg(msg_type, content=content)
    kc.session.send(kc.shell_channel.socket, msg, buffers=buffers)
    return msg["header"]["msg_id"]


def test_buffers_reach_python_and_come_back_as_binary_frames(kernel):
    _, kc = kernel
    assert execute(kc, ECHO_TARGET).status == "ok"
    opened = _send(kc, "comm_open", {"comm_id": "buf-1", "target_name": "test.buffers",
                                     "data": {}})
    collect_iopub(kc, opened, timeout=10)

    sent = _send(kc, "comm_msg", {"comm_id": "buf-1", "data": {"method": "custom"}},
                 buffers=PAYLOADS)
    outputs = collect_iopub(kc, sent, timeout=20)
    (reply,) = [m for m in outputs if m["msg_type"] == "comm_msg"]
    assert reply["content"]["data"] == {"count": 3}
    received = [bytes(b) for b in reply["buffers"]]
    assert received[:3] == [bytes(reversed(p)) for p in PAYLOADS]
    assert received[3] == bytes.fromhex("00000000010000000200000003000000")

    check = execute(kc, "print([(kind, len(data), data[:4]) for kind, data in seen[-1]])")
    assert check.stream() == ("[('memoryview', 256, b'\\x00\\x01\\x02\\x03'), "
                              "('memoryview', 7, b'\\x00\\x00\\x00t'), "
                              "('memoryview', 200000, b'\\x00\\x00\\x00\\x00')]\n")


def test_a_message_without_buffers_has_none(kernel):
    _, kc = kernel
    sent = _send(kc, "comm_msg", {"comm_id": "buf-1", "data": {}})
    (reply,) = [m for m in collect_iopub(kc, sent, timeout=10) if m["msg_type"] == "comm_msg"]
    assert reply["content"]["data"] == {"count": 0}
    assert [bytes(b) for b in reply["buffers"]] == [
        bytes.fromhex("00000000010000000200000003000000")]
    assert execute(kc, "seen[-1]").result_text() == "[]"


def test_a_non_contiguous_buffer_is_a_clear_error(kernel):
    _, kc = kernel
    result = execute(kc, "import comm, numpy as np\n"
                         "c = comm.create_comm(target_name='test.nobody')\n"
                         "c.send({}, buffers=[np.arange(10)[::2]])")
    assert result.status == "error"
    assert result.content["ename"] == "TypeError"
    assert "contiguous" in result.content["evalue"] and "ascontiguousarray" in result.content["evalue"]
    assert execute(kc, "'still alive'").result_text() == "'still alive'"
