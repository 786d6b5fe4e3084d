"""A gallery of known fish: enrol photos, identify new ones, revoke templates (``python -m lateral.gallery``).

Modules: ``packing`` (IoM codes as bit planes and their Hamming search),
``keys`` (the permutation key and its verifier), ``store`` (the versioned
``.lgal`` file), ``database`` (its SQLite catalogue), ``catalogue`` (merge,
split, rename, undo: the decision log), ``curation`` (their commands),
``exports`` (MARK, RMark, encounters), ``grouping`` (a session's new photos
as new fish), ``captures`` (both flanks of a capture), ``schema`` (its
fields, checked on load), ``errors`` (the
user-facing ``GalleryError``), ``encoder`` (photos to templates with a trained model),
``search`` (1:N search, thresholds and the match/review/new decision),
``history`` (capture histories), ``lock`` (one writer at a time),
``commands`` (the subcommands); how well the keys protect templates is
measured in ``lateral.evaluation.protection``.
"""
