"""Draw the kernelspec logos (a small bar chart) as PNGs without any imaging library.

Run with the project venv: `.venv/bin/python scripts/make_logos.py`. Kept in the repo so the
logos can be regenerated at other sizes; output goes to kernelspec/logo-NxN.png.
"""
import os
import struct
import zlib

BG = (30, 41, 59, 255)          # slate
BARS = [(56, 189, 248, 255), (129, 140, 248, 255), (244, 114, 182, 255), (250, 204, 21, 255)]
HEIGHTS = [0.45, 0.75, 0.55, 0.9]


def _png(width, rows):
    def chunk(tag, data):
        return struct.pack(">I", len(data)) + tag + data + struct.pack(">I", zlib.crc32(tag + data))
    raw = b"".join(b"\x00" + bytes(v for px in row for v in px) for row in rows)
    header = struct.pack(">IIBBBBB", width, len(rows), 8, 6, 0, 0, 0)
    return (b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header)
            + chunk(b"IDAT", zlib.compress(raw, 9)) + chunk(b"IEND", b""))


def draw(size):
    rows = [[BG] * size for _ in range(size)]
    margin = max(2, size // 8)
    inner = size - 2 * margin
    slot = inner / len(HEIGHTS)
    for i, (h, colour) in enumerate(zip(HEIGHTS, BARS)):
        x0 = int(margin + i * slot + slot * 0.15)
        x1 = int(margin + (i + 1) * slot - slot * 0.15)
        top = int(size - margin - h * inner)
        for y in range(top, size - margin):
            for x in range(x0, x1):
                rows[y][x] = colour
    return _png(size, rows)


if __name__ == "__main__":
    out = os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), "kernelspec")
    for n in (32, 64):
        with open(os.path.join(out, f"logo-{n}x{n}.png"), "wb") as f:
            f.write(draw(n))
