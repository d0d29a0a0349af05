"""Garbage on the shell and control sockets must be dropped without executing anything.

10,000 frames (random bytes, truncated messages, unsigned, wrongly signed and bad-JSON
messages) are sent from raw DEALER sockets. Many of them carry execute_requests that would set
a marker variable; afterwards the marker must not exist and no execute_input may have been
published. A correctly signed kernel_info_request sent last on the same DEALER proves the
kernel has worked through everything before it (per-peer order is preserved by ROUTER).
"""
import hashlib
import hmac
import json
import os
import random
import uuid

import zmq

from kernel_harness import execute, start_kernel, stop_kernel

TOTAL_MESSAGES = 10_000
DELIM = b"<IDS|MSG>"


def _header(msg_type, session):
    return {"msg_id": uuid.uuid4().hex, "session": session, "username": "attacker",
            "date": "2024-01-01T00:00:00.000000Z", "msg_type": msg_type, "version": "5.3"}


def _sign(key, parts):
    h = hmac.new(key, digestmod=hashlib.sha256)
    for p in parts:
        h.update(p)
    return h.hexdigest().encode()


def _parts(msg_type, content, session):
    return [json.dumps(_header(msg_type, session)).encode(), b"{}", b"{}",
            json.dumps(content).encode()]


def hostile_messages(key, rng):
    """Yield multipart messages, cycling through every kind of bad input."""
    session = uuid.uuid4().hex
    wrong_key = b"not-the-key-" + uuid.uuid4().hex.encode()
    execute = {"code": "pwned = 'executed'", "silent": False, "store_history": True,
               "user_expressions": {}, "allow_stdin": False, "stop_on_error": False}
    kinds = [
        lambda: [rng.randbytes(rng.randint(0, 64))],                       # random single frame
        lambda: [rng.randbytes(8) for _ in range(rng.randint(2, 12))],     # random multipart
        lambda: [DELIM],                                                   # delimiter only
        lambda: [DELIM, b"abc"],                                           # truncated
        lambda: [DELIM, b""] + _parts("execute_request", execute, session),  # unsigned
        lambda: [DELIM, b"00" * 32] + _parts("execute_request", execute, session),  # bogus sig
        lambda: [DELIM, _sign(wrong_key, p := _parts("execute_request", execute, session))] + p,
        # Correctly signed but broken: bad JSON, header without msg_type, wrong content types.
        lambda: [DELIM, _sign(key, p := [b"{not json", b"{}", b"{}", b"{}"])] + p,
        lambda: [DELIM, _sign(key, p := [b'{"msg_id": "x"}', b"{}", b"{}", b'{"code": 1}'])] + p,
        lambda: [DELIM, _sign(key, p := [json.dumps(_header("execute_request", session)).encode(),
                                         b"{}", b"{}", b'["not", "a", "dict"]'])] + p,
        lambda: [DELIM, _sign(key, p := [json.dumps(_header("no_such_request", session)).encode(),
                                         b"{}", b"{}", b"{}"])] + p,
        # Signed over the wrong frames (signature of a different message).
        lambda: [DELIM, _sign(key, _parts("kernel_info_request", {}, session))]
        + _parts("execute_request", execute, session),
    ]
    i = 0
    while True:
        yield kinds[i % len(kinds)]()
        i += 1


def test_hostile_frames_are_dropped_and_kernel_survives():
    km, kc = start_kernel()
    key = km.session.key
    ctx = zmq.Context()
    socks = {}
    try:
        for name, port in (("shell", kc.shell_port), ("control", kc.control_port)):
            s = ctx.socket(zmq.DEALER)
            s.setsockopt(zmq.LINGER, 0)
            s.setsockopt(zmq.SNDTIMEO, 30_000)
            s.connect(f"{kc.transport}://{kc.ip}:{port}")
            socks[name] = s
        rng = random.Random(20240601)
        gen = hostile_messages(key, rng)
        for n in range(TOTAL_MESSAGES):
            socks["shell" if n % 2 == 0 else "control"].send_multipart(next(gen))

        # One valid request per socket, sent last: its reply means the flood before it is done.
        session = uuid.uuid4().hex
        for name, s in socks.items():
            parts = _parts("kernel_info_request", {}, session)
            s.send_multipart([DELIM, _sign(key, parts)] + parts)
            assert s.poll(120_000), f"kernel did not answer on {name} after the flood"
            frames = s.recv_multipart()
            header = json.loads(frames[frames.index(DELIM) + 2])
            assert header["msg_type"] == "kernel_info_reply"
        assert km.is_alive()

        res = execute(kc, "'pwned' in globals()")
        assert res.status == "ok"
        assert res.result_text() == "False", "a forged execute_request was executed"
        # No forged request may have produced an execute_input on IOPub.
        leaked = []
        while True:
            try:
                msg = kc.get_iopub_msg(timeout=0.2)
            except Exception:
                break
            if msg["msg_type"] == "execute_input" and "pwned" in msg["content"]["code"]:
                leaked.append(msg)
        assert not leaked
    finally:
        for s in socks.values():
            s.close()
        ctx.term()
        stop_kernel(km, kc)
