"""The review workspace (``python -m lateral.gallery review``): a local web page to decide new photos.

Modules: ``workspace`` (the queue, candidates and decisions, on the
``.lgal`` file through the gallery lock and ``commands.record_confirmation``),
``images`` (ROIs and annotated source photos cut with the gallery's own
preprocessing, cached in ``G.lgal.thumbs/``), ``app`` (the Flask app and its
safety rules) and ``serve`` (the local server).
"""
