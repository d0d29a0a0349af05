"""The wire format between the kernel's guard and its chart worker, both directions: a 16-byte
header (two big-endian u64: JSON header length, payload length), the JSON header, the payload
bytes. Only JSON and plain bytes cross it from the worker (never pickle), so a subverted chart
process can at worst send a wrong chart, not code that runs in the kernel."""
from __future__ import annotations

import json
import os
import struct

HEADER = struct.Struct(">QQ")
_CHUNK = 1 << 22


def read_exact(fd: int, n: int) -> bytes | None:
    """`n` bytes from `fd`, or None if it closes first."""
    chunks = []
    while n:
        chunk = os.read(fd, min(n, _CHUNK))
        if not chunk:
            return None
        chunks.append(chunk)
        n -= len(chunk)
    return b"".join(chunks)


def write_all(fd: int, data) -> None:
    view = memoryview(data)
    while view:
        written = os.write(fd, view[:_CHUNK])
        view = view[written:]


def send(fd: int, header: dict, payload: bytes = b"") -> None:
    head = json.dumps(header).encode()
    write_all(fd, HEADER.pack(len(head), len(payload)) + head)
    if payload:
        write_all(fd, payload)


def recv(fd: int):
    """(header, payload) of the next message, or (None, None) if `fd` closes mid-way."""
    raw = read_exact(fd, HEADER.size)
    if raw is None:
        return None, None
    hlen, plen = HEADER.unpack(raw)
    head = read_exact(fd, hlen)
    payload = read_exact(fd, plen) if plen else b""
    if head is None or payload is None:
        return None, None
    return json.loads(head), payload


def message_size(buf) -> int | None:
    """Bytes of the whole message at the start of `buf`, once its fixed header has arrived."""
    if len(buf) < HEADER.size:
        return None
    hlen, plen = HEADER.unpack_from(buf)
    return HEADER.size + hlen + plen


def complete(buf) -> bool:
    size = message_size(buf)
    return size is not None and len(buf) >= size


def parse(buf) -> tuple[dict, bytes]:
    """Header and payload of the complete message at the start of `buf`."""
    hlen, plen = HEADER.unpack_from(buf)
    start = HEADER.size
    return json.loads(bytes(buf[start:start + hlen])), bytes(buf[start + hlen:start + hlen + plen])


def parse_header(buf) -> dict:
    """The JSON header of the message at the start of `buf` (its payload may still be missing)."""
    hlen, _ = HEADER.unpack_from(buf)
    return json.loads(bytes(buf[HEADER.size:HEADER.size + hlen]))
