#!/usr/bin/env python3
"""gen_manifest.py - converts EvoApproxLib's manifest.json into luts/manifest.tsv.

Run once when the shipped tables change; the program itself reads only the TSV (format in
docs/luts.md). Usage: scripts/gen_manifest.py /work/shared/evoapprox/manifest.json luts/manifest.tsv
Numbers keep the digits the library published (shortest repr), integers lose the ".0";
null becomes an empty field. Entries are sorted by name so the output is stable.
"""
import json
import os
import sys

COLUMNS = ["name", "family", "a_bits", "w_bits", "signed", "file", "subset",
           "mae_pct", "mae", "wce_pct", "wce", "wcre_pct", "ep_pct", "mre_pct", "mse",
           "power_mw", "area_um2", "delay_ns"]


def field(value):
    if value is None:
        return ""
    if isinstance(value, bool):
        return "1" if value else "0"
    if isinstance(value, float) and value.is_integer() and abs(value) < 1e15:
        return str(int(value))
    text = repr(value) if isinstance(value, float) else str(value)
    if any(c in text for c in "\t\n\r"):
        raise ValueError(f"field {text!r} contains a tab or newline")
    return text


def main():
    if len(sys.argv) != 3:
        sys.exit("usage: gen_manifest.py MANIFEST_JSON OUTPUT_TSV")
    with open(sys.argv[1], encoding="utf-8") as f:
        entries = json.load(f)
    lines = ["\t".join(COLUMNS)]
    for e in sorted(entries, key=lambda e: e["name"]):
        row = dict(e, w_bits=e["b_bits"])
        lines.append("\t".join(field(row[c]) for c in COLUMNS))
    tmp = sys.argv[2] + ".tmp"
    with open(tmp, "w", encoding="utf-8", newline="\n") as f:
        f.write("\n".join(lines) + "\n")
    os.replace(tmp, sys.argv[2])


if __name__ == "__main__":
    main()
