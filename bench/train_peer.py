#!/usr/bin/python3
"""The PyTorch peer for `charnn train`: a 2x512 LSTM, T=50, N=50, Adam 2e-3, clip 5, trained on
the same units and split as charnn (BOM stripped, CR/CRLF -> LF, NFC, ICU grapheme clusters,
contiguous split, N contiguous streams with the state carried across segments), for a wall-clock
budget.

Prints one line per validation: training minutes since the start, iteration, smoothed training
loss and validation loss (nats per unit; --eval-units of the validation split in streams spread
over it, or all of it, laid out as charnn's validation), then the throughput and a `# result`
line with the best and final figures and the units and streams of the slice.

  /usr/bin/python3 bench/train_peer.py /work/shared/corpora/warpeace.txt --minutes 15

Uses Debian's python3-torch (1.13) with OpenBLAS and python3-icu: `scripts/install-deps.sh
python3-torch libopenblas0-openmp python3-icu`, run with
LD_LIBRARY_PATH=/usr/lib/x86_64-linux-gnu/openblas-openmp (without OpenBLAS Debian's torch falls
back to the reference BLAS, ~5 GFLOP/s; the first line prints what this set-up reaches).
--threads 2 matches a 2-core machine.
"""
import argparse
import math
import time
import unicodedata

import torch
import torch.nn as nn


def load_text(path):
    raw = open(path, "rb").read().decode("utf-8")
    if raw.startswith("\ufeff"):
        raw = raw[1:]
    raw = raw.replace("\r\n", "\n").replace("\r", "\n")
    return unicodedata.normalize("NFC", raw)


def graphemes(text):
    """The text cut into extended grapheme clusters by ICU, as charnn's default --units grapheme
    does, so both tools predict the same units and their nats per unit compare."""
    import icu  # Debian's python3-icu (PyICU)
    it = icu.BreakIterator.createCharacterInstance(icu.Locale.getRoot())
    it.setText(text)
    bounds = [0] + list(it)  # UTF-16 offsets
    if any(ord(c) > 0xFFFF for c in text):
        to_cp, u = {}, 0
        for i, c in enumerate(text):
            to_cp[u] = i
            u += 2 if ord(c) > 0xFFFF else 1
        to_cp[u] = len(text)
        bounds = [to_cp[b] for b in bounds]
    return [text[a:b] for a, b in zip(bounds, bounds[1:])]


def split(ids, valid=0.05, test=0.05):
    # Same rule as charnn's split_corpus: floor(n * f) for validation and test, the rest train.
    n = len(ids)
    nv = int(math.floor(n * valid + 1e-7))
    nt = int(math.floor(n * test + 1e-7))
    ntr = n - nv - nt
    return ids[:ntr], ids[ntr:ntr + nv], ids[ntr + nv:]


class CharLSTM(nn.Module):
    def __init__(self, vocab, hidden, layers, dropout):
        super().__init__()
        self.vocab = vocab
        # one-hot input, (T, N, V); dropout between the layers and before the output layer
        self.lstm = nn.LSTM(vocab, hidden, layers, dropout=dropout if layers > 1 else 0.0)
        self.drop = nn.Dropout(dropout)
        self.out = nn.Linear(hidden, vocab)

    def forward(self, x, state):
        onehot = nn.functional.one_hot(x, self.vocab).float()  # (T, N, V)
        h, state = self.lstm(onehot, state)  # (T, N, H)
        return self.out(self.drop(h)), state  # (T, N, V)


def streams(ids, n):
    """(L + 1, n) tensor: column k is the k-th contiguous stream."""
    length = (len(ids) - 1) // n
    data = torch.tensor(ids[: n * length + 1], dtype=torch.long)
    cols = [data[k * length: k * length + length + 1] for k in range(n)]
    return torch.stack(cols, dim=1)


