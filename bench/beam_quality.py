#!/usr/bin/python3
"""Beam search against greedy decoding and sampling, on one trained model (issue 16).

For each prime text, every decoder continues it for LENGTH units, and the table gives:
  - bits per unit of the continuation under the model (lower = more likely; what beam search
    maximises);
  - repeats: the share of the continuation's 20-unit windows that occur earlier in it (0 = no
    loop; greedy decoding of a character model tends to fall into one).
  - with a JUDGE model (another model of the same text), bits per unit of prime + continuation
    under it (`charnn eval`): a likelihood the decoder did not maximise.
Sampling at a temperature is averaged over 5 random seeds. Every decoder runs in f32 so that the
probabilities are comparable.

    bench/beam_quality.py MODEL [LENGTH [JUDGE]]        (default LENGTH 300)

Environment: CHARNN (default build/bin/charnn); PRIMES="a|b|c" (default: five War and Peace ones).
"""
import json
import math
import os
import subprocess
import sys
import tempfile

# War and Peace's; PRIMES="a|b|c" gives others.
PRIMES = os.environ.get("PRIMES", 'The |Pierre |"Well, |In the morning|Prince Andrew ').split("|")
WINDOW = 20


def run(charnn, model, args):
    out = subprocess.run([charnn, "sample", "--model", model, "--precision", "f32", "--json", *args],
                         check=True, capture_output=True, text=True).stdout
    return json.loads(out.splitlines()[0])


def judged(charnn, judge, text):
    with tempfile.NamedTemporaryFile("w", suffix=".txt", encoding="utf-8") as f:
        f.write(text)
        f.flush()
        out = subprocess.run([charnn, "eval", "--model", judge, "--json", "--unknown", "skip", f.name],
                             check=True, capture_output=True, text=True).stdout
    return json.loads(out)["bits_per_unit"]


def repeats(text):
    seen, again = set(), 0
    windows = max(0, len(text) - WINDOW + 1)
    for i in range(windows):
        w = text[i:i + WINDOW]
        again += w in seen
        seen.add(w)
    return again / windows if windows else 0.0


def sampled(doc):
    s = doc["samples"][0] if "samples" in doc else doc
    units = s["units"]
    bits = sum(-math.log2(max(u["p"], 1e-30)) for u in units) / max(1, len(units))
    return bits, s["text"]


def main():
    if len(sys.argv) < 2:
        sys.exit(__doc__)
    model = sys.argv[1]
    length = sys.argv[2] if len(sys.argv) > 2 else "300"
    judge = sys.argv[3] if len(sys.argv) > 3 else None
    charnn = os.environ.get("CHARNN", "build/bin/charnn")
    decoders = [("greedy", [["--greedy"]])]
    for t in ("0.8", "1.0"):
        decoders.append((f"temperature {t} (5 seeds)",
                         [["--temperature", t, "--random-seed", str(k)] for k in range(1, 6)]))
    for k in ("2", "4", "8", "16"):
        decoders.append((f"beam {k}", [["--beam", k, "--no-repeat", "0"]]))
    decoders.append(("greedy, no-repeat 12", [["--beam", "1", "--no-repeat", "12"]]))
    for n in ("8", "12", "16", "24"):
        decoders.append((f"beam 8, no-repeat {n}", [["--beam", "8", "--no-repeat", n]]))
    print(f"model {model}, {length} units after each of {len(PRIMES)} primes, f32"
          + (f"; judge {judge}" if judge else "") + "\n")
    print("| decoder | bits per unit under the model | repeats (20-unit windows seen before) |"
          + (" bits per unit under the judge |" if judge else ""))
    print("| --- | --- | --- |" + (" --- |" if judge else ""))
    examples = {}
    for name, variants in decoders:
        bits_sum, rep_sum, judge_sum, n = 0.0, 0.0, 0.0, 0
        for prime in PRIMES:
            for v in variants:
                doc = run(charnn, model, ["--seed", prime, "--length", length, *v])
                if "bits_per_unit" in doc:
                    bits, text = doc["bits_per_unit"], doc["text"]
                else:
                    bits, text = sampled(doc)
                bits_sum += bits
                rep_sum += repeats(text)
                if judge:
                    judge_sum += judged(charnn, judge, prime + text)
                n += 1
                examples.setdefault(name, prime + text)
        print(f"| {name} | {bits_sum / n:.4f} | {rep_sum / n:.3f} |"
              + (f" {judge_sum / n:.4f} |" if judge else ""))
    print()
    for name, text in examples.items():
        print(f"{name}: {text[:160]!r}")


if __name__ == "__main__":
    main()
