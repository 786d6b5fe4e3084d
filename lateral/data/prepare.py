"""``prepare_data.py``: a folder of photos in, ROIs, a manifest and TFRecords out.

Re-running skips photos already in the manifest (so an interrupted run picks
up where it stopped) unless ``overwrite``; a photo whose file changed since
(its size or modification time, recorded as ``photo_stamp``) is done again; nothing under the photo folder is
ever written, and nothing in the output folder but this stage's own files.
"""

import dataclasses
import json
import multiprocessing
import os
import signal
import sys
from pathlib import Path

import cv2
from tqdm import tqdm

from lateral.atomic_write import write_atomically
from lateral.config import snapshot
from lateral.data import report
from lateral.data.layout import read_layout
from lateral.preprocess.photo import process_cropped_photo, process_tent_photo
from lateral.preprocess.rejection import PhotoRejected
from lateral.user_errors import UserError, printable

MANIFEST = "manifest.jsonl"
SETTINGS = "prepare_settings.json"
LABEL_MAP = "label_map.json"
ROI_FOLDER = "rois"
RECORD_FOLDER = "tfrecords"


class PrepareError(UserError):
    """The arguments cannot work; raised before any photo is processed."""


@dataclasses.dataclass(frozen=True)
class Task:
    raw_dir: str
    out_dir: str
    source: str
    label: str
    session: str


@dataclasses.dataclass(frozen=True)
class Settings:
    preprocess: object  # PreprocessConfig
    output_size: tuple
    segment: bool
    session_pattern: object = None  # str or None

    def as_json(self):
        return {"preprocess": snapshot(self.preprocess), "input_size": list(self.output_size), "segment": self.segment,
                "session_pattern": self.session_pattern}


def prepare(input_dir, output_dir, preprocess, output_size, segment=True, workers=1, overwrite=False, progress=True,
            session_pattern=None):
    """Process every photo under ``input_dir``; returns the summary dict."""
    raw_dir, out_dir = Path(input_dir).resolve(), Path(output_dir).resolve()
    settings = Settings(preprocess, tuple(output_size), segment, session_pattern)
    _check_arguments(raw_dir, out_dir, settings, workers, overwrite)
    layout = read_layout(raw_dir, session_pattern)
    entries = layout.photos
    if not entries:
        raise PrepareError(f"no photos found under {raw_dir} (expected RAW/<fish_id>/* or RAW/<session>/<fish_id>/*)")

    out_dir.mkdir(parents=True, exist_ok=True)
    write_atomically(out_dir / SETTINGS, json.dumps(settings.as_json(), indent=2) + "\n")
    done = {} if overwrite else _finished_records(out_dir, raw_dir)
    pending = [
        Task(str(raw_dir), str(out_dir), entry.source, entry.label, entry.session)
        for entry in entries
        if entry.source not in done
    ]
    with open(out_dir / MANIFEST, "w" if overwrite else "a") as manifest:
        for record in _run(pending, settings, workers, progress):
            manifest.write(json.dumps(record) + "\n")
            manifest.flush()
            done[record["source"]] = record

    wanted = {entry.source for entry in entries}
    records = [done[source] for source in sorted(done) if source in wanted]
    write_atomically(out_dir / MANIFEST, "".join(json.dumps(record) + "\n" for record in records))
    ok_records = [record for record in records if record["status"] == "ok"]
    label_map = {label: index for index, label in enumerate(sorted({r["label"] for r in ok_records}))}
    write_atomically(out_dir / LABEL_MAP, json.dumps(label_map, indent=2) + "\n")
    shards = _write_records(out_dir, ok_records, label_map, preprocess.records_per_shard)
    report.write_montage(out_dir / "montage.png", out_dir, ok_records)
    summary = report.summarise(records)
    summary["shards"] = [path.name for path in shards]
    summary["layout"] = layout.kind
    summary["ignored"] = [{"path": printable(item.path), "reason": item.reason} for item in layout.ignored]
    write_atomically(out_dir / "summary.json", json.dumps(summary, indent=2) + "\n")
    return summary