def spread_streams(ids, units, n, T):
    """About `units` units as charnn's periodic validation lays them out (spread_layout in
    evaluate_loss.cpp): an (L + 1, n') tensor of n' <= n streams, stream k from unit
    k x (len(ids) - 1) // n', so that the sample stands for the whole split, and the T' <= T
    to score it with (L is a multiple of T')."""
    m = min(len(ids), units + 1)
    n = max(1, min(n, (m - 1) // max(T, 1)))
    length = (m - 1) // n
    T = min(T, length)
    length -= length % T
    stride = (len(ids) - 1) // n
    data = torch.tensor(ids, dtype=torch.long)
    cols = [data[k * stride: k * stride + length + 1] for k in range(n)]
    return torch.stack(cols, dim=1), T


@torch.no_grad()
def evaluate(model, data, T):
    """Mean nats per unit over the streams in data."""
    model.eval()
    total, count, state = 0.0, 0, None
    L = data.shape[0] - 1
    for s in range(0, L - T + 1, T):
        x, y = data[s:s + T], data[s + 1:s + T + 1]
        logits, state = model(x, state)
        total += nn.functional.cross_entropy(logits.reshape(-1, model.vocab), y.reshape(-1),
                                             reduction="sum").item()
        count += y.numel()
    model.train()
    return total / count


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("corpus")
    ap.add_argument("--minutes", type=float, default=15.0)
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--hidden", type=int, default=512)
    ap.add_argument("--layers", type=int, default=2)
    ap.add_argument("--seq-len", type=int, default=50)
    ap.add_argument("--batch", type=int, default=50)
    ap.add_argument("--lr", type=float, default=2e-3)
    ap.add_argument("--clip", type=float, default=5.0)
    ap.add_argument("--dropout", type=float, default=0.0,
                    help="dropout between the layers and before the output layer (0.2 is the "
                         "textbook setting bench/quality.sh uses)")
    ap.add_argument("--split", default="0.9,0.05,0.05",
                    help="train,valid,test fractions, contiguous, as charnn's --split")
    ap.add_argument("--units", choices=["grapheme", "codepoint"], default="grapheme",
                    help="what one unit is, as charnn's --units (grapheme needs python3-icu)")
    ap.add_argument("--eval-minutes", type=float, default=1.0,
                    help="validate about this often (training minutes; the time validation "
                         "takes is not charged to the budget)")
    ap.add_argument("--eval-units", type=int, default=0,
                    help="periodic validation scores only this many units of the split, laid "
                         "out as charnn's --eval-units (streams spread evenly over the split; "
                         "0 = all); the last validation always scores the whole split")
    ap.add_argument("--eval-streams", type=int, default=32,
                    help="streams of every validation: charnn's --batch, so that both score "
                         "the same units")
    ap.add_argument("--eval-seq-len", type=int, default=64,
                    help="steps per segment of every validation: charnn's --seq-len")
    ap.add_argument("--eval-every", type=int, default=0,
                    help="validate every K iterations instead (for comparing learning per "
                         "iteration on a busy machine)")
    ap.add_argument("--max-iters", type=int, default=0, help="stop after this many iterations")
    ap.add_argument("--seed", type=int, default=1)
    args = ap.parse_args()

    torch.set_num_threads(args.threads)
    torch.manual_seed(args.seed)
    # Debian's torch calls whatever libblas.so.3 points to; the reference BLAS runs ~100x below
    # OpenBLAS, so say what this set-up reaches (install libopenblas0-openmp for the fast one).
    a, b = torch.randn(1024, 1024), torch.randn(1024, 1024)
    a @ b
    t0 = time.time()
    for _ in range(10):
        a @ b
    gflops = 10 * 2 * 1024 ** 3 / (time.time() - t0) / 1e9
    text = load_text(args.corpus)
    units = graphemes(text) if args.units == "grapheme" else list(text)
    chars = sorted(set(units))
    index = {c: i for i, c in enumerate(chars)}
    ids = [index[c] for c in units]
    fractions = [float(f) for f in args.split.split(",")]
    train_ids, valid_ids, _ = split(ids, fractions[1], fractions[2])
    print(f"# corpus {len(ids)} {args.units}s, vocab {len(chars)}, train {len(train_ids)}, "
          f"valid {len(valid_ids)}; torch {torch.__version__}, {torch.get_num_threads()} threads, "
          f"sgemm {gflops:.0f} GFLOP/s")

    T, N = args.seq_len, args.batch
    train = streams(train_ids, N)
    # The validations score the units charnn's do: the whole split in --eval-streams streams of
    # --eval-seq-len steps, and the periodic ones --eval-units of it in streams spread evenly
    # over it, cut as charnn cuts them. (On 2026-12-05 and 06 both sliced the split's first
    # --eval-units units; before that the two samples were different text. Until 2026-12-06 the
    # whole split was cut in --batch streams of --seq-len steps.)
    valid, valid_T = spread_streams(valid_ids, len(valid_ids), args.eval_streams,
                                    args.eval_seq_len)
    sliced = 0 < args.eval_units < len(valid_ids)
    valid_slice, slice_T = (
        spread_streams(valid_ids, args.eval_units, args.eval_streams, args.eval_seq_len)
        if sliced else (valid, valid_T))
    model = CharLSTM(len(chars), args.hidden, args.layers, args.dropout)
    opt = torch.optim.Adam(model.parameters(), lr=args.lr)
    L = train.shape[0] - 1
    segments = L // T

    print("minutes,iteration,train_loss,valid_loss")
    start = time.time()
    paused = 0.0  # seconds spent validating, not charged to the budget
    next_eval = args.eval_minutes * 60
    state, seg, it, ema, units = None, 0, 0, None, 0
    budget = args.minutes * 60
    best, final = float("inf"), float("nan")
    while True:
        elapsed = time.time() - start - paused
        done = (args.max_iters and it >= args.max_iters) or elapsed >= budget
        due = (it > 0 and it % args.eval_every == 0) if args.eval_every else elapsed >= next_eval
        if due or done:
            t_eval = time.time()
            v = evaluate(model, valid_slice, slice_T)
            best = min(best, v)
            print(f"{elapsed / 60:.2f},{it},{ema if ema is not None else float('nan'):.4f},{v:.4f}",
                  flush=True)
            if done:
                final_slice = v
                final = evaluate(model, valid, valid_T) if sliced else v
            paused += time.time() - t_eval
            if not args.eval_every:
                next_eval += args.eval_minutes * 60
            if done:
                break
        if seg == segments:
            seg, state = 0, None
        x = train[seg * T: seg * T + T]
        y = train[seg * T + 1: seg * T + T + 1]
        if state is not None:
            state = tuple(s.detach() for s in state)
        logits, state = model(x, state)
        loss = nn.functional.cross_entropy(logits.reshape(-1, model.vocab), y.reshape(-1))
        opt.zero_grad()
        loss.backward()
        nn.utils.clip_grad_norm_(model.parameters(), args.clip)
        opt.step()
        ema = loss.item() if ema is None else 0.95 * ema + 0.05 * loss.item()
        seg += 1
        it += 1
        units += T * N
    total = time.time() - start - paused
    print(f"# {it} iterations, {units} units in {total:.0f} s of training: "
          f"{units / total:.0f} units/s")
    # One line for bench/quality.sh: the periodic figures (slice) and the whole split at the end.
    print(f"# result best_slice={best:.4f} final_slice={final_slice:.4f} final_whole={final:.4f} "
          f"units_per_s={units / total:.0f} valid_units={(valid.shape[0] - 1) * valid.shape[1]} "
          f"slice_units={(valid_slice.shape[0] - 1) * valid_slice.shape[1]} "
          f"slice_streams={valid_slice.shape[1]}")


if __name__ == "__main__":
    main()
