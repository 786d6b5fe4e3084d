"""``test_iom.py``: how well does a trained run tell fish apart, and at what threshold?"""

from pathlib import Path

import numpy as np

from lateral.data.split import keep_fish
from lateral.evaluation.protocol import EvaluationError, comparable, require_both_kinds, verification_pairs
from lateral.evaluation.report import write_report
from lateral.evaluation.templates import compute_templates, load_test_set
from lateral.evaluation.verification import evaluate_measure
from lateral.measures import MEASURES

DEFAULT_MEASURES = {"codes": ("hamming",), "embeddings": ("cosine",)}


def evaluate_run(run_folder, test_dataset, out_dir, measures=None, cross_session=False, compare_flanks=False,
                 max_pairs=2_000_000, bootstrap_rounds=200, fish=()):
    """Evaluate ``run_folder``'s models on ``test_dataset`` (only ``fish``, if named);
    returns (Markdown table, {measure: figures})."""
    roi_set = load_test_set(test_dataset)
    if fish:
        roi_set = keep_fish(roi_set, fish, keep=True)
    allowed = comparable(roi_set.fish_ids, roi_set.flanks, roi_set.sessions, cross_session, compare_flanks)
    first, second, genuine = verification_pairs(roi_set.fish_ids, allowed, max_pairs)
    require_both_kinds(genuine, roi_set.fish_ids, roi_set.sessions, cross_session, test_dataset)
    templates = compute_templates(run_folder, roi_set)
    if measures is None:  # hamming on IoM codes for a stage-two run, and cosine on embeddings always
        measures = [*(DEFAULT_MEASURES["codes"] if templates["codes"] is not None else ()), *DEFAULT_MEASURES["embeddings"]]
    results, scores = {}, {}
    for name in measures:
        measure = MEASURES.get(name)
        representation = templates[measure.representation]
        if representation is None:
            raise EvaluationError(f"measure {name!r} needs IoM codes, but {run_folder} holds a stage-one model only")
        similarity = measure.scores(representation, representation)
        results[name] = evaluate_measure(similarity, roi_set.fish_ids, allowed, first, second, genuine,
                                         bootstrap_rounds)
        pair_scores = similarity[first, second]
        scores[name] = (pair_scores[genuine], pair_scores[~genuine])
    protocol = "cross-session" if cross_session else "all pairs"
    flanks = "flanks compared with each other" if compare_flanks else "same flank only"
    header = (f"# {Path(run_folder).name} on {test_dataset}\n\n{len(roi_set)} images of "
              f"{len(np.unique(roi_set.fish_ids))} fish; protocol: {protocol}, {flanks}; "
              f"{int(genuine.sum())} genuine and {int((~genuine).sum())} impostor pairs.")
    table = write_report(Path(out_dir), header, results, scores)
    return f"{header}\n\n{table}", results