def _check_arguments(raw_dir, out_dir, settings, workers, overwrite):
    if not raw_dir.is_dir():
        raise PrepareError(f"--input_dir {raw_dir} is not a folder")
    if out_dir == raw_dir or raw_dir in out_dir.parents:
        raise PrepareError(f"--output_dir {out_dir} is inside --input_dir {raw_dir}; choose a folder outside it")
    if out_dir in raw_dir.parents:
        raise PrepareError(f"--input_dir {raw_dir} is inside --output_dir {out_dir}; choose a separate output folder")
    if workers < 1:
        raise PrepareError(f"--workers must be at least 1, got {workers}")
    if not out_dir.exists():
        return
    if not out_dir.is_dir():
        raise PrepareError(f"--output_dir {out_dir} exists and is not a folder")
    settings_file = out_dir / SETTINGS
    if not settings_file.exists():
        if any(out_dir.iterdir()):
            raise PrepareError(f"--output_dir {out_dir} holds other files and no {SETTINGS}; choose an empty or new folder")
        return
    if overwrite:
        return
    previous = _read_settings(settings_file)
    if previous != settings.as_json():
        changed = sorted(key for key in settings.as_json() if previous.get(key) != settings.as_json()[key])
        raise PrepareError(
            f"{out_dir} was prepared with different settings ({', '.join(changed)}); "
            "pass --overwrite to redo it or choose another --output_dir"
        )


def _read_settings(settings_file):
    try:
        previous = json.loads(settings_file.read_bytes().decode("utf-8"))
    except (OSError, ValueError) as error:
        raise PrepareError(f"{settings_file} is damaged ({error}); pass --overwrite to prepare the folder afresh, "
                           "or choose another --output_dir") from None
    if not isinstance(previous, dict):
        raise PrepareError(f"{settings_file} is damaged (not a JSON object); pass --overwrite to prepare the folder "
                           "afresh, or choose another --output_dir")
    return previous


def _photo_stamp(photo):
    """What tells a replaced photo from the one prepared: [size, modification time in ns]."""
    stat = photo.stat()
    return [stat.st_size, stat.st_mtime_ns]


def _unchanged(raw_dir, record):
    """Whether the record's photo is still the file it was made from (records before ``photo_stamp``: trusted)."""
    if "photo_stamp" not in record:
        return True
    try:
        return _photo_stamp(raw_dir / record["source"]) == record["photo_stamp"]
    except OSError:
        return False


def _finished_records(out_dir, raw_dir):
    """Records of photos already handled; an ok photo whose ROI file is gone, or whose photo changed, is redone.

    An unreadable last line is what an interrupted run leaves: it is set aside
    (that photo is redone); a damaged line anywhere else is a PrepareError naming it."""
    path = out_dir / MANIFEST
    if not path.exists():
        return {}
    _set_aside_cut_short_line(path)
    try:
        lines = path.read_bytes().decode("utf-8").splitlines()
    except (OSError, UnicodeDecodeError) as error:
        raise PrepareError(f"{path} cannot be read ({error}); pass --overwrite to prepare the folder afresh") from None
    done = {}
    for number, line in enumerate(lines, 1):
        try:
            record = json.loads(line)
            finished = ((record["status"] == "rejected" or (out_dir / record["roi_image"]).exists())
                        and _unchanged(raw_dir, record))
            source = record["source"]
        except (ValueError, KeyError, TypeError):
            raise PrepareError(f"{path} line {number} is damaged; delete that line (its photo is prepared again) "
                               "or pass --overwrite") from None
        if finished:
            done[source] = record
    return done


def _set_aside_cut_short_line(path):
    """Cut the manifest back to its whole records when its last line is cut short (no newline, or not a record),
    as a crash mid-write leaves it, so that the next record starts on a line of its own. The cut bytes are
    appended to ``manifest.jsonl.damaged``, never dropped."""
    data = path.read_bytes()
    keep = data[: data.rfind(b"\n") + 1]
    if keep == data and data:  # ends in a newline: is its last line a record?
        start = data.rfind(b"\n", 0, len(data) - 1) + 1
        if _is_record(data[start:]):
            return
        keep = data[:start]
    if keep == data:
        return
    side = path.with_name(path.name + ".damaged")
    with open(side, "ab") as handle:
        handle.write(data[len(keep):].rstrip(b"\n") + b"\n")
        handle.flush()
        os.fsync(handle.fileno())
    os.truncate(path, len(keep))
    print(f"warning: {printable(str(path))} ended in a line cut short by an interrupted run; its bytes are kept in "
          f"{printable(str(side))} and that photo is prepared again", file=sys.stderr)


