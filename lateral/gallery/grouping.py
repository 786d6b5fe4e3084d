"""Photos of one new fish in one session become one new fish: the "new" photos are matched with each other.

Two photos decided "new" (no known fish reaches the thresholds) are linked
when they come from the same session, show the same flank, and score at or
above the accept threshold with each other; the groups are the connected
components of these links (single linkage), found with a union-find. Each
group is one proposed new fish, so a session's five photos of a newcomer
make one new fish, not five.
"""

import numpy as np

from lateral.measures import MEASURES


def new_fish_groups(results, codes, embeddings, sessions, accept, measure="hamming"):
    """A group number (1, 2, ...) for each result decided "new", None for the others.

    ``codes``/``embeddings`` are the photos' in the order of ``results``;
    ``sessions`` their sessions; ``accept`` the accept threshold of
    ``measure``. Groups are numbered in order of their first photo.
    """
    new = [index for index, result in enumerate(results) if result["decision"] == "new"]
    chosen = MEASURES.get(measure)
    features = np.asarray(codes if chosen.representation == "codes" else embeddings)[new]
    scores = chosen.scores(features, features) if new else np.zeros((0, 0))
    parent = list(range(len(new)))

    def root(node):
        while parent[node] != node:
            parent[node] = parent[parent[node]]
            node = parent[node]
        return node

    for i in range(len(new)):
        for j in range(i + 1, len(new)):
            a, b = results[new[i]], results[new[j]]
            if sessions[new[i]] == sessions[new[j]] and a["flank"] == b["flank"] and scores[i, j] >= accept:
                parent[max(root(i), root(j))] = min(root(i), root(j))
    groups, labels = {}, [None] * len(results)
    for position, index in enumerate(new):
        labels[index] = groups.setdefault(root(position), len(groups) + 1)
    return labels
