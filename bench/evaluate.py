"""Pair-scoring throughput for 10k templates: Hamming on IoM codes against cosine on float embeddings.

    python bench/evaluate.py [--templates 10000] [--m 256] [--q 32] [--dim 512]

Scores every template against a block of 1000 others (10M pairs) with the
measures test_iom.py uses, in the same run, and prints pairs/s and the ratio.
"""

import argparse
import time

import numpy as np

from lateral.measures import MEASURES


def pairs_per_second(measure, queries, gallery):
    started = time.perf_counter()
    scores = MEASURES.get(measure).scores(queries, gallery)
    elapsed = time.perf_counter() - started
    assert scores.shape == (len(queries), len(gallery))
    return len(queries) * len(gallery) / elapsed


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--templates", type=int, default=10_000)
    parser.add_argument("--block", type=int, default=1_000)
    parser.add_argument("--m", type=int, default=256)
    parser.add_argument("--q", type=int, default=32)
    parser.add_argument("--dim", type=int, default=512)
    args = parser.parse_args()
    rng = np.random.default_rng(0)
    codes = rng.integers(0, args.q, (args.templates, args.m), dtype=np.int32)
    embeddings = rng.normal(size=(args.templates, args.dim)).astype(np.float32)
    hamming = pairs_per_second("hamming", codes, codes[: args.block])
    cosine = pairs_per_second("cosine", embeddings, embeddings[: args.block])
    print(f"{args.templates} templates x {args.block}: IoM codes m={args.m} q={args.q}, embeddings d={args.dim}")
    print(f"hamming on codes   {hamming / 1e6:8.1f} M pairs/s")
    print(f"cosine on floats   {cosine / 1e6:8.1f} M pairs/s")
    print(f"hamming / cosine   {hamming / cosine:8.2f}")


if __name__ == "__main__":
    main()
