"""Losses, each registered by name: ``LOSSES.get("batch_hard_triplet")(labels, embeddings, margin=0.3)``."""

from lateral.losses import arc_triplet, quadruplet, regularisers, triplet  # noqa: F401  (they register)
from lateral.losses.registry import LOSSES

__all__ = ["LOSSES"]
