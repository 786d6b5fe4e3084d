"""prepare_data.py resuming (issue 27 cases 8 and 9): a replaced photo is done again, a cut-short manifest line
is repaired (its bytes kept aside) any number of times, and a montage that cannot be written is an error."""

import json

import cv2
import numpy as np
import pytest

from lateral.config import PreprocessConfig
from lateral.data.prepare import prepare

SIZE = (32, 64)


def write_photo(path, seed, shape=(96, 192, 3)):
    path.parent.mkdir(parents=True, exist_ok=True)
    pixels = np.random.default_rng(seed).integers(0, 256, shape, np.uint8)
    path.write_bytes(cv2.imencode(".png", pixels)[1].tobytes())


@pytest.fixture
def raw(tmp_path):
    for fish in range(2):
        for index in range(3):
            write_photo(tmp_path / "raw" / f"fish_{fish}" / f"{index}.png", 10 * fish + index)
    return tmp_path / "raw"


def run(raw, out):
    summary = prepare(raw, out, PreprocessConfig(), SIZE, segment=False, progress=False)
    assert summary["ok"] == summary["photos"]
    return summary


def records(out):
    return [json.loads(line) for line in (out / "manifest.jsonl").read_text().splitlines()]


def test_a_photo_replaced_between_runs_is_prepared_again(raw, tmp_path):
    out = tmp_path / "out"
    run(raw, out)
    roi = out / next(r for r in records(out) if r["source"] == "fish_0/1.png")["roi_image"]
    other = out / next(r for r in records(out) if r["source"] == "fish_1/1.png")["roi_image"]
    stale, untouched = roi.read_bytes(), other.read_bytes()
    write_photo(raw / "fish_0" / "1.png", 99, (100, 200, 3))  # another photo under the same name
    run(raw, out)
    fresh = tmp_path / "fresh"  # the reference: a first run on the new photo
    run(raw, fresh)
    assert roi.read_bytes() == (fresh / roi.relative_to(out)).read_bytes() != stale
    assert other.read_bytes() == untouched

def test_a_montage_that_cannot_be_written_is_an_error_not_a_success(raw, tmp_path):
    out = tmp_path / "out"
    run(raw, out)
    (out / "montage.png").unlink()
    (out / "montage.png").mkdir()  # any write of the file fails, as on a full disk
    with pytest.raises(OSError) as error:
        run(raw, out)
    assert error.value.filename == str(out / "montage.png")


def test_a_cut_short_manifest_line_is_repaired_any_number_of_times(raw, tmp_path, monkeypatch):
    import lateral.data.prepare as prepare_module

    reference = tmp_path / "reference"
    run(raw, reference)
    expected = records(reference)
    out = tmp_path / "out"
    run(raw, out)
    manifest = out / "manifest.jsonl"
    lines = manifest.read_bytes().splitlines(keepends=True)
    first_cut = lines[2][:20]
    manifest.write_bytes(b"".join(lines[:2]) + first_cut)  # died while writing the third record

    calls, process = [], prepare_module._process

    def interrupted_after_two(task, settings):
        calls.append(task.source)
        if len(calls) > 2:
            raise KeyboardInterrupt
        return process(task, settings)

    monkeypatch.setattr(prepare_module, "_process", interrupted_after_two)
    with pytest.raises(KeyboardInterrupt):
        run(raw, out)
    monkeypatch.undo()
    written = manifest.read_bytes().splitlines(keepends=True)
    assert [json.loads(line) for line in written] == expected[:4]  # two kept, two appended on lines of their own
    second_cut = written[-1][:31]
    manifest.write_bytes(b"".join(written[:-1]) + second_cut)  # the second run died mid-write too
    run(raw, out)
    assert records(out) == expected
    assert (out / "manifest.jsonl.damaged").read_bytes() == first_cut + b"\n" + second_cut + b"\n"
