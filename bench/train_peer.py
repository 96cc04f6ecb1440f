#!/usr/bin/python3
"""The PyTorch peer for `charnn train`: a 2x512 LSTM, T=50, N=50, Adam 2e-3, clip 5, trained on
the same text and split as charnn (BOM stripped, CR/CRLF -> LF, NFC, 90/5/5 contiguous split,
N contiguous streams with the state carried across segments), for a wall-clock budget.

Prints one line per validation: minutes since the start, iteration, smoothed training loss and
validation loss (nats per character, the whole validation split), then the throughput.

  /usr/bin/python3 bench/train_peer.py /work/shared/corpora/warpeace.txt --minutes 15

Uses Debian's python3-torch (1.13) with OpenBLAS: `scripts/install-deps.sh python3-torch
libopenblas0-openmp` (without OpenBLAS Debian's torch falls back to the reference BLAS, ~5
GFLOP/s; the first line prints what this set-up reaches). --threads 2 matches a 2-core machine.
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


def split(ids, valid=0.05, test=0.05):
    # Same rule as charnn's split_corpus: floor(n * f) for validation and test, the rest train.
    n = len(ids)
    nv = int(math.floor(n * valid + 1e-7))
    nt = int(math.floor(n * test + 1e-7))
    ntr = n - nv - nt
    return ids[:ntr], ids[ntr:ntr + nv], ids[ntr + nv:]


class CharLSTM(nn.Module):
    def __init__(self, vocab, hidden, layers):
        super().__init__()
        self.vocab = vocab
        self.lstm = nn.LSTM(vocab, hidden, layers)  # one-hot input, (T, N, V)
        self.out = nn.Linear(hidden, vocab)

    def forward(self, x, state):
        onehot = nn.functional.one_hot(x, self.vocab).float()  # (T, N, V)
        h, state = self.lstm(onehot, state)  # (T, N, H)
        return self.out(h), state  # (T, N, V)


def streams(ids, n):
    """(L + 1, n) tensor: column k is the k-th contiguous stream."""
    length = (len(ids) - 1) // n
    data = torch.tensor(ids[: n * length + 1], dtype=torch.long)
    cols = [data[k * length: k * length + length + 1] for k in range(n)]
    return torch.stack(cols, dim=1)


@torch.no_grad()
def evaluate(model, data, T):
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
    ap.add_argument("--eval-minutes", type=float, default=1.0,
                    help="validate (whole validation split) about this often")
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
    chars = sorted(set(text))
    index = {c: i for i, c in enumerate(chars)}
    ids = [index[c] for c in text]
    train_ids, valid_ids, _ = split(ids)
    print(f"# corpus {len(ids)} chars, vocab {len(chars)}, train {len(train_ids)}, "
          f"valid {len(valid_ids)}; torch {torch.__version__}, {torch.get_num_threads()} threads, "
          f"sgemm {gflops:.0f} GFLOP/s")

    T, N = args.seq_len, args.batch
    train = streams(train_ids, N)
    valid = streams(valid_ids, N)
    model = CharLSTM(len(chars), args.hidden, args.layers)
    opt = torch.optim.Adam(model.parameters(), lr=args.lr)
    L = train.shape[0] - 1
    segments = L // T

    print("minutes,iteration,train_loss,valid_loss")
    start = time.time()
    next_eval = args.eval_minutes * 60
    state, seg, it, ema, units = None, 0, 0, None, 0
    budget = args.minutes * 60
    while True:
        elapsed = time.time() - start
        done = (args.max_iters and it >= args.max_iters) or elapsed >= budget
        due = (it > 0 and it % args.eval_every == 0) if args.eval_every else elapsed >= next_eval
        if due or done:
            v = evaluate(model, valid, T)
            print(f"{(time.time() - start) / 60:.2f},{it},{ema if ema is not None else float('nan'):.4f},{v:.4f}",
                  flush=True)
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
    total = time.time() - start
    print(f"# {it} iterations, {units} chars in {total:.0f} s: {units / total:.0f} chars/s "
          f"including evaluation")


if __name__ == "__main__":
    main()
