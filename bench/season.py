"""A simulated field season through the gallery commands: what identification errors do to a mark-recapture
estimate, at the default settings or others (docs/catalogue.md).

    python bench/season.py --model checkpoints/synthetic_iom   # after `make demo` (a few minutes on 2 cores)

A closed population of ``--fish`` synthetic tent fish (lateral.synthetic, unseen in training). ``--sampling
issue`` (the issue's design): session 1 photographs half of them; each later session ``--per_session`` fish, of
which ``--new_share`` were never photographed before and the rest drawn from those that were (so a marked fish is
likelier to be caught again: even the true histories underestimate). ``--sampling equal``: every session draws
``--per_session`` fish from the whole population (equal catchability, the estimators' assumption). Each capture
is a fish in hand photographed on both flanks (``s<session>_c<capture>_<flank>.jpg``; the capture number links
the two, ``--capture_pattern``), never by its true id. Session 1 is enrolled one folder per capture. Each later
session is identified (FPIR ``--fpir`` sized to the gallery, review band to ``--review_fpir``, from the model's
calibration file; ``--measure``, ``--verify``) and decided as a person following the suggestions would: a capture
the gallery decides is a match (``--flanks agree``: its flanks vote together; ``best``: the rule before) is
confirmed as that fish, one whose photos are all "new" becomes one new fish, the rest go to a person, here played
by the truth. Printed: captures per decision, photos a person looks at, duplicates created (true fish recorded
under more than one id), false recaptures (a capture confirmed as a fish it is not), and the Schnabel and
Lincoln-Petersen (Chapman) estimates from the catalogue's capture histories, beside the same estimates from the
true histories and the true population.
"""

import argparse
import os
import random
import shutil
import sys
import tempfile
import time
from pathlib import Path

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from lateral import synthetic  # noqa: E402
from lateral.gallery import commands  # noqa: E402
from lateral.gallery.fpir_thresholds import DEFAULT_FPIR, calibration_path, fpir_thresholds  # noqa: E402
from lateral.gallery.store import load_gallery  # noqa: E402
from lateral.gallery.verification import scored_measure, verification_record  # noqa: E402
from lateral.matching.fusion import DEFAULT_BUDGET  # noqa: E402

CAPTURE_PATTERN = r"_c(?P<capture>\d+)_"


def schnabel(histories):
    """Schnabel's estimate with Chapman's correction, N = sum(C_t M_t) / (sum(R_t) + 1) (Krebs, Ecological
    Methodology, 2nd ed., eq. 2.9): C_t caught in session t, M_t marked before it, R_t of them recaptures."""
    sessions = len(next(iter(histories.values())))
    marked, numerator, recaptures = set(), 0, 0
    for t in range(sessions):
        caught = {fish for fish, history in histories.items() if history[t]}
        numerator += len(caught) * len(marked)
        recaptures += len(caught & marked)
        marked |= caught
    return numerator / (recaptures + 1)


def lincoln_petersen(histories, first=0, second=1):
    """Chapman's Lincoln-Petersen estimate (n1 + 1)(n2 + 1) / (m2 + 1) - 1 from two sessions (Krebs, eq. 2.2)."""
    n1 = sum(history[first] for history in histories.values())
    n2 = sum(history[second] for history in histories.values())
    m2 = sum(history[first] and history[second] for history in histories.values())
    return (n1 + 1) * (n2 + 1) / (m2 + 1) - 1


