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
