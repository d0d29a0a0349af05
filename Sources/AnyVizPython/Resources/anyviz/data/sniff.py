"""Look at the first bytes of a file before parsing it.

Parsers give poor messages for files that are not what their name says (a ZIP called .csv, a
UTF-16 export, a one-line 50 MB blob), and some of them hang or eat memory on such input. So
every file is classified here from a bounded sample (never the whole file) and the loader only
parses files that passed, with the encoding, delimiter and compression decided here.
"""
from __future__ import annotations

import os
import re
from dataclasses import dataclass, field

from ..errors import DataError

#: Bytes looked at to decide format, encoding and delimiter (bounded memory, any file size).
SAMPLE_BYTES = 1 << 20

TEXT_EXTS = {".csv", ".tsv", ".tab", ".txt", ".dat", ".psv", ".data", ""}
PARQUET_EXTS = {".parquet", ".pq", ".parq"}
JSON_EXTS = {".json"}
JSONL_EXTS = {".jsonl", ".ndjson", ".jsonlines"}
EXCEL_EXTS = {".xlsx", ".xlsm", ".xls"}
FEATHER_EXTS = {".feather", ".arrow", ".ipc"}
COMPRESSION_EXTS = {".gz": "gzip", ".gzip": "gzip", ".bz2": "bz2", ".xz": "lzma",
                    ".zst": "zstd", ".zstd": "zstd"}

# (magic bytes, description, compression codec if it is a stream we can decompress)
_MAGIC = [
    (b"\x1f\x8b", "a gzip-compressed file", "gzip"),
    (b"BZh", "a bzip2-compressed file", "bz2"),
    (b"\xfd7zXZ\x00", "an xz-compressed file", "lzma"),
    (b"\x28\xb5\x2f\xfd", "a zstd-compressed file", "zstd"),
    (b"PK\x03\x04", "a ZIP archive", None),
    (b"PK\x05\x06", "a ZIP archive", None),
    (b"%PDF", "a PDF document", None),
    (b"\x89PNG", "a PNG image", None),
    (b"\xff\xd8\xff", "a JPEG image", None),
    (b"GIF8", "a GIF image", None),
    (b"\x7fELF", "an ELF executable", None),
    (b"MZ", "a Windows executable", None),
    (b"7z\xbc\xaf\x27\x1c", "a 7-Zip archive", None),
    (b"Rar!", "a RAR archive", None),
    (b"\xd0\xcf\x11\xe0", "an old-style Office document (OLE2, e.g. .xls)", None),
    (b"SQLite format 3\x00", "an SQLite database", None),
]
_BOMS = [(b"\xef\xbb\xbf", "utf-8-sig"), (b"\xff\xfe", "utf-16"), (b"\xfe\xff", "utf-16")]
_DELIMS = [",", ";", "\t", "|"]
_DELIM_NAMES = {",": "comma", ";": "semicolon", "\t": "tab", "|": "pipe"}


def env_int(name: str, default: int) -> int:
    """Read a positive integer limit from the environment, ignoring junk values."""
    try:
        value = int(os.environ.get(name, ""))
        return value if value > 0 else default
    except ValueError:
        return default


@dataclass
class FileInfo:
    """What the loader needs to know to parse one file."""

    path: str
    name: str                      # file name shown in messages
    size: int
    kind: str                      # "delimited" | "parquet" | "json" | "jsonl" | "excel" | "feather"
    compression: str | None = None
    encoding: str = "utf-8"
    sep: str = ","
    quoted_newlines: bool = False
    longest_line: int = 0
    decimal_comma: bool = False
    notices: list = field(default_factory=list)


def split_ext(name: str) -> tuple[str, str | None]:
    """Return (format extension, compression codec from the suffix) of a file name."""
    lower = name.lower()
    stem, ext = os.path.splitext(lower)
    codec = COMPRESSION_EXTS.get(ext)
    if codec:
        ext = os.path.splitext(stem)[1]
    return ext, codec


def read_sample(path: str, compression: str | None, nbytes: int = SAMPLE_BYTES) -> bytes:
    """First `nbytes` of the (decompressed) content; bounded memory for any file size."""
    if compression is None:
        with open(path, "rb") as fh:
            return fh.read(nbytes)
    import pyarrow as pa

    try:
        with pa.input_stream(path, compression=compression) as stream:
            return stream.read(nbytes)
    except Exception as exc:  # corrupt or truncated stream
        raise DataError(f"{os.path.basename(path)} looks {compression}-compressed but cannot be "
                        f"decompressed ({exc}). Check that the download finished, or "
                        f"decompress it yourself and %load the result.") from None


