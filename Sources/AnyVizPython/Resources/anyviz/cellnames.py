"""Cell file names as ipykernel gives them (`<tmp>/ipykernel_<pid>/<hash>.py`), so warnings,
`obj?` and SyntaxError messages read as they do under ipykernel; used by the shell's compiler
and by the cells run before the shell is ready (anyviz.startup)."""
from __future__ import annotations

import functools
import os


def murmur2(data: bytes, seed: int) -> int:
    """MurmurHash2 (32-bit), the hash ipykernel names cell files with."""
    m, length = 0x5BD1E995, len(data)
    h = (seed ^ length) & 0xFFFFFFFF
    end = length & ~3
    for i in range(0, end, 4):
        k = int.from_bytes(data[i:i + 4], "little")
        k = (k * m) & 0xFFFFFFFF
        k ^= k >> 24
        k = (k * m) & 0xFFFFFFFF
        h = ((h * m) & 0xFFFFFFFF) ^ k
    tail = data[end:]
    if tail:
        h ^= int.from_bytes(tail, "little")
        h = (h * m) & 0xFFFFFFFF
    h ^= h >> 13
    h = (h * m) & 0xFFFFFFFF
    return h ^ (h >> 15)


@functools.lru_cache(maxsize=1024)
def cell_file_name(raw_code: str, pid: int) -> str:
    """ipykernel's `<tmp>/ipykernel_<pid>/<hash>.py`; re-run cells keep their name without
    hashing them again."""
    import tempfile

    folder = os.path.join(tempfile.gettempdir(), f"ipykernel_{pid}")
    return os.path.join(folder, f"{murmur2(raw_code.encode('utf-8'), 0xC70F6907)}.py")
