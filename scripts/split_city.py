#!/usr/bin/env python3
"""Splits a city's registry (and optionally a readings file) among district
nodes, for a three-tier cluster (README "Three tiers").

    split_city.py REGISTRY_DIR OUT_DIR GROUP [GROUP ...] [--readings FILE]

Each GROUP is a comma-separated list of district codes (D01 or D03,D04);
group k (from 1) gets OUT_DIR/k/{districts,enterprises,meters,stations}.csv
with its districts and everything in them, and, with --readings, the
readings of its meters and stations in OUT_DIR/k/readings.csv. A district
named in no group, or in two, is an error: every reading must have exactly
one district node.
"""
import csv
import os
import sys

FILES = ("districts", "enterprises", "meters", "stations")


def rows(path):
    """(comment and header lines, data rows) of a registry CSV."""
    head, data = [], []
    with open(path, newline="", encoding="utf-8") as f:
        for line in f:
            if line.startswith("#") or not line.strip():
                continue
            if not head:
                head.append(line)
                continue
            data.append(line)
    return head, data


def field(line, i):
    return next(csv.reader([line]))[i].strip()


def main(argv):
    readings = None
    if "--readings" in argv:
        i = argv.index("--readings")
        if i + 1 >= len(argv):
            sys.exit("split_city.py: --readings needs a file")
        readings = argv[i + 1]
        del argv[i : i + 2]
    if len(argv) < 4:
        sys.exit(__doc__)
    src, out, groups = argv[1], argv[2], [g.split(",") for g in argv[3:]]
    owner = {}
    for k, g in enumerate(groups, 1):
        for d in g:
            if d in owner:
                sys.exit(f"split_city.py: district {d} is in groups {owner[d]} and {k}")
            owner[d] = k
    table = {f: rows(os.path.join(src, f + ".csv")) for f in FILES}
    districts = [field(l, 0) for l in table["districts"][1]]
    for d in districts:
        if d not in owner:
            sys.exit(f"split_city.py: district {d} is in no group")
    ent = {field(l, 0): field(l, 2) for l in table["enterprises"][1]}
    meter = {field(l, 0): ent[field(l, 1)] for l in table["meters"][1]}
    station = {field(l, 0): field(l, 2) for l in table["stations"][1]}
    district_of = {
        "districts": lambda l: field(l, 0),
        "enterprises": lambda l: field(l, 2),
        "meters": lambda l: ent[field(l, 1)],
        "stations": lambda l: field(l, 2),
    }
    for k in range(1, len(groups) + 1):
        os.makedirs(os.path.join(out, str(k)), exist_ok=True)
        for f in FILES:
            head, data = table[f]
            with open(os.path.join(out, str(k), f + ".csv"), "w", encoding="utf-8") as o:
                o.writelines(head)
                o.writelines(l for l in data if owner[district_of[f](l)] == k)
    if readings is None:
        return
    outs = [open(os.path.join(out, str(k), "readings.csv"), "w", encoding="utf-8") for k in range(1, len(groups) + 1)]
    with open(readings, encoding="utf-8") as f:
        for line in f:
            if line.startswith("#") or line.startswith("series,") or not line.strip():
                for o in outs:
                    o.write(line)
                continue
            code = line.split(",", 1)[0]
            d = station.get(code.split(":", 1)[0]) if ":" in code else meter.get(code)
            if d is None:
                sys.exit(f"split_city.py: {readings}: series {code} is not in the registry")
            outs[owner[d] - 1].write(line)
    for o in outs:
        o.close()


if __name__ == "__main__":
    main(sys.argv)
