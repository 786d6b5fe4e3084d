"""1:N gallery search: packed IoM codes by Hamming against float32 embeddings by cosine.

    python bench/search.py [--sizes 10000 100000 1000000] [--m 64] [--q 8] [--dims 128 512] [--queries 20]

For each gallery size, random templates (the search cost does not depend on
what the codes are) are searched by one query at a time: the score of every
template, then the top 10 (for codes, ``HammingIndex.top_k``, which finds the
10th best from the histogram of the integer scores; for floats, a partial
sort). Prints the median latency per query of
``lateral.gallery.packing.HammingIndex`` (m codes of log2 q bits, as bit
planes) and of a float32 cosine search (one matrix-vector product on
L2-normalised rows) for each embedding size, the memory each holds, and the
ratios. The two searches take turns query by query, so load on the machine
hits both alike.
"""

import argparse
import time

import numpy as np

from lateral.gallery.packing import HammingIndex, pack_codes

TOP = 10


def top(scores):
    best = np.argpartition(-scores, TOP)[:TOP]
    return best[np.argsort(-scores[best])]


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--sizes", type=int, nargs="+", default=[10_000, 100_000, 1_000_000])
    parser.add_argument("--m", type=int, default=64)
    parser.add_argument("--q", type=int, default=8)
    parser.add_argument("--dims", type=int, nargs="+", default=[128, 512])
    parser.add_argument("--queries", type=int, default=20)
    args = parser.parse_args()
    rng = np.random.default_rng(0)
    print(f"IoM m={args.m}, q={args.q}: {args.m * (args.q - 1).bit_length()} bits per template; "
          f"median of {args.queries} queries; top {TOP}")
    print(f"{'templates':>10s} {'search':>22s} {'ms/query':>9s} {'memory MB':>10s} {'Hamming faster':>15s} "
          f"{'Hamming smaller':>16s}")
    for size in args.sizes:
        codes = rng.integers(0, args.q, (size, args.m), dtype=np.int16)
        index = HammingIndex(pack_codes(codes, args.q), args.m)
        del codes
        query_codes = pack_codes(rng.integers(0, args.q, (args.queries, args.m)), args.q)
        searches = {"IoM Hamming (packed)": (index.nbytes, lambda i: index.top_k(query_codes[i], TOP))}
        for dims in args.dims:
            unit = rng.standard_normal((size, dims), dtype=np.float32)
            unit /= np.linalg.norm(unit, axis=1, keepdims=True)
            queries = rng.standard_normal((args.queries, dims), dtype=np.float32)
            searches[f"float32 cosine d={dims}"] = (unit.nbytes, lambda i, unit=unit, queries=queries:
                                                    top(unit @ queries[i]))
        times = {name: [] for name in searches}
        for query in range(args.queries):
            for name, (_, search) in searches.items():
                started = time.perf_counter()
                search(query)
                times[name].append(time.perf_counter() - started)
        hamming_ms = 1000 * np.median(times["IoM Hamming (packed)"])
        for name, (nbytes, _) in searches.items():
            ms = 1000 * np.median(times[name])
            ratios = ("", "") if name.startswith("IoM") else (f"{ms / hamming_ms:.1f}x", f"{nbytes / index.nbytes:.0f}x")
            print(f"{size:>10d} {name:>22s} {ms:9.2f} {nbytes / 2**20:10.1f} {ratios[0]:>15s} {ratios[1]:>16s}")


if __name__ == "__main__":
    main()