def sample_season(fish, sessions, per_session, new_share, rng, sampling="issue"):
    """[[fish index, ...] per session]. ``issue``: session 1 half the population, later ones ``new_share`` never
    seen and the rest drawn from those seen (unequal catchability by construction); ``equal``: each session
    ``per_session`` fish drawn from the whole population (every fish equally catchable, Schnabel's assumption)."""
    if sampling == "equal":
        return [rng.sample(range(fish), per_session) for _ in range(sessions)]
    unseen = list(range(fish))
    rng.shuffle(unseen)
    first = [unseen.pop() for _ in range(fish // 2)]
    seen, plan = list(first), [first]
    for _ in range(1, sessions):
        new = [unseen.pop() for _ in range(min(round(per_session * new_share), len(unseen)))]
        again = rng.sample(seen, per_session - len(new))
        seen += new
        plan.append(again + new)
    return plan


def capture_suggestion(results, flanks="agree"):
    """What a person following the suggestions confirms a capture (its photos' ``identify`` results) as: a fish id,
    "new" or "review". ``agree``: the gallery's capture decision (its flanks vote together,
    ``lateral.gallery.captures``); ``best``: the rule before it, the fish its best-scoring matched photo matched,
    "new" if every photo is new, else "review"."""
    if flanks == "agree":
        decision = results[0]["capture_decision"]
        return results[0]["capture_fish"] if decision == "match" else decision
    matches = [result for result in results if result["decision"] == "match"]
    if matches:
        return max(matches, key=lambda result: result["candidates"][0]["score"])["candidates"][0]["fish_id"]
    return "new" if all(result["decision"] == "new" for result in results) else "review"


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--model", default="checkpoints/synthetic_iom", help="a stage-two run folder")
    parser.add_argument("--fish", type=int, default=200)
    parser.add_argument("--sessions", type=int, default=4)
    parser.add_argument("--per_session", type=int, default=100)
    parser.add_argument("--new_share", type=float, default=0.2)
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--sampling", choices=["issue", "equal"], default="issue",
                        help="issue: later sessions recapture only fish already photographed (the issue's design); "
                             "equal: every session draws from the whole population (the new share comes out as it "
                             "does)")
    parser.add_argument("--measure", choices=["hamming", "cosine"], default="hamming",
                        help="the global score (cosine: the gallery stores float embeddings)")
    parser.add_argument("--verify", choices=["sift"], default=None,
                        help="a verifying gallery (needs <model>/calibration/run_<score>.json and the fused score in "
                             "the model's open-set calibration: test_iom.py --verify sift --fit_calibration)")
    parser.add_argument("--fpir", type=float, default=DEFAULT_FPIR)
    parser.add_argument("--review_fpir", type=float, default=None, help="default: the gallery's (10x --fpir)")
    parser.add_argument("--flanks", choices=["agree", "best"], default="agree",
                        help="agree: the gallery's capture decision (a capture's flanks vote together); best: the "
                             "rule before it (the fish the best-scoring matched photo matched)")
    args = parser.parse_args()
    started = time.perf_counter()
    rng = random.Random(args.seed)
    root = Path(tempfile.mkdtemp(prefix="season_"))
    # Photos per fish and session: enough that each capture finds one of each flank (the renderer draws the flank).
    truths = synthetic.render_dataset(root / "raw", ids=args.fish, sessions=args.sessions, per_id=6,
                                      size=(640, 480), seed=1000 + args.seed)
    photos = {}
    for truth in truths:
        photos.setdefault((truth["session"], truth["fish_id"]), {}).setdefault(truth["flank"], []).append(
            root / "raw" / truth["photo"])
    plan = sample_season(args.fish, args.sessions, args.per_session, args.new_share, rng, args.sampling)
    truth_of, folders = {}, []
    capture = 0
    for number, caught in enumerate(plan, 1):
        folder = root / f"session_{number}"
        for index in caught:
            capture += 1
            shots = photos[(f"session_{number}", f"fish_{index:03d}")]
            for flank in ("left", "right"):
                if flank not in shots:
                    continue
                target = (folder / f"c{capture:04d}" if number == 1 else folder) / f"s{number}_c{capture:04d}_{flank}.jpg"
                target.parent.mkdir(parents=True, exist_ok=True)
                shutil.copyfile(shots[flank][0], target)
            truth_of[capture] = index
        folders.append(folder)
    rendered = time.perf_counter() - started

    gallery_path = root / "season.lgal"
    commands.enroll(gallery_path, folders[0], model=args.model, session="session_1", capture_pattern=CAPTURE_PATTERN,
                    store_embeddings=args.measure == "cosine", verify=args.verify)
    record = None if args.verify is None else verification_record(args.verify, DEFAULT_BUDGET)
    thresholds = fpir_thresholds(calibration_path(Path(args.model)), scored_measure(args.measure, record), args.fpir,
                                 args.review_fpir)
    gallery, encoder, evidence = commands.open_verified(gallery_path, None)
    counts = {"match": 0, "new": 0, "review": 0}
    false_recaptures = review_photos = 0
    for number, folder in enumerate(folders[1:], 2):
        found = commands.identify(gallery_path, [folder], thresholds, measure=args.measure,
                                  capture_pattern=CAPTURE_PATTERN)
        by_capture = {}
        for result in found["results"]:
            by_capture.setdefault(result["capture"], []).append(result)
        decided = {}
        gallery = load_gallery(gallery_path)
        for capture_id, results in by_capture.items():
            true_fish = truth_of[int(capture_id)]
            enrolled_as = {entry["fish_id"] for entry in gallery.entries if entry.get("capture") is not None
                           and truth_of[int(entry["capture"])] == true_fish}
            suggestion = capture_suggestion(results, args.flanks)
            if suggestion not in ("new", "review"):
                counts["match"] += 1
                fish = suggestion
                false_recaptures += fish not in enrolled_as
            elif suggestion == "new":
                counts["new"] += 1
                fish = "new"
            else:  # a person decides, knowing the fish (the truth stands in for them)
                counts["review"] += 1
                review_photos += len(results)
                fish = min(enrolled_as) if enrolled_as else "new"
            decided[capture_id] = ([result["photo"] for result in results], fish)
        with commands.changing(gallery_path) as gallery:
            for capture_id, (shots, fish) in sorted(decided.items()):
                summary = commands.record_confirmation(gallery, encoder, shots[0], fish, f"session_{number}",
                                                       capture_pattern=CAPTURE_PATTERN, evidence=evidence)
                for other in shots[1:]:
                    commands.record_confirmation(gallery, encoder, other, summary["fish_id"], f"session_{number}",
                                                 capture_pattern=CAPTURE_PATTERN, evidence=evidence)

    gallery = load_gallery(gallery_path)
    ids_of_true = {}
    catalogue_histories = {}
    for entry in gallery.entries:
        session = int(entry["session"].split("_")[1]) - 1
        ids_of_true.setdefault(truth_of[int(entry["capture"])], set()).add(entry["fish_id"])
        catalogue_histories.setdefault(entry["fish_id"], [0] * args.sessions)[session] = 1
    true_histories = {}
    for session, caught in enumerate(plan):
        for index in caught:
            true_histories.setdefault(index, [0] * args.sessions)[session] = 1
    duplicates = sum(len(ids) - 1 for ids in ids_of_true.values())
    mixed = sum(len({truth_of[int(e["capture"])] for e in gallery.entries if e["fish_id"] == fish}) > 1
                for fish in catalogue_histories)
    captures = sum(counts.values())
    setting = (f"{scored_measure(args.measure, record)}, FPIR {args.fpir:g}, review band to FPIR "
               f"{thresholds.review_fpir:g}, flanks {args.flanks}")
    print(f"season: {args.fish} fish, {args.sessions} sessions, sampling {args.sampling} (session 1 {len(plan[0])} "
          f"fish, then {args.per_session} a session); both flanks per capture; model {args.model}; seed {args.seed}; "
          f"{setting}")
    print(f"sessions 2-{args.sessions}: {captures} captures: {counts['match']} confirmed as the suggested match, "
          f"{counts['new']} as new fish, {counts['review']} to review ({counts['review'] / captures:.0%}, "
          f"{review_photos} photos a person looks at)")
    print(f"catalogue: {len(catalogue_histories)} fish ids for {len(true_histories)} fish photographed; duplicates "
          f"created {duplicates}; false recaptures {false_recaptures}; ids holding more than one fish {mixed}")
    estimates = (schnabel(catalogue_histories), schnabel(true_histories), lincoln_petersen(catalogue_histories),
                 lincoln_petersen(true_histories))
    print(f"population {args.fish}: Schnabel {estimates[0]:.0f} from the catalogue, {estimates[1]:.0f} from the true "
          f"histories; Lincoln-Petersen (Chapman, sessions 1, 2) {estimates[2]:.0f} from the catalogue, "
          f"{estimates[3]:.0f} from the true histories")
    print("table row: | " + " | ".join([setting, args.sampling, str(args.seed),
                                        f"{counts['match']} / {counts['new']} / {counts['review']}",
                                        str(review_photos), str(duplicates), str(false_recaptures),
                                        *(f"{estimate:.0f}" for estimate in estimates)]) + " |")
    print(f"({time.perf_counter() - started:.0f} s, of which {rendered:.0f} s rendering; files in {root})")


if __name__ == "__main__":
    main()
