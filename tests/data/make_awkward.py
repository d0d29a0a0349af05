"""Generate the corpus of bad and awkward files `%load` must handle (tests call write_corpus).

Binary and large files are generated, never committed. Run directly to write them into a folder:
    .venv/bin/python tests/data/make_awkward.py /tmp/awkward [--big]
"""
from __future__ import annotations

import gzip
import io
import os
import sys
import zipfile


def write_corpus(folder: str, big: bool = True) -> dict:
    """Write every awkward case into `folder`; returns {case: path}."""
    os.makedirs(folder, exist_ok=True)
    files: dict[str, bytes] = {}
    good = b"id,city,amount,day\n1,Berlin,10.5,2024-01-01\n2,Paris,20,2024-01-02\n3,Rome,,2024-01-03\n"

    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as zf:
        zf.writestr("inner.csv", good)
    files["report.csv"] = buf.getvalue()                       # ZIP named .csv
    files["doc.csv"] = b"%PDF-1.4\n%\xe2\xe3\xcf\xd3\n1 0 obj\n"  # PDF
    files["image.csv"] = b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR"  # PNG
    files["program.csv"] = b"\x7fELF\x02\x01\x01\x00" + b"\x00" * 64  # ELF
    files["nul.csv"] = b"a,b\n1,2\n3,\x004\n"                     # NUL bytes
    files["gz_named.csv"] = gzip.compress(good)                 # gzip without .gz
    files["good.csv.gz"] = gzip.compress(good)                  # proper .csv.gz
    files["empty.csv"] = b""
    files["blank.csv"] = b"\n\n   \n"
    files["header_only.csv"] = b"id,name,amount\n"
    files["bom.csv"] = b"\xef\xbb\xbf" + "id,café\n1,crème\n2,brûlée\n".encode("utf-8")
    files["utf16.csv"] = "id,name\n1,Zoë\n2,Łukasz\n".encode("utf-16")  # with BOM
    files["latin1.csv"] = "id,name\n1,Müller\n2,Señor\n".encode("latin-1")
    files["semicolon.csv"] = b"id;city;amount\n1;Berlin;10,5\n2;Paris;20\n3;Rome;7\n"
    files["tabbed.txt"] = b"id\tcity\tamount\n1\tBerlin\t10.5\n2\tParis\t20\n"
    files["piped.txt"] = b"id|city|amount\n1|Berlin|10.5\n2|Paris|20\n"
    files["ragged.csv"] = b"a,b,c\n1,2,3\n4,5\n6,7,8\n9,10,11,12\n13,14,15\n"
    files["quoted_newlines.csv"] = (b'id,comment,score\n1,"first line\nsecond line",5\n'
                                    b'2,"plain, with comma",7\n3,"say ""hi""\nagain",9\n')
    files["dup_cols.csv"] = b"id,amount,amount,,note\n1,2,3,4,x\n5,6,7,8,y\n"
    files["mixed_types.csv"] = b"code,value\n" + b"".join(b"%d,%d\n" % (i, i) for i in range(2000)) \
        + b"A12,5\n"
    files["dates.csv"] = (b"d,ts,label\n2024-01-05,2024-01-05 10:30:00,a\n"
                          b"2024-02-06,2024-02-06T11:00:00,b\n,,c\n")
    files["records.json"] = b'[{"id": 1, "name": "a", "when": "2024-03-01"}, {"id": 2, "name": "b", "when": "2024-03-02"}]'
    files["lines.jsonl"] = b'{"id": 1, "x": 1.5}\n{"id": 2, "x": 2.5}\n{"id": 3, "x": null}\n'
    files["wide.csv"] = (",".join(f"c{i}" for i in range(10_000)) + "\n"
                         + ",".join(str(i) for i in range(10_000)) + "\n"
                         + ",".join(str(i * 2) for i in range(10_000)) + "\n").encode()
    for name, data in files.items():
        with open(os.path.join(folder, name), "wb") as fh:
            fh.write(data)
    if big:
        # 50 MB with no newline, written in chunks (bounded memory)
        with open(os.path.join(folder, "one_line.csv"), "wb") as fh:
            chunk = b"abc," * (1 << 18)
            for _ in range(50):
                fh.write(chunk)
    return {name: os.path.join(folder, name) for name in os.listdir(folder)}


if __name__ == "__main__":
    out = write_corpus(sys.argv[1] if len(sys.argv) > 1 else "awkward", big="--big" in sys.argv)
    print("\n".join(sorted(out)))


#: Bad file -> fragments its %load error must contain: what is wrong, and what to do. Shared by
#: the unit tests (fake bridge) and the end-to-end tests (real kernel).
BAD_FILE_MESSAGES = {
    "report.csv": ["report.csv is a ZIP archive, not text", "Unzip"],
    "doc.csv": ["doc.csv is a PDF document"],
    "image.csv": ["image.csv is a PNG image"],
    "program.csv": ["program.csv is an ELF executable"],
    "nul.csv": ["nul.csv looks binary", "NUL bytes", "--encoding utf-16"],
    "empty.csv": ["empty.csv is empty (0 bytes)"],
    "blank.csv": ["blank.csv is empty"],
    "ragged.csv": ["ragged.csv has rows with the wrong number of fields", "line 3", "line 5",
                   "--on-bad-lines skip"],
    "one_line.csv": ["one_line.csv: line 1 is longer than 16 MB", "ANYVIZ_MAX_LINE_MB"],
}
