#!/usr/bin/python3
"""Training speed of the PyTorch peer: full training steps (forward, backward, clip 5, Adam) of a
stacked LSTM or Elman RNN over T x N segments of a corpus, the model and data of
bench/train_peer.py. Prints one line for bench/compare.sh:

  # speed units_per_s=U step_ms=S iterations=K vocab=V sgemm_gflops=G (0 without --sgemm)

  LD_LIBRARY_PATH=/usr/lib/x86_64-linux-gnu/openblas-openmp \\
      /usr/bin/python3 bench/peer_speed.py CORPUS --cell lstm --iters 30

The first --warmup iterations are not timed (allocation, OpenMP start-up). Without
LD_LIBRARY_PATH Debian's torch uses the default (reference) BLAS, about 30x slower: give it
fewer iterations.
"""
import argparse
import os
import sys
import time

import torch
import torch.nn as nn

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from train_peer import graphemes, load_text, streams  # noqa: E402


class CharRNN(nn.Module):
    """The peer's model with either cell; one-hot input, as train_peer.py."""

    def __init__(self, cell, vocab, hidden, layers):
        super().__init__()
        self.vocab = vocab
        kind = {"lstm": nn.LSTM, "gru": nn.GRU, "elman": nn.RNN}[cell]  # nn.RNN: tanh Elman
        self.rnn = kind(vocab, hidden, layers)
        self.out = nn.Linear(hidden, vocab)

    def forward(self, x, state):
        h, state = self.rnn(nn.functional.one_hot(x, self.vocab).float(), state)
        return self.out(h), state


def sgemm_gflops():
    a, b = torch.randn(2048, 2048), torch.randn(2048, 2048)
    a @ b
    best = float("inf")
    for _ in range(3):
        t0 = time.perf_counter()
        a @ b
        best = min(best, time.perf_counter() - t0)
    return 2 * 2048 ** 3 / best / 1e9


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("corpus")
    ap.add_argument("--cell", choices=["lstm", "gru", "elman"], default="lstm")
    ap.add_argument("--hidden", type=int, default=512)
    ap.add_argument("--layers", type=int, default=2)
    ap.add_argument("--seq-len", type=int, default=50)
    ap.add_argument("--batch", type=int, default=50)
    ap.add_argument("--iters", type=int, default=30, help="timed iterations")
    ap.add_argument("--warmup", type=int, default=3, help="untimed iterations first")
    ap.add_argument("--threads", type=int, default=os.cpu_count())
    ap.add_argument("--units", choices=["grapheme", "codepoint"], default="grapheme")
    ap.add_argument("--sgemm", action="store_true",
                    help="also time a 2048^3 matmul (seconds with the reference BLAS: ask only "
                         "with a fast one)")
    args = ap.parse_args()

    torch.set_num_threads(args.threads)
    torch.manual_seed(1)
    text = load_text(args.corpus)
    units = graphemes(text) if args.units == "grapheme" else list(text)
    chars = sorted(set(units))
    index = {c: i for i, c in enumerate(chars)}
    T, N = args.seq_len, args.batch
    data = streams([index[c] for c in units], N)
    model = CharRNN(args.cell, len(chars), args.hidden, args.layers)
    opt = torch.optim.Adam(model.parameters(), lr=2e-3)
    segments = (data.shape[0] - 1) // T
    state = None
    start = None
    for it in range(args.warmup + args.iters):
        if it == args.warmup:
            start = time.perf_counter()
        s = it % segments
        x, y = data[s * T: s * T + T], data[s * T + 1: s * T + T + 1]
        if state is not None:
            state = tuple(v.detach() for v in state) if isinstance(state, tuple) else state.detach()
        logits, state = model(x, state)
        loss = nn.functional.cross_entropy(logits.reshape(-1, model.vocab), y.reshape(-1))
        opt.zero_grad()
        loss.backward()
        nn.utils.clip_grad_norm_(model.parameters(), 5.0)
        opt.step()
    seconds = time.perf_counter() - start
    print(f"# speed units_per_s={args.iters * T * N / seconds:.0f} "
          f"step_ms={1000 * seconds / args.iters:.1f} iterations={args.iters} "
          f"vocab={len(chars)} sgemm_gflops={sgemm_gflops() if args.sgemm else 0:.0f} "
          f"threads={torch.get_num_threads()}")


if __name__ == "__main__":
    main()