def _utf8_ok(sample: bytes, truncated: bool) -> int | None:
    """None if the sample is valid UTF-8 (a character cut at the end is fine), else the bad offset."""
    try:
        sample.decode("utf-8")
        return None
    except UnicodeDecodeError as exc:
        if truncated and exc.start >= len(sample) - 3 and exc.reason.startswith("unexpected end"):
            return None
        return exc.start


def sniff_delimiter(text: str) -> tuple[str | None, bool]:
    """Guess the delimiter from the first lines; also say whether quoted fields hold newlines.

    Quoted sections are removed first so commas inside quotes do not vote. The winner is the
    candidate whose per-line count is most consistent (ties: higher count, then list order).
    """
    quoted = re.findall(r'"(?:[^"]|"")*"', text[:200_000])
    quoted_newlines = any("\n" in q or "\r" in q for q in quoted)
    stripped = re.sub(r'"(?:[^"]|"")*"', '""', text[:200_000])
    lines = [ln for ln in stripped.splitlines()[:200] if ln.strip()]
    if len(lines) > 1 and not text.endswith(("\n", "\r")):
        lines = lines[:-1]  # the last line of a sample may be cut
    best, best_score = None, (0.0, 0)
    for delim in _DELIMS:
        counts = [ln.count(delim) for ln in lines]
        if not counts or max(counts) == 0:
            continue
        mode = max(set(counts), key=lambda c: (counts.count(c), c))
        if mode == 0:
            continue
        score = (counts.count(mode) / len(counts), mode)
        if score > best_score:
            best, best_score = delim, score
    return best, quoted_newlines


def _scan_line_length(path: str, compression: str | None, limit: int) -> int:
    """Length of the first line, reading in 1 MB steps and stopping at `limit` (bounded memory)."""
    import pyarrow as pa

    total = 0
    with pa.input_stream(path, compression=compression) as stream:
        while total <= limit:
            chunk = stream.read(1 << 20)
            if not chunk:
                return total
            pos = chunk.find(b"\n")
            if pos < 0:
                pos = chunk.find(b"\r")
            if pos >= 0:
                return total + pos
            total += len(chunk)
    return total


