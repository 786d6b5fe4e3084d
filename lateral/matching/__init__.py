"""Local pattern matching: the global score's shortlist verified by local geometry, calibrated, fused (docs/matching.md)."""
