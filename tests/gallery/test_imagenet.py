"""A gallery before any training (``enroll --model imagenet``): random IoM codes of the frozen ImageNet features
against the NumPy formula, the header and its refusal of the other kind of model, enrol and identify with the
shipped calibration, and the shipped calibration files (docs/matching.md)."""

import json
import shutil

import numpy as np
import pytest

from lateral.fpir import read_calibration, threshold_at_fpir
from lateral.gallery import commands, imagenet, keys
from lateral.gallery.__main__ import main
from lateral.gallery.packing import unpack_codes
from lateral.gallery.store import load_gallery
from lateral.matching.calibration import Calibration, shipped_path
from lateral.models.permutation import PERMUTATION_ALGORITHM, keyed_permutation
from tests.gallery.test_commands import KNOWN
from tests.gallery.test_verification import refusal

M, Q = imagenet.IMAGENET_M, imagenet.IMAGENET_Q


def numpy_codes(embeddings, key):
    """Jin et al. 2018's IoM by hand: the key's permutation of the features, W [1280, m * q] standard normal from
    numpy.random.default_rng(0), the arg-max of each group of q projections; also each group's top-two gap."""
    order = keyed_permutation(keys.permutation_seed(key), embeddings.shape[1], PERMUTATION_ALGORITHM)
    weights = np.random.default_rng(0).standard_normal((embeddings.shape[1], M * Q))
    logits = (np.asarray(embeddings, np.float64)[:, order] @ weights).reshape(len(embeddings), M, Q)
    top_two = np.sort(logits, axis=-1)[..., -2:]
    return np.argmax(logits, axis=-1), top_two[..., 1] - top_two[..., 0]


def assert_same_codes(codes, expected, gaps):
    """Equal, except where float32 rounding may swap a group's two top projections (a gap under 1e-3)."""
    assert codes.shape == expected.shape
    assert np.all((codes == expected) | (gaps < 1e-3))
    assert (codes == expected).mean() > 0.99


@pytest.fixture(scope="module")
def imagenet_gallery(prepared_synthetic, tmp_path_factory):
    """(root, gallery of 6 fish made with --model imagenet --verify sift --store_embeddings, keyed)."""
    root = tmp_path_factory.mktemp("imagenet")
    shutil.copytree(prepared_synthetic.parent / "raw", root / "raw")
    for fish in KNOWN:
        shutil.copytree(root / "raw" / "session_1" / fish, root / "known" / "session_1" / fish)
    gallery_path = root / "pond.lgal"
    assert main(["enroll", "--gallery", str(gallery_path), "--model", "imagenet", "--input", str(root / "known"),
                 "--key", "north pond", "--verify", "sift", "--store_embeddings"]) == 0
    return root, gallery_path


def test_the_keyed_head_is_random_iom_of_the_permuted_features():
    from lateral.gallery.encoder import TemplateEncoder

    embeddings = np.random.default_rng(5).normal(size=(16, 1280)).astype(np.float32)
    for key in (None, "north pond"):
        encoder = TemplateEncoder(imagenet.IMAGENET, keys.permutation_seed(key))
        assert_same_codes(encoder.keyed_head(embeddings).numpy(), *numpy_codes(embeddings, key))


def test_enrol_records_imagenet_and_its_codes_follow_the_formula(imagenet_gallery):
    _, gallery_path = imagenet_gallery
    gallery = load_gallery(gallery_path)
    model = gallery.header["model"]
    assert (model["path"], model["m"], model["q"], model["input_size"], model["embedding_size"]) == (
        "imagenet", M, Q, [224, 224], 1280)
    assert gallery.header["verify"]["matcher"] == "sift" and len(gallery) == 24
    assert_same_codes(unpack_codes(gallery.codes, M), *numpy_codes(gallery.embeddings, "north pond"))


def test_identify_decides_on_the_shipped_calibration_of_the_fused_score(imagenet_gallery, tmp_path):
    root, gallery_path = imagenet_gallery
    query = sorted((root / "raw" / "session_2" / "fish_001").glob("*.jpg"))[0]
    out = tmp_path / "out.json"
    assert main(["identify", "--gallery", str(gallery_path), "--input", str(query), "--key", "north pond",
                 "--json", str(out)]) == 0
    summary = json.loads(out.read_text())
    result = summary["results"][0]
    assert summary["measure"] == "hamming+sift" and "shipped with lateral" in summary["thresholds"]
    impostors, _ = read_calibration(imagenet.OPEN_SET_FILE, "hamming+sift")
    accept, _ = threshold_at_fpir(impostors, 0.01, result["fish_searched"])
    assert result["accept_threshold"] == pytest.approx(accept)
    assert 0.0 <= result["candidates"][0]["score"] <= 1.0  # a probability


def test_a_gallery_refuses_the_other_kind_of_model(imagenet_gallery, iom_run, tmp_path, capsys):
    root, gallery_path = imagenet_gallery
    run = iom_run[0] / "checkpoints" / "tiny_iom"
    query = str(sorted((root / "raw" / "session_2" / "fish_001").glob("*.jpg"))[0])
    before = gallery_path.read_bytes()
    for command in (["identify", "--input", query], ["enroll", "--input", query, "--fish", "fish_001"]):
        message = refusal(capsys, [command[0], "--gallery", str(gallery_path), "--key", "north pond", "--model",
                                   str(run), *command[1:]])
        assert "built with --model imagenet" in message
    assert gallery_path.read_bytes() == before
    trained = tmp_path / "trained.lgal"
    commands.enroll(trained, root / "known" / "session_1" / "fish_000", model=run, fish="fish_000")
    message = refusal(capsys, ["identify", "--gallery", str(trained), "--model", "imagenet", "--input", query])
    assert f"built with the trained model {run.resolve()}, not --model imagenet" in message


def test_the_shipped_calibrations_load():
    for score in ("imagenet_hamming", "imagenet_cosine", "imagenet_sift"):
        calibration = Calibration.load(shipped_path(score))
        assert calibration.score == score and np.all(np.diff(calibration.probabilities) >= 0)
    hamming = Calibration.load(shipped_path("imagenet_hamming"))
    assert hamming(0.0) < hamming(1.0)
    for measure in ("hamming", "hamming+sift", "cosine", "cosine+sift"):
        scores, about = read_calibration(imagenet.OPEN_SET_FILE, measure)
        assert scores.size >= 1000 and "nyala" in about["data"]