def inspect_file(path: str, *, display_name: str | None = None, encoding: str | None = None,
                 sep: str | None = None) -> FileInfo:
    """Classify a file from its first bytes; raise DataError with what to do when unusable."""
    name = display_name or os.path.basename(path)
    if not os.path.exists(path):
        raise DataError(f"{name}: no such file. Check the path (relative paths start at "
                        f"{os.getcwd()}).")
    if os.path.isdir(path):
        raise DataError(f"{name} is a folder, not a file. Use a glob such as {name}/*.csv.")
    size = os.path.getsize(path)
    max_mb = env_int("ANYVIZ_MAX_FILE_MB", 4096)
    if size > max_mb * 1024 * 1024:
        raise DataError(f"{name} is {size / 2**20:,.0f} MB, over the {max_mb} MB limit. Load a "
                        f"part with --nrows, or raise the limit with ANYVIZ_MAX_FILE_MB.")
    if size == 0:
        raise DataError(f"{name} is empty (0 bytes); there is nothing to load. Check that the "
                        f"file was written or downloaded completely.")
    ext, codec = split_ext(name)
    with open(path, "rb") as fh:
        head = fh.read(16)
    notices: list[str] = []

    kind = None
    if ext in PARQUET_EXTS:
        kind = "parquet"
    elif ext in EXCEL_EXTS:
        kind = "excel"
    elif ext in FEATHER_EXTS:
        kind = "feather"
    if kind is None:
        for magic, what, stream_codec in _MAGIC:
            if not head.startswith(magic):
                continue
            if stream_codec:
                if codec is None:
                    notices.append(f"{name} is {what} although its name does not say so; "
                                   f"decompressed it while loading.")
                codec = stream_codec
                break
            if what == "a ZIP archive":
                raise DataError(f"{name} is a ZIP archive, not text. Unzip it and %load the file "
                                f"inside (or, if it is an Excel workbook, give it an .xlsx name).")
            raise DataError(f"{name} is {what}, not a data file. %load reads CSV/TSV/delimited "
                            f"text, Parquet, JSON, JSON Lines and Excel.")
        if head.startswith(b"PAR1") and codec is None:
            kind = "parquet"
            if ext not in PARQUET_EXTS:
                notices.append(f"{name} is a Parquet file although its name does not say so; "
                               f"loaded it as Parquet.")
    if kind is not None:
        return FileInfo(path, name, size, kind, codec, notices=notices)

    sample = read_sample(path, codec)
    truncated = len(sample) >= SAMPLE_BYTES
    if not sample.strip():
        raise DataError(f"{name} is empty (only blank lines or spaces); there is nothing to load. "
                        f"Check that the file was saved completely, or %load the right file.")

    if encoding is None:
        for bom, enc in _BOMS:
            if sample.startswith(bom):
                encoding = enc
                if enc == "utf-16":
                    notices.append(f"{name} is UTF-16 text (byte-order mark); converted it.")
                break
    if encoding is None:
        if b"\x00" in sample:
            at = sample.index(b"\x00")
            raise DataError(f"{name} looks binary: it contains NUL bytes (first at byte {at}). "
                            f"If it is UTF-16 text without a byte-order mark, pass "
                            f"--encoding utf-16; otherwise it is not a text data file.")
        bad = _utf8_ok(sample, truncated)
        if bad is None:
            encoding = "utf-8"
        else:
            encoding = "latin-1"
            notices.append(f"{name} is not valid UTF-8 (byte 0x{sample[bad]:02X} at offset {bad}); "
                           f"read it as Latin-1. Pass --encoding (e.g. cp1252) if characters "
                           f"look wrong.")
    try:
        text = sample.decode(encoding, errors="replace")
    except LookupError:
        raise DataError(f"{name}: unknown encoding {encoding!r}. Use a Python codec name such as "
                        f"utf-8, latin-1, cp1252 or utf-16.") from None

    stripped = text.lstrip("\ufeff \t\r\n")
    if ext in JSONL_EXTS:
        kind = "jsonl"
    elif ext in JSON_EXTS:
        first_line = stripped.split("\n", 1)[0].strip()
        kind = "jsonl" if first_line.startswith("{") and first_line.endswith("}") and \
            "\n{" in stripped[:SAMPLE_BYTES] else "json"
    elif ext not in TEXT_EXTS and stripped[:1] in ("{", "["):
        kind = "json"
    else:
        kind = "delimited"
    info = FileInfo(path, name, size, kind, codec, encoding, notices=notices)
    if kind != "delimited":
        return info

    # A line with no end: refuse early instead of letting the parser buffer the whole file.
    max_line = env_int("ANYVIZ_MAX_LINE_MB", 16) * 1024 * 1024
    if truncated and "\n" not in text and "\r" not in text:
        length = _scan_line_length(path, codec, max_line)
        if length > max_line:
            raise DataError(f"{name}: line 1 is longer than {max_line // 2**20} MB with no line "
                            f"break, so this is not line-based delimited text (minified JSON? a "
                            f"binary dump?). If it is JSON, give it a .json name; to allow longer "
                            f"lines set ANYVIZ_MAX_LINE_MB.")
        info.longest_line = length
    else:
        longest = max(map(len, text.splitlines()), default=0)  # map: ~5x faster on 24k lines
        info.longest_line = longest * (2 if encoding == "utf-16" else 1)

    ext_sep = "\t" if ext in (".tsv", ".tab") else ("|" if ext == ".psv" else None)
    guessed, info.quoted_newlines = sniff_delimiter(text)
    if sep is not None:
        info.sep = sep
    elif ext_sep is not None:
        info.sep = ext_sep
    elif guessed is not None:
        info.sep = guessed
        if guessed != ",":
            notices.append(f"{name}: detected {_DELIM_NAMES[guessed]}-separated columns.")
    if info.sep == ";" and re.search(r"(?:^|;)-?\d+,\d+(?:;|$)", text[:200_000], re.M) \
            and not re.search(r"(?:^|;)-?\d+\.\d+(?:;|$)", text[:200_000], re.M):
        info.decimal_comma = True
        notices.append(f"{name}: numbers use a decimal comma (1,5); read them as numbers.")
    return info