def _is_record(line):
    try:
        record = json.loads(line)
    except ValueError:
        return False
    return isinstance(record, dict) and "source" in record and "status" in record


def roi_corners(prepared_dir):
    """{source: the ROI's four corners in the source photo} of every ok photo in the manifest (for cutting
    the ROI again at another resolution: lateral.matching.roi)."""
    path = Path(prepared_dir) / MANIFEST
    if not path.exists():
        raise PrepareError(f"{path} not found: ROIs are re-cut from the photos by the manifest of prepare_data.py")
    corners = {}
    for line in path.read_text(encoding="utf-8").splitlines():  # read only: a resumed prepare repairs the file
        try:
            record = json.loads(line)
        except ValueError:
            continue  # a last line cut short by an interrupted run
        if record.get("status") == "ok":
            corners[record["source"]] = record["roi"]
    return corners


def _run(tasks, settings, workers, progress):
    bar = tqdm(total=len(tasks), desc="preparing photos", unit="photo", disable=not progress or not tasks)
    if workers == 1 or len(tasks) < 2:
        results = (_process(task, settings) for task in tasks)
        yield from _with_progress(results, bar)
        return
    # spawn, not fork: the parent may already hold TensorFlow's threads.
    context = multiprocessing.get_context("spawn")
    chunk = max(1, min(16, len(tasks) // (4 * workers)))
    with context.Pool(workers, initializer=_init_worker, initargs=(settings,)) as pool:
        yield from _with_progress(pool.imap_unordered(_process_in_worker, tasks, chunksize=chunk), bar)


def _with_progress(results, bar):
    with bar:
        for record in results:
            bar.update()
            yield record


_worker_settings = None


def _init_worker(settings):
    global _worker_settings
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # Ctrl+C is the parent's to answer, in one line
    cv2.setNumThreads(1)
    _worker_settings = settings


def _process_in_worker(task):
    return _process(task, _worker_settings)


def _process(task, settings):
    """Process one photo into its manifest record; raises only when its ROI cannot be written."""
    record = {
        "source": task.source,
        "label": task.label,
        "session": task.session,
        "status": "rejected",
        "reason": None,
        "detail": None,
        "roi": None,
        "eye": None,
        "dorsal_fin_start": None,
        "belly": None,
        "angle": None,
        "flipped": None,
        "flank": None,
        "quality": {},
        "roi_image": None,
        "photo_stamp": None,
    }
    process = process_tent_photo if settings.segment else process_cropped_photo
    try:
        record["photo_stamp"] = _photo_stamp(Path(task.raw_dir) / task.source)
        roi, measurements = process(Path(task.raw_dir) / task.source, settings.preprocess, settings.output_size)
        roi_image = f"{ROI_FOLDER}/{task.source}.{settings.preprocess.roi_format}"
        encoded = cv2.imencode(f".{settings.preprocess.roi_format}", roi)[1].tobytes()
    except PhotoRejected as rejection:
        record.update(reason=rejection.reason, detail=rejection.detail, quality=rejection.quality)
        return record
    except Exception as error:  # a photo must never stop the run; say what happened
        record.update(reason="error", detail=f"{type(error).__name__}: {error}")
        return record
    # The output's problems (a full disk) stop the run: recorded as the photo's, it would never be redone.
    destination = Path(task.out_dir) / roi_image
    destination.parent.mkdir(parents=True, exist_ok=True)
    destination.write_bytes(encoded)
    record.update(measurements, status="ok", roi_image=roi_image)
    return record


def _write_records(out_dir, ok_records, label_map, records_per_shard):
    from lateral.data import tfrecord  # TensorFlow is imported only once photos are done

    examples = [
        tfrecord.serialize_example(
            (out_dir / record["roi_image"]).read_bytes(),
            label_map[record["label"]],
            record["label"],
            record["session"],
            record["source"],
            record["flank"],
        )
        for record in ok_records
    ]
    return tfrecord.write_shards(examples, out_dir / RECORD_FOLDER, records_per_shard) if examples else []
