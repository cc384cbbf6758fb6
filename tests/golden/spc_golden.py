#!/usr/bin/env python3
"""Golden SPC case: `plantfloor spc ... --json` against an independent R recomputation.

usage: spc_golden.py CASE.json        one case from tests/golden/spc/
       spc_golden.py --reference      only the R reference's own textbook checks (no plantfloor)

Environment (set by ctest): PF_BIN = the plantfloor binary, PF_SHARED_DIR = ../shared.
For a case it
  1. runs tests/reference/spc_reference.R for the case (r-base-core only; it asserts the textbook numbers
     of ../shared/data/spc_qcc/SOURCE.md itself and writes every center, limit and plotted value as JSON),
  2. runs `plantfloor spc <args> --json` with the case's arguments,
  3. compares every chart-level and per-point center, UCL, LCL and plotted value (|diff| < 5e-5, or
     relative 1e-6 for numbers of 100 and more), labels, sizes, phases, exclusion flags, the listed parameters,
     the Phase I exclusions, and the rule-1 violation set of each chart exactly,
  4. asserts the published facts of the case file (out-of-control subgroups, published limits) directly.
plantfloor's output is never an expected value. Exit 0 pass, 1 fail, 77 skipped (no Rscript or no
../shared data).
"""
import json
import os
import shutil
import subprocess
import sys
import tempfile

SKIP = 77
ABS_TOL = 5e-5
REL_TOL = 1e-6
HERE = os.path.dirname(os.path.abspath(__file__))
REFERENCE = os.path.join(HERE, "..", "reference", "spc_reference.R")


def skip(why):
    print(f"skipped: {why}")
    sys.exit(SKIP)


def fail(why):
    print(f"FAIL: {why}")
    sys.exit(1)


def rscript():
    path = shutil.which("Rscript") or ("/usr/bin/Rscript" if os.path.exists("/usr/bin/Rscript") else None)
    if not path:
        skip("Rscript (r-base-core) is not installed")
    return path


def data_dir():
    shared = os.environ.get("PF_SHARED_DIR") or os.path.join(HERE, "..", "..", "..", "shared")
    d = os.path.join(shared, "data", "spc_qcc")
    if not os.path.isfile(os.path.join(d, "pistonrings.csv")):
        skip(f"no SPC data in {d}")
    return d


def strict_json(text, what):
    """json.loads that rejects NaN and Infinity (the contract: never NaN; null if absent)."""
    def bad_constant(name):
        raise ValueError(f"{what}: {name} in JSON")
    return json.loads(text, parse_constant=bad_constant)


def near(got, want):
    """4 decimals: |diff| < 5e-5; for big numbers (|want| >= 100, e.g. large T2 values) relative 1e-6."""
    return abs(got - want) < ABS_TOL or (abs(want) >= 100 and abs(got - want) <= REL_TOL * abs(want))


class Comparison:
    def __init__(self):
        self.errors = []
        self.compared = 0

    def error(self, msg):
        self.errors.append(msg)

    def number(self, where, got, want):
        """want None: the reference defines no value there, nothing to compare."""
        if want is None:
            return
        self.compared += 1
        if got is None:
            self.error(f"{where}: null, expected {want:.10g}")
        elif not isinstance(got, (int, float)) or isinstance(got, bool):
            self.error(f"{where}: {got!r} is not a number, expected {want:.10g}")
        elif not near(got, want):
            self.error(f"{where}: {got:.10g}, expected {want:.10g} (diff {got - want:.3g})")

    def exact(self, where, got, want):
        self.compared += 1
        if got != want:
            self.error(f"{where}: {got!r}, expected {want!r}")


def compare_chart(cmp, ref_chart, cli_chart):
    name = ref_chart["name"]
    for field in ("center", "ucl", "lcl"):
        want, got = ref_chart[field], cli_chart.get(field)
        if want is not None:
            cmp.number(f"chart {name}: {field}", got, want)
        elif got is not None and len({p[field] for p in ref_chart["points"]}) > 1:
            # The reference has per-point lines here; the contract says the chart-level one is null.
            cmp.error(f"chart {name}: {field} is {got!r}, expected null (it varies per point)")
    cli_points = {}
    for p in cli_chart.get("points", []):
        if p.get("index") in cli_points:
            cmp.error(f"chart {name}: point index {p.get('index')} twice")
        cli_points[p.get("index")] = p
    ref_indices = {p["index"] for p in ref_chart["points"]}
    for idx, p in cli_points.items():
        if idx not in ref_indices and p.get("value") is not None:
            cmp.error(f"chart {name}: point {idx} has value {p.get('value')!r}; the reference has no such point")
    for rp in ref_chart["points"]:
        idx = rp["index"]
        cp = cli_points.get(idx)
        if cp is None:
            cmp.error(f"chart {name}: point {idx} missing")
            continue
        where = f"chart {name} point {idx}"
        for field in ("value", "center", "ucl", "lcl", "size"):
            cmp.number(f"{where}: {field}", cp.get(field), rp[field])
        cmp.exact(f"{where}: label", cp.get("label"), rp["label"])
        cmp.exact(f"{where}: phase", cp.get("phase"), rp["phase"])
        cmp.exact(f"{where}: excluded", cp.get("excluded"), rp["excluded"])


def violation_sets(cli, cmp, rule):
    sets = {}
    for v in cli.get("violations", []):
        if v.get("rule") != rule:
            cmp.error(f"violation with rule {v.get('rule')!r} on chart {v.get('chart')!r}: only {rule} was asked for")
        sets.setdefault(v.get("chart"), set()).update(v.get("points", []))
    return sets


