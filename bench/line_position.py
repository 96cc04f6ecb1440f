#!/usr/bin/python3
"""Where a trained model keeps the position in the line (issue 19): single units against a linear
readout of a whole layer.

The paper's line-position cell (Karpathy, Johnson and Fei-Fei 2015) is one unit whose value
tracks the column. `charnn inspect` ranks single units by Pearson r against the `column` and
`line_left` probes. A weak best unit leaves open whether the model knows the position spread over
many units. This script answers that: it dumps each layer's h over the start of a text
(`charnn dump`), fits a ridge regression from the layer's units to each probe on the first 60%
of the units, picks the penalty on the next 20% and scores the last 20%. It prints, per layer and
probe, the best single unit (|r| on the scored part) and the readout's r and R^2 there.

    bench/line_position.py RUN_DIR [TEXT [UNITS]]
        default TEXT: ../shared/corpora/warpeace.txt, UNITS: 100000 (the first units of TEXT)

Needs numpy (scripts/install-deps.sh python3-numpy). Writes the dump into a temporary directory
(UNITS x hidden x 4 bytes per layer) and removes it. Environment: CHARNN (default
build/bin/charnn).
"""
import json
import os
import subprocess
import sys
import tempfile

import numpy as np

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
PENALTIES = [1e-4, 1e-3, 1e-2, 1e-1, 1, 10]  # times the number of fitted units of text


def probes(units):
    """column: units since the last newline (0 on it); line_left: units before the next one."""
    n = len(units)
    column = np.zeros(n)
    left = np.zeros(n)
    c = 0
    for i, u in enumerate(units):
        c = 0 if u == "\n" else c + 1
        column[i] = c
    count = 0  # units after i before the next newline
    for i in range(n - 1, -1, -1):
        left[i] = count
        count = 0 if units[i] == "\n" else count + 1
    return {"column": column, "line_left": left}


def pearson(a, b):
    a = a - a.mean()
    b = b - b.mean()
    d = np.sqrt((a * a).sum() * (b * b).sum())
    return float((a * b).sum() / d) if d > 0 else float("nan")


def unit_rs(x, y):
    """Pearson r of every column of x with y."""
    xc = x - x.mean(axis=0)
    yc = y - y.mean()
    den = np.sqrt((xc * xc).sum(axis=0) * (yc * yc).sum())
    with np.errstate(invalid="ignore", divide="ignore"):
        return (xc * yc[:, None]).sum(axis=0) / den


def ridge(x, y, fit, pick, score):
    """Fits on `fit`, chooses the penalty on `pick`; r and R^2 on `score`, and the penalty."""
    mean = x[fit].mean(axis=0)
    xf = x[fit] - mean
    ym = y[fit].mean()
    gram = (xf.T @ xf).astype(np.float64)
    xty = (xf.T @ (y[fit] - ym).astype(np.float32)).astype(np.float64)
    best = None
    for p in PENALTIES:
        w = np.linalg.solve(gram + p * len(xf) * np.eye(len(gram)), xty)
        err = ((x[pick] - mean) @ w + ym - y[pick]) ** 2
        if best is None or err.mean() < best[0]:
            best = (err.mean(), p, w)
    _, p, w = best
    pred = (x[score] - mean) @ w + ym
    resid = ((pred - y[score]) ** 2).sum()
    total = ((y[score] - y[score].mean()) ** 2).sum()
    return pearson(pred, y[score]), 1 - resid / total, p


def main():
    if len(sys.argv) < 2:
        sys.exit(__doc__)
    run = sys.argv[1]
    text_file = sys.argv[2] if len(sys.argv) > 2 else os.path.join(ROOT, "..", "shared", "corpora", "warpeace.txt")
    units_wanted = int(sys.argv[3]) if len(sys.argv) > 3 else 100000
    charnn = os.environ.get("CHARNN", os.path.join(ROOT, "build", "bin", "charnn"))
    with open(text_file, encoding="utf-8-sig", newline="") as f:
        # Code points, a little more than the units wanted (graphemes): the dump says how many.
        text = f.read(units_wanted + units_wanted // 10)
    with tempfile.TemporaryDirectory(prefix="line-position-") as tmp:
        part = os.path.join(tmp, "text.txt")
        with open(part, "w", encoding="utf-8", newline="") as f:
            f.write(text)
        out = os.path.join(tmp, "dump")
        subprocess.run([charnn, "dump", "--model", run, "--text", part, "--out", out, "--signal", "h",
                        "--unknown", "map"], check=True)
        units = json.load(open(os.path.join(out, "units.json"), encoding="utf-8"))["units"]
        n = min(len(units), units_wanted)
        targets = probes(units[:n])
        fit, pick, score = slice(0, n * 6 // 10), slice(n * 6 // 10, n * 8 // 10), slice(n * 8 // 10, n)
        lines = int((np.array(units[:n]) == "\n").sum())
        print(f"{run}: {n} units of {text_file}, {lines} line ends; "
              f"ridge fitted on the first 60%, penalty chosen on the next 20%, scored on the last 20%")
        print(f"{'layer':<8}{'probe':<11}{'best unit':>10}{'its r':>8}{'readout r':>11}{'R^2':>8}{'penalty':>9}")
        layers = sorted(f for f in os.listdir(out) if f.endswith("_h.npy"))
        xs = []
        for name in layers + ["all"]:
            if name == "all":
                if len(xs) < 2:
                    break
                x = np.concatenate(xs, axis=1)
                label = "all"
            else:
                x = np.load(os.path.join(out, name), mmap_mode="r")[:n].astype(np.float32)
                xs.append(x)
                label = name.split("_")[0].replace("layer", "")
            for probe, y in targets.items():
                rs = unit_rs(x[score], y[score]) if name != "all" else None
                if rs is not None:
                    best = int(np.nanargmax(np.abs(rs)))
                    single = f"h[{best}]", f"{rs[best]:+.3f}"
                else:
                    single = "-", "-"
                r, r2, p = ridge(x, y, fit, pick, score)
                print(f"{label:<8}{probe:<11}{single[0]:>10}{single[1]:>8}{r:>11.3f}{r2:>8.3f}{p:>9g}")


if __name__ == "__main__":
    main()
