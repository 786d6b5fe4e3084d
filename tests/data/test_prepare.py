"""prepare_data end to end on a small synthetic set with bad files mixed in."""

import hashlib
import json
import subprocess
import sys
from pathlib import Path

import cv2
import numpy as np
import pytest
import tensorflow as tf

from lateral import synthetic
from lateral.config import PreprocessConfig
from lateral.data.prepare import PrepareError, prepare
from lateral.data.tfrecord import parse_example

REPO = Path(__file__).resolve().parents[2]
ROI_SIZE = (48, 96)
MANIFEST_KEYS = {
    "source", "label", "session", "status", "reason", "detail", "roi", "eye", "dorsal_fin_start", "belly",
    "angle", "flipped", "flank", "quality", "roi_image", "photo_stamp",
}


def tree_digest(folder):
    digest = hashlib.sha256()
    for path in sorted(Path(folder).rglob("*")):
        digest.update(str(path.relative_to(folder)).encode())
        if path.is_file():
            digest.update(path.read_bytes())
    return digest.hexdigest()


@pytest.fixture(scope="module")
def raw(tmp_path_factory):
    folder = tmp_path_factory.mktemp("raw")
    synthetic.render_dataset(folder, ids=3, sessions=2, per_id=2, size=(480, 360), seed=3)
    fish_folder = folder / "session_1" / "fish_000"
    good = next(fish_folder.glob("*.jpg")).read_bytes()
    (fish_folder / "truncated.jpg").write_bytes(good[: len(good) // 2])
    (fish_folder / "notes.txt").write_bytes(b"fish_000 was restless\n")
    gray = np.full((360, 480), 128, np.uint8)
    cv2.imwrite(str(folder / "session_2" / "fish_001" / "gray.png"), gray)
    cv2.imwrite(str(folder / "session_2" / "fish_002" / "empty_tank.png"), np.full((360, 480, 3), (40, 160, 60), np.uint8))
    return folder


@pytest.fixture(scope="module")
def prepared(raw, tmp_path_factory):
    out = tmp_path_factory.mktemp("prepared") / "out"
    before = tree_digest(raw)
    summary = prepare(raw, out, PreprocessConfig(), ROI_SIZE, progress=False)
    assert tree_digest(raw) == before, "prepare changed the photo folder"
    return out, summary


def manifest(out):
    return [json.loads(line) for line in (out / "manifest.jsonl").read_text().splitlines()]


def test_manifest_has_one_record_per_file_with_the_schema(raw, prepared):
    out, _ = prepared
    records = manifest(out)
    files = sorted(p.relative_to(raw).as_posix() for p in raw.glob("*/*/*"))
    assert [r["source"] for r in records] == files
    for record in records:
        assert set(record) == MANIFEST_KEYS
        assert record["status"] in {"ok", "rejected"}
        assert record["label"] == record["source"].split("/")[1]
        assert record["session"] == record["source"].split("/")[0]
        if record["status"] == "ok":
            assert record["reason"] is None
            assert np.asarray(record["roi"]).shape == (4, 2)
            for key in ("eye", "dorsal_fin_start", "belly"):
                assert len(record[key]) == 2
            assert record["flank"] in {"left", "right"}
            assert record["flipped"] == (record["flank"] == "right")
            assert (out / record["roi_image"]).is_file()
            assert cv2.imread(str(out / record["roi_image"])).shape == (*ROI_SIZE, 3)
        else:
            assert record["reason"] and record["detail"] and record["roi_image"] is None


def test_bad_files_are_rejected_with_their_reason(prepared):
    out, summary = prepared
    reasons = {r["source"].rsplit("/", 1)[1]: r["reason"] for r in manifest(out) if r["status"] == "rejected"}
    assert reasons["notes.txt"] == "not_an_image"
    assert reasons["truncated.jpg"] == "corrupt"
    assert reasons["gray.png"] == "grayscale"
    assert reasons["empty_tank.png"] == "no_fish"
    assert summary["ok"] >= 10 and summary["photos"] == 16
    assert sum(summary["by_reason"].values()) == summary["rejected"]


def test_tfrecords_round_trip_byte_exact(prepared):
    out, _ = prepared
    label_map = json.loads((out / "label_map.json").read_text())
    assert label_map == {"fish_000": 0, "fish_001": 1, "fish_002": 2}
    ok = {r["source"]: r for r in manifest(out) if r["status"] == "ok"}
    seen = set()
    for shard in sorted((out / "tfrecords").glob("*.tfrecord")):
        for serialized in tf.data.TFRecordDataset(str(shard)):
            example = {k: v.numpy() for k, v in parse_example(serialized).items()}
            record = ok[example["source"].decode()]
            assert example["image"] == (out / record["roi_image"]).read_bytes()
            assert example["label"] == label_map[record["label"]]
            assert example["fish_id"].decode() == record["label"]
            assert example["session"].decode() == record["session"]
            assert example["flank"].decode() == record["flank"]
            seen.add(example["source"].decode())
    assert seen == set(ok)


def test_summary_and_montage_are_written(prepared):
    out, summary = prepared
    assert json.loads((out / "summary.json").read_text()) == summary
    assert set(summary["by_session"]) == {"session_1", "session_2"}
    assert cv2.imread(str(out / "montage.png")) is not None


def test_rerun_skips_done_photos_and_overwrite_redoes_them(raw, prepared):
    out, summary = prepared
    roi = next(r for r in manifest(out) if r["status"] == "ok")["roi_image"]
    (out / roi).write_bytes(b"marker")  # a photo redone would overwrite this
    again = prepare(raw, out, PreprocessConfig(), ROI_SIZE, progress=False)
    assert (out / roi).read_bytes() == b"marker"
    assert again["ok"] == summary["ok"]
    prepare(raw, out, PreprocessConfig(), ROI_SIZE, overwrite=True, progress=False)
    assert (out / roi).read_bytes() != b"marker"


def test_an_interrupted_run_resumes(raw, tmp_path):
    out = tmp_path / "out"
    prepare(raw, out, PreprocessConfig(), ROI_SIZE, progress=False)
    lines = (out / "manifest.jsonl").read_text().splitlines()
    # As if the run died while writing the fifth record.
    (out / "manifest.jsonl").write_text("\n".join(lines[:4]) + "\n" + lines[4][:20])
    summary = prepare(raw, out, PreprocessConfig(), ROI_SIZE, progress=False)
    assert [json.loads(line) for line in (out / "manifest.jsonl").read_text().splitlines()] == [
        json.loads(line) for line in lines
    ]
    assert summary["photos"] == len(lines)


def test_two_workers_give_the_same_manifest(raw, prepared, tmp_path):
    out, _ = prepared
    parallel = tmp_path / "parallel"
    prepare(raw, parallel, PreprocessConfig(), ROI_SIZE, workers=2, progress=False)
    assert manifest(parallel) == manifest(out)


@pytest.mark.parametrize(
    "case, message",
    [
        ("missing_input", "is not a folder"),
        ("output_inside_input", "inside --input_dir"),
        ("foreign_output", "holds other files"),
        ("changed_settings", "different settings"),
        ("zero_workers", "--workers"),
    ],
)
def test_wrong_arguments_fail_before_any_work(raw, prepared, tmp_path, case, message):
    out, _ = prepared
    arguments = dict(input_dir=raw, output_dir=tmp_path / "new", preprocess=PreprocessConfig(), output_size=ROI_SIZE)
    if case == "missing_input":
        arguments["input_dir"] = tmp_path / "nowhere"
    elif case == "output_inside_input":
        arguments["output_dir"] = raw / "prepared"
    elif case == "foreign_output":
        (tmp_path / "new").mkdir()
        (tmp_path / "new" / "thesis.docx").write_text("precious")
    elif case == "changed_settings":
        arguments["output_dir"] = out
        arguments["output_size"] = (32, 64)
    else:
        arguments["workers"] = 0
    with pytest.raises(PrepareError, match=message):
        prepare(**arguments, progress=False)
    if case == "foreign_output":
        assert [p.name for p in (tmp_path / "new").iterdir()] == ["thesis.docx"]


def test_pre_cropped_mode_resizes_whole_photos(tmp_path):
    raw = tmp_path / "crops"
    rng = np.random.default_rng(0)
    for fish in ("koi_a", "koi_b"):
        (raw / fish).mkdir(parents=True)
        for index in range(2):
            photo = cv2.GaussianBlur(rng.integers(0, 255, (90, 150, 3), dtype=np.uint8), (0, 0), 1)
            cv2.imwrite(str(raw / fish / f"{index}.jpg"), photo)
    summary = prepare(raw, tmp_path / "out", PreprocessConfig(), ROI_SIZE, segment=False, progress=False)
    assert summary["ok"] == 4
    record = manifest(tmp_path / "out")[0]
    assert record["session"] == "" and record["flank"] == "unknown"
    assert record["roi"] == [[0, 0], [150, 0], [150, 90], [0, 90]]


def run_script(*arguments):
    return subprocess.run([sys.executable, str(REPO / "prepare_data.py"), *map(str, arguments)],
                          capture_output=True, text=True, cwd=REPO)


def test_script_exit_codes(raw, tmp_path):
    wrong = run_script("--input_dir", tmp_path / "nowhere", "--output_dir", tmp_path / "o1")
    assert wrong.returncode == 2 and "is not a folder" in wrong.stderr
    assert not (tmp_path / "o1").exists()
    bad_config = tmp_path / "bad.yaml"
    bad_config.write_text("sub_name: x\npreprocess:\n  green_hue: 40\n")
    wrong = run_script("--input_dir", raw, "--output_dir", tmp_path / "o2", "--cfg_path", bad_config)
    assert wrong.returncode == 2 and "preprocess.green_hue" in wrong.stderr
    nothing = tmp_path / "nothing" / "fish_a"
    nothing.mkdir(parents=True)
    (nothing / "a.jpg").write_bytes(b"not a photo")
    failed = run_script("--input_dir", nothing.parent, "--output_dir", tmp_path / "o3")
    assert failed.returncode == 1 and "0 ok" in failed.stdout


def test_sessions_parsed_from_file_names(tmp_path):
    """FS48-style names ID_CAMERA_seqNNN_frameNNNN.jpg: the camera becomes the session."""
    raw = tmp_path / "crops"
    rng = np.random.default_rng(1)
    for name in ("04_C1_seq000_frame0000.jpg", "04_C3_seq001_frame0450.jpg", "notes_about_fish.jpg"):
        (raw / "04").mkdir(parents=True, exist_ok=True)
        cv2.imwrite(str(raw / "04" / name), cv2.GaussianBlur(rng.integers(0, 255, (90, 150, 3), dtype=np.uint8), (0, 0), 1))
    prepare(raw, tmp_path / "out", PreprocessConfig(), ROI_SIZE, segment=False, progress=False,
            session_pattern=r"^\d+_(?P<session>C\d)_")
    sessions = {r["source"].split("/")[1]: r["session"] for r in manifest(tmp_path / "out")}
    assert sessions == {"04_C1_seq000_frame0000.jpg": "C1", "04_C3_seq001_frame0450.jpg": "C3",
                        "notes_about_fish.jpg": ""}