def phase_of(cli, chart, index):
    for ch in cli.get("charts", []):
        if ch.get("name") == chart:
            for p in ch.get("points", []):
                if p.get("index") == index:
                    return p.get("phase")
    return None


def check_published(cmp, case, cli, sets):
    pub = case.get("published", {})
    for chart, want in pub.get("violations", {}).items():
        cmp.exact(f"published: rule-1 points of {chart}", sorted(sets.get(chart, set())), sorted(want))
    for chart, want in pub.get("phase1_violations", {}).items():
        got = sorted(i for i in sets.get(chart, set()) if phase_of(cli, chart, i) == 1)
        cmp.exact(f"published: Phase I rule-1 points of {chart}", got, sorted(want))
    for it, want in pub.get("exclusions", {}).items():
        got = sorted(e.get("index") for e in cli.get("exclusions", []) if str(e.get("iteration")) == it)
        cmp.exact(f"published: exclusions in iteration {it}", got, sorted(want))
    for v in pub.get("values", []):
        chart = next((c for c in cli.get("charts", []) if c.get("name") == v["chart"]), None)
        got = None if chart is None else chart.get(v["field"])
        if "point" in v and chart is not None:
            got = next((p.get(v["field"]) for p in chart.get("points", []) if p.get("index") == v["point"]), None)
        where = f"published: {v['chart']} {v['field']}" + (f" of point {v['point']}" if "point" in v else "")
        cmp.compared += 1
        if not isinstance(got, (int, float)) or abs(got - v["value"]) > v["tol"]:
            cmp.error(f"{where}: {got!r}, published {v['value']} (tolerance {v['tol']}: {v.get('why', 'rounding')})")


def run_case(case_path):
    with open(case_path) as f:
        case = json.load(f)
    r = rscript()
    data = data_dir()
    binary = os.environ.get("PF_BIN")
    if not binary or not os.access(binary, os.X_OK):
        fail(f"PF_BIN {binary!r} is not an executable plantfloor binary")
    name = os.path.splitext(os.path.basename(case_path))[0]
    with tempfile.TemporaryDirectory(prefix="pf_spc_golden_") as work:
        ref_path = os.path.join(work, "reference.json")
        p = subprocess.run([r, REFERENCE, "--data", data, "--case", case["reference"], "--out", ref_path,
                            "--workdir", work], capture_output=True, text=True, timeout=120)
        if p.returncode != 0:
            fail(f"R reference failed ({p.returncode}): {p.stderr.strip()}")
        with open(ref_path) as f:
            ref = strict_json(f.read(), "R reference")
        args = [a.replace("{data}", data).replace("{work}", work) for a in case["args"]]
        cmd = [binary, "spc"] + args + ["--json"]
        p = subprocess.run(cmd, capture_output=True, text=True, timeout=60)
        if p.returncode != 0:
            fail(f"`{' '.join(cmd)}` exited {p.returncode}: {(p.stderr or p.stdout).strip()[:2000]}")
        try:
            cli = strict_json(p.stdout, "plantfloor spc --json")
        except ValueError as e:
            fail(f"plantfloor output is not valid JSON ({e}); first 500 chars: {p.stdout[:500]!r}")

    cmp = Comparison()
    cmp.exact("chart type", cli.get("chart"), case["chart"])
    cli_charts = {c.get("name"): c for c in cli.get("charts", [])}
    for rc in ref["charts"]:
        if rc["name"] not in cli_charts:
            cmp.error(f"chart {rc['name']} missing (got {sorted(map(str, cli_charts))})")
        else:
            compare_chart(cmp, rc, cli_charts[rc["name"]])
    params = cli.get("parameters") or {}
    for key in case.get("parameters", []):
        cmp.number(f"parameters.{key}", params.get(key), ref["parameters"][key])

    want_excl = sorted((e["index"], e["iteration"], e["chart"]) for e in ref["exclusions"])
    got_excl = sorted((e.get("index"), e.get("iteration"), e.get("chart")) for e in cli.get("exclusions", []))
    cmp.exact("exclusions (index, iteration, chart)", got_excl, want_excl)

    sets = violation_sets(cli, cmp, case["rule"])
    for chart, want in ref["violations"].items():
        cmp.exact(f"rule-1 points of {chart}", sorted(sets.get(chart, set())), sorted(want))
    for chart in sets:
        if chart not in ref["violations"]:
            cmp.error(f"violations on chart {chart!r}, which the reference does not have")
    check_published(cmp, case, cli, sets)

    if cmp.errors:
        print(f"FAIL {name}: {len(cmp.errors)} of {cmp.compared} comparisons differ")
        for e in cmp.errors[:40]:
            print("  " + e)
        if len(cmp.errors) > 40:
            print(f"  ... and {len(cmp.errors) - 40} more")
        return 1
    npts = sum(len(c["points"]) for c in ref["charts"])
    print(f"ok {name}: {cmp.compared} comparisons over {len(ref['charts'])} chart(s), {npts} points; "
          f"rule-1 points {ref['violations']}; R textbook checks: {len(ref['textbook_checks'])}")
    return 0


def reference_only():
    r = rscript()
    p = subprocess.run([r, REFERENCE, "--data", data_dir(), "--check"], capture_output=True, text=True, timeout=300)
    print(p.stdout + p.stderr)
    return 0 if p.returncode == 0 else 1


def main(argv):
    if len(argv) != 2:
        print(__doc__)
        return 2
    if argv[1] == "--reference":
        return reference_only()
    return run_case(argv[1])


if __name__ == "__main__":
    sys.exit(main(sys.argv))
