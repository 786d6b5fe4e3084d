"""Per-fish identification: each fish's rank-1 and the fish its photos are most often mistaken for."""

import collections

import numpy as np

PerFish = collections.namedtuple("PerFish", "rank1 most_confused confusions queries")


def per_fish_rank1(similarity, fish_ids, allowed):
    """{fish: PerFish(rank1, most_confused fish or None, how many of its queries that fish answered,
    queries)} under the protocol ``allowed`` (as in metrics.cmc_and_map: queries without an allowed
    image of their own fish are skipped; ties keep gallery order)."""
    similarity = np.asarray(similarity, np.float64)
    fish_ids = np.asarray(fish_ids)
    allowed = np.asarray(allowed, bool) & ~np.eye(len(fish_ids), dtype=bool)
    hits, answers = collections.defaultdict(list), collections.defaultdict(collections.Counter)
    for query in range(len(fish_ids)):
        candidates = np.flatnonzero(allowed[query])
        if not (fish_ids[candidates] == fish_ids[query]).any():
            continue
        answer = fish_ids[candidates[np.argmax(similarity[query, candidates])]]
        hits[fish_ids[query]].append(answer == fish_ids[query])
        if answer != fish_ids[query]:
            answers[fish_ids[query]][answer] += 1
    table = {}
    for fish in sorted(hits):
        confused, count = answers[fish].most_common(1)[0] if answers[fish] else (None, 0)
        table[str(fish)] = PerFish(float(np.mean(hits[fish])), None if confused is None else str(confused), count,
                                   len(hits[fish]))
    return table


def per_fish_markdown(tables):
    """One Markdown table per measure: ``tables[measure] = per_fish_rank1(...)``."""
    sections = []
    for measure, table in tables.items():
        lines = [f"### {measure}", "", "| fish | queries | rank-1 | most confused with (times) |", "|---|---|---|---|"]
        for fish, row in table.items():
            confused = f"{row.most_confused} ({row.confusions})" if row.most_confused is not None else "-"
            lines.append(f"| {fish} | {row.queries} | {row.rank1:.3f} | {confused} |")
        sections.append("\n".join(lines))
    return "## Per fish (rank-1)\n\n" + "\n\n".join(sections)


def fish_bootstrap_interval(values, query_fish, rounds=1000, seed=0):
    """95% interval of the mean of per-query ``values``, resampling fish with replacement (a fish drawn k times
    counts its queries k times): the queries of one fish are not independent, its fish is the unit of chance."""
    fish, index = np.unique(np.asarray(query_fish), return_inverse=True)
    rng = np.random.default_rng(seed)
    draws = np.stack([np.bincount(rng.integers(0, fish.size, fish.size), minlength=fish.size)
                      for _ in range(rounds)])
    weights = draws[:, index].astype(np.float64)
    means = (weights @ np.asarray(values, np.float64)) / weights.sum(axis=1)
    return [float(np.percentile(means, 2.5)), float(np.percentile(means, 97.5))]


def noise_verdict(interval):
    """How to read a difference's 95% ``interval``: "a real difference" when it excludes 0, else "inside the
    noise"."""
    low, high = interval
    return "a real difference" if low > 0 or high < 0 else "inside the noise"


def paired_rank1_differences(first, second):
    """Per-query rank-1 differences (second - first) and each query's fish, from two reports' per-fish tables
    (``metrics.json``'s ``per_fish``: {fish: {"rank1", "queries", ...}}) of the same queries. Only each fish's
    count of hits is known, so a fish's differences are its net gain spread over its first queries: the mean, and
    every fish-resampled mean, is exactly that of the true per-query differences."""
    if set(first) != set(second):
        raise ValueError(f"the two reports have different fish: {sorted(set(first) ^ set(second))}")
    values, query_fish = [], []
    for fish in sorted(first):
        queries = first[fish]["queries"]
        if second[fish]["queries"] != queries:
            raise ValueError(f"fish {fish}: {queries} queries in one report, {second[fish]['queries']} in the other")
        gain = round(second[fish]["rank1"] * queries) - round(first[fish]["rank1"] * queries)
        values += [np.sign(gain)] * abs(gain) + [0] * (queries - abs(gain))
        query_fish += [fish] * queries
    return np.asarray(values, np.float64), np.asarray(query_fish)
