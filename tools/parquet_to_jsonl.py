#!/usr/bin/env python3
"""Converts Parquet files (the Hugging Face hub's format for FineWeb,
SlimPajama, ...) to the JSON Lines photon-sim reads, one object per row with
every column (nested columns stay nested, so e.g. [data] text_key = text and
[data] source_field = meta.source work on the result).  Reads batch by batch:
memory stays small whatever the file's size.

usage: python3 tools/parquet_to_jsonl.py IN.parquet [IN2.parquet ...] OUT.jsonl[.gz]
       python3 tools/parquet_to_jsonl.py IN.parquet - | zstd -q -o OUT.jsonl.zst
       options: --columns text,meta   only these columns
                --batch N             rows per batch (default 10000)
Needs pyarrow (pip install pyarrow; tools/pyenv.sh installs it into .venv)."""
import argparse
import datetime
import decimal
import gzip
import json
import sys


def plain(v):
    """JSON-serialisable form of what pyarrow's to_pylist gives."""
    if isinstance(v, dict):
        return {k: plain(x) for k, x in v.items()}
    if isinstance(v, (list, tuple)):
        return [plain(x) for x in v]
    if isinstance(v, (bytes, bytearray)):
        return v.decode("utf-8", errors="replace")
    if isinstance(v, (datetime.date, datetime.datetime, datetime.time)):
        return v.isoformat()
    if isinstance(v, decimal.Decimal):
        return str(v)
    return v


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("paths", nargs="+", help="input .parquet files, then the output (.jsonl, .jsonl.gz or -)")
    ap.add_argument("--columns", default="", help="comma-separated columns to keep (default: all)")
    ap.add_argument("--batch", type=int, default=10000)
    a = ap.parse_args()
    if len(a.paths) < 2:
        ap.error("give at least one input and the output")
    try:
        import pyarrow.parquet as pq
    except ImportError:
        sys.exit("parquet_to_jsonl.py: needs pyarrow (pip install pyarrow)")
    *inputs, out_path = a.paths
    columns = [c for c in a.columns.split(",") if c] or None
    if out_path == "-":
        out = sys.stdout
    elif out_path.endswith(".gz"):
        out = gzip.open(out_path, "wt", encoding="utf-8")
    else:
        out = open(out_path, "w", encoding="utf-8")
    rows = 0
    with out:
        for path in inputs:
            f = pq.ParquetFile(path)
            for batch in f.iter_batches(batch_size=a.batch, columns=columns):
                for row in batch.to_pylist():
                    out.write(json.dumps(plain(row), ensure_ascii=False) + "\n")
                    rows += 1
    print(f"parquet_to_jsonl.py: {rows} rows from {len(inputs)} file(s) to {out_path}", file=sys.stderr)


if __name__ == "__main__":
    main()
