#!/usr/bin/env python3
"""air_check.py: an independent computation of the air-quality statistics
the daemon reports (DOMAIN.md 7 and 8), for test_it_air.c.

  air_check.py generate OUT.csv      write 18 months of hourly readings
  air_check.py check OUT.csv BIN CONTROL
                                     recompute everything from OUT.csv and
                                     compare with `BIN/ecoroll air ... --json`

Written from DOMAIN.md, not from the C code: its own breakpoint tables,
exact rational arithmetic (fractions.Fraction) and the standard's rules.
The only shared conventions are the report's display ones (1 decimal for
ug/m3, 2 for CO in mg/m3, half to even) and what counts as a day with a
valid AQI (every pollutant the entity measures valid; under HJ 633-2026 a
day missing one only when its AQI is published, > 100), which are part of
the report's definition and documented in node/air.c.
"""
import csv
import json
import random
import subprocess
import sys
from datetime import date, datetime, timedelta, timezone
from fractions import Fraction as F

OFF = timezone(timedelta(hours=8))
START = date(2025, 1, 1)
END = date(2026, 7, 1)  # exclusive: crosses the 2026-03-01 switch
SWITCH = date(2026, 3, 1)
POLS = ["pm25", "pm10", "o3", "no2", "so2", "co"]
MDA8_LIMIT = 160
MICRO = 10**6

# DOMAIN.md 7: IAQI breakpoints (2012); 2026 differs at PM10/PM2.5 100.
IAQI = [0, 50, 100, 150, 200, 300, 400, 500]
BP12 = {
    "so2_24h": [0, 50, 150, 475, 800, 1600, 2100, 2620],
    "so2_1h": [0, 150, 500, 650, 800, None, None, None],
    "no2_24h": [0, 40, 80, 180, 280, 565, 750, 940],
    "no2_1h": [0, 100, 200, 700, 1200, 2340, 3090, 3840],
    "pm10_24h": [0, 50, 150, 250, 350, 420, 500, 600],
    "co_24h": [0, 2, 4, 14, 24, 36, 48, 60],
    "co_1h": [0, 5, 10, 35, 60, 90, 120, 150],
    "o3_1h": [0, 160, 200, 300, 400, 800, 1000, 1200],
    "o3_8h": [0, 100, 160, 215, 265, 800, None, None],
    "pm25_24h": [0, 35, 75, 115, 150, 250, 350, 500],
}
BP26 = {k: list(v) for k, v in BP12.items()}
BP26["pm10_24h"][2] = 120
BP26["pm25_24h"][2] = 60
ORDER = ["so2_24h", "so2_1h", "no2_24h", "no2_1h", "pm10_24h", "co_24h", "co_1h", "o3_1h", "o3_8h", "pm25_24h"]
CATS = [(50, "excellent (优)"), (100, "good (良)"), (150, "light (轻度污染)"), (200, "moderate (中度污染)"),
        (300, "heavy (重度污染)"), (10**9, "severe (严重污染)")]


def half_even(x):
    """Fraction -> nearest int, ties to even (GB/T 8170)."""
    f = x.numerator // x.denominator
    r = x - f
    if r > F(1, 2) or (r == F(1, 2) and f % 2 == 1):
        f += 1
    return f


def micro(x):
    return F(half_even(x * MICRO), MICRO)


def iaqi(col, c, rules2026):
    bp = (BP26 if rules2026 else BP12)[col]
    if rules2026:
        q = F(1, 10) if col.startswith("co") else F(1)
        c = half_even(c / q) * q
    top = max(i for i in range(8) if bp[i] is not None)
    if c > bp[top]:
        return 500 if top == 7 else None
    for i in range(1, top + 1):
        if c <= bp[i]:
            x = F(IAQI[i] - IAQI[i - 1]) * (c - bp[i - 1]) / (bp[i] - bp[i - 1])
            return IAQI[i - 1] + -((-x.numerator) // x.denominator)  # ceil
    return None


def aqi_of(values, rules2026):
    """values: col -> Fraction, the columns the daily AQI uses."""
    need = ["so2_24h", "no2_24h", "pm10_24h", "co_24h", "pm25_24h", "o3_8h"] + ([] if rules2026 else ["o3_1h"])
    iq = {}
    missing = False
    for col in need:
        if col not in values:
            missing = True
            continue
        v = iaqi(col, values[col], rules2026)
        if v is None:  # O3 8h > 800: 2012 uses O3 1h, 2026 gives 300 (never in these data)
            v = 300 if rules2026 else None
        if v is not None:
            iq[col] = v
    if not iq:
        return None
    a = max(iq.values())
    if rules2026 and missing and a <= 100:
        return None  # NA
    prim = [c for c in ORDER if iq.get(c) == a] if a > 50 else []
    cat = next(name for hi, name in CATS if a <= hi)
    return a, cat, ";".join(prim) if prim else "-"


def dec(v):
    """An exact decimal text of a Fraction whose denominator divides 10^6."""
    n = v * MICRO
    assert n.denominator == 1
    n = n.numerator
    return f"{'-' if n < 0 else ''}{abs(n) // MICRO}.{abs(n) % MICRO:06d}".rstrip("0").rstrip(".")


def stations():
    out = []
    with open("conf/sample-city/stations.csv", encoding="utf-8") as f:
        rows = [r for r in csv.reader(line for line in f if not line.startswith("#"))]
    for r in rows[1:]:
        out.append({"code": r[0], "district": r[2], "pols": r[3].split(";"), "eval": r[4] == "yes"})
    return out


def hours():
    t = datetime(START.year, START.month, START.day, tzinfo=OFF)
    end = datetime(END.year, END.month, END.day, tzinfo=OFF)
    while t < end:
        yield t
        t += timedelta(hours=1)


def generate(path):
    rnd = random.Random(20260301)
    st = stations()
    with open(path, "w") as f:
        f.write("series,time,value\n")
        for t in hours():
            d = t.date()
            for s in st:
                # S02 is down for 5 days in March 2025; S03 loses 6-hour
                # blocks now and then; everything loses 3% of its hours.
                if s["code"] == "S02" and date(2025, 3, 10) <= d < date(2025, 3, 15):
                    continue
                if s["code"] == "S03" and d.day % 9 == 0 and 6 <= t.hour < 12:
                    continue
                smog = F(11, 5) if d.day in (3, 4, 17) and d.month in (1, 12, 2) else F(1)
                for p in s["pols"]:
                    if rnd.random() < 0.03:
                        continue
                    if p == "pm25":
                        v = F(rnd.randint(10, 90)) * F(smog) + rnd.choice([0, F(1, 2)])
                    elif p == "pm10":
                        v = F(rnd.randint(20, 140)) * F(smog) + rnd.choice([0, F(1, 2)])
                    elif p == "o3":
                        v = F(rnd.randint(20, 90) + (110 if 12 <= t.hour <= 16 and 5 <= d.month <= 8 else 0))
                    elif p == "no2":
                        v = F(rnd.randint(10, 90))
                    elif p == "so2":
                        v = F(rnd.randint(2, 40))
                    else:
                        v = F(rnd.randint(3, 25), 10) + rnd.choice([0, F(5, 100)])
                    end = t + timedelta(hours=1)  # a reading closes its hour
                    f.write(f"{s['code']}:{p},{end.isoformat()},{dec(v)}\n")


def load(path):
    """(station, pollutant) -> {local hour start: Fraction}"""
    data = {}
    with open(path) as f:
        next(f)
        for line in f:
            series, ts, val = line.strip().split(",")
            code, p = series.split(":")
            t = datetime.fromisoformat(ts) - timedelta(hours=1)
            data.setdefault((code, p), {})[t] = F(val)
    return data


def station_day(data, code, pol, d):
    """daily mean (or MDA8 for o3, and the O3 max 1h), None if invalid"""
    hrs = data.get((code, pol), {})
    day0 = datetime(d.year, d.month, d.day, tzinfo=OFF)
    vals = [hrs.get(day0 + timedelta(hours=h)) for h in range(24)]
    valid = [v for v in vals if v is not None]
    if pol != "o3":
        return sum(valid) / len(valid) if len(valid) >= 20 else None
    wins = []
    for k in range(17):  # windows [k, k+8): ending 08时..24时
        w = [v for v in vals[k:k + 8] if v is not None]
        if len(w) >= 6:
            wins.append(sum(w) / len(w))
    mda8 = max(wins) if wins and (len(wins) >= 14 or max(wins) > MDA8_LIMIT) else None
    max1h = max(valid) if len(valid) >= 20 else None
    return mda8, max1h


def fmt(pol, x):
    if x is None:
        return "-"
    x = micro(x)
    if pol == "co":
        q = half_even(x * 100)
        return f"{q // 100}.{q % 100:02d}"
    q = half_even(x * 10)
    return f"{q // 10}.{q % 10}"


def entity_days(data, members, measured):
    """date -> dict of values for the entity (a station or a mean of stations)"""
    out = {}
    d = START
    while d < END:
        acc = {p: [] for p in POLS}
        o31 = []
        for code in members:
            for p in POLS:
                if (code, p) not in data:
                    continue
                if p == "o3":
                    mda8, max1h = station_day(data, code, "o3", d)
                    if mda8 is not None:
                        acc["o3"].append(micro(mda8))
                    if max1h is not None:
                        o31.append(micro(max1h))
                else:
                    v = station_day(data, code, p, d)
                    if v is not None:
                        acc[p].append(micro(v))
        day = {p: (sum(acc[p]) / len(acc[p]) if acc[p] else None) for p in POLS}
        day["o3_1h"] = sum(o31) / len(o31) if o31 else None
        cols = {"pm25_24h": day["pm25"], "pm10_24h": day["pm10"], "no2_24h": day["no2"], "so2_24h": day["so2"],
                "co_24h": day["co"], "o3_8h": day["o3"], "o3_1h": day["o3_1h"]}
        r26 = d >= SWITCH
        have = {k: v for k, v in cols.items() if v is not None and (k != "o3_1h" or not r26)}
        res = aqi_of(have, r26)
        complete = all(day[p] is not None for p in measured)
        day["aqi"] = res
        day["aqi_ok"] = res is not None and (complete or res[0] > 100)
        day["rules"] = "HJ 633-2026" if r26 else "HJ 633-2012"
        out[d] = day
        d += timedelta(days=1)
    return out


def run(binary, control, *args):
    p = subprocess.run([f"{binary}/ecoroll", "air", *args, "--control", control, "--json"], capture_output=True,
                       text=True)
    if p.returncode != 0:
        sys.exit(f"air_check: ecoroll air {' '.join(args)} failed: {p.stderr.strip()}")
    return json.loads(p.stdout)


def check(path, binary, control):
    data = load(path)
    st = stations()
    bad = []

    def expect(what, got, want):
        if got != want and len(bad) < 30:
            bad.append(f"{what}: daemon {got!r}, expected {want!r}")

    entities = [("--station", s["code"], [s["code"]], s["pols"]) for s in st]
    ev = [s for s in st if s["eval"]]
    entities.append(("--city", None, [s["code"] for s in ev], sorted({p for s in ev for p in s["pols"]})))
    d01 = [s for s in ev if s["district"] == "D01"]
    entities.append(("--district", "D01", [s["code"] for s in d01], sorted({p for s in d01 for p in s["pols"]})))
    checked = 0
    for flag, code, members, measured in entities:
        days = entity_days(data, members, measured)
        who = [flag] + ([code] if code else [])
        name = code or "city"
        rep = run(binary, control, "daily", *who, "--from", START.isoformat(), "--to", END.isoformat())
        rows = {r["day"]: r for r in rep["rows"]}
        expect(f"{name} day count", len(rows), len(days))
        for d, day in days.items():
            r = rows.get(d.isoformat())
            if r is None:
                expect(f"{name} {d}", None, "a row")
                continue
            for col, p in (("pm25", "pm25"), ("pm10", "pm10"), ("o3_8h", "o3"), ("no2", "no2"), ("so2", "so2"),
                           ("co (mg/m3)", "co")):
                expect(f"{name} {d} {col}", r[col], fmt(p, day[p]) if p in measured else "-")
            expect(f"{name} {d} o3_1h", r["o3_1h"], fmt("o3", day["o3_1h"]))
            a = day["aqi"]
            expect(f"{name} {d} aqi", r["aqi"], str(a[0]) if a else "NA")
            if a:
                expect(f"{name} {d} category", r["category"], a[1])
                expect(f"{name} {d} primary", r["primary"], a[2])
            expect(f"{name} {d} rules", r["rules"], day["rules"])
            checked += 1
        # the annual evaluation of 2025
        rep = run(binary, control, "annual", *who, "--year", "2025")
        year = {d: v for d, v in days.items() if d.year == 2025}
        pct = {"pm25": 95, "pm10": 95, "o3": 90, "no2": 98, "so2": 98, "co": 95}
        rows = {r["pollutant"]: r for r in rep["rows"]}
        for p in measured:
            r = rows.get("o3 (MDA8)" if p == "o3" else p)
            vals = [v[p] for v in year.values() if v[p] is not None]
            expect(f"{name} 2025 {p} annual mean", r["annual_mean"], fmt(p, sum(vals) / len(vals)) if vals else "-")
            expect(f"{name} 2025 {p} valid days", r["valid_days"], str(len(vals)))
            per_month = {}
            for d, v in year.items():
                per_month[d.month] = per_month.get(d.month, 0) + (v[p] is not None)
            short = [m for m in range(1, 13) if per_month[m] < (25 if m == 2 else 27)]
            valid = "yes" if len(vals) >= 324 and not short else (f"no (month {short[0]} short)" if short
                                                                   else "no (< 324 days)")
            expect(f"{name} 2025 {p} validity", r["valid_year"], valid)
            xs = sorted(micro(v) for v in vals)
            if xs:
                k = 1 + F(len(xs) - 1) * F(pct[p], 100)
                s = k.numerator // k.denominator
                m = xs[s - 1] + ((xs[s] - xs[s - 1]) * (k - s) if s < len(xs) else 0)
                expect(f"{name} 2025 {p} P{pct[p]}", r["value"], fmt(p, micro(m)))
        valid = sum(1 for v in year.values() if v["aqi_ok"])
        good = sum(1 for v in year.values() if v["aqi_ok"] and v["aqi"][0] <= 100)
        notes = rep["notes"]
        expect(f"{name} 2025 aqi days", notes.get("aqi_days"), str(valid))
        expect(f"{name} 2025 good days", notes.get("good_days"), str(good))
        if valid:
            t = half_even(F(1000 * good, valid))
            expect(f"{name} 2025 good share", notes.get("good_share_%"), f"{t // 10}.{t % 10}")
    for b in bad:
        print(b)
    print(f"air_check: {checked} entity-days and the 2025 evaluations compared, {len(bad)} mismatches")
    return 1 if bad else 0


if __name__ == "__main__":
    if len(sys.argv) == 3 and sys.argv[1] == "generate":
        generate(sys.argv[2])
        sys.exit(0)
    if len(sys.argv) == 5 and sys.argv[1] == "check":
        sys.exit(check(sys.argv[2], sys.argv[3], sys.argv[4]))
    print(__doc__)
    sys.exit(2)
