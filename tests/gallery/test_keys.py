import json

import numpy as np
import pytest

from lateral.gallery import commands, keys
from lateral.gallery.encoder import TemplateEncoder
from lateral.gallery.packing import pack_codes, unpack_codes
from lateral.gallery.search import given_thresholds
from lateral.gallery.store import GalleryError, load_gallery, now
from lateral.models.iom import IoMProjection
from lateral.models.permutation import keyed_permutation


def test_a_verifier_accepts_only_its_own_key():
    verifier = keys.make_verifier("north pond 2026")
    assert "north pond 2026" not in str(verifier)
    assert keys.key_matches(verifier, "north pond 2026")
    assert not keys.key_matches(verifier, "north pond 2025")
    assert not keys.key_matches(verifier, None)
    assert keys.key_matches(None, None)
    assert not keys.key_matches(None, "anything")


def test_seeds_are_stable_large_and_distinct():
    assert keys.permutation_seed(None) is None
    assert keys.permutation_seed("a") == keys.permutation_seed("a")
    assert keys.permutation_seed("a") != keys.permutation_seed("b")
    assert keys.permutation_seed("1") > 2**64  # not the integer 1: keys cannot be guessed by counting


def test_read_key_from_a_file(tmp_path):
    (tmp_path / "key.txt").write_text("secret words\nignored\n")
    assert keys.read_key(key_file=tmp_path / "key.txt") == "secret words"
    (tmp_path / "empty.txt").write_text("")
    with pytest.raises(GalleryError, match="empty.txt"):
        keys.read_key(key_file=tmp_path / "empty.txt")
    with pytest.raises(GalleryError, match="missing.txt"):
        keys.read_key(key_file=tmp_path / "missing.txt")
    with pytest.raises(GalleryError, match="not both"):
        keys.read_key("a", tmp_path / "key.txt")


def test_a_passphrase_gives_a_fixed_permutation():
    # permutation_seed is the first 16 bytes of SHA-256(b"lateral-permutation\0" || key), big-endian.
    seed = keys.permutation_seed("north pond")
    assert seed == 251751186237779522528617789888167037025
    assert keyed_permutation(seed, 16).tolist() == [10, 2, 13, 7, 9, 12, 11, 4, 6, 1, 0, 8, 15, 3, 5, 14]


@pytest.mark.kernels
def test_a_version_1_gallery_is_converted_and_still_identifies_its_own_photos(iom_run, prepared_synthetic, tmp_path):
    """A keyed gallery written as lateral wrote it before format 2 (NumPy's permutation), opened by today's code."""
    model = iom_run[0] / "checkpoints" / "tiny_iom"
    raw = prepared_synthetic.parent / "raw" / "session_1"
    paths = [path for fish in ("fish_000", "fish_001") for path in sorted((raw / fish).glob("*.jpg"))]
    encoder = TemplateEncoder(model)  # no key: gives the float embeddings before any permutation
    photos, rejected = encoder.read_photos(paths)
    assert not rejected
    _, embeddings = encoder.encode(photos)
    projection = next(layer for layer in encoder.keyed_head.layers if isinstance(layer, IoMProjection))
    seed = keys.permutation_seed("north pond")

    def codes_after(order):
        return np.argmax(projection(embeddings[:, order], training=False).numpy(), axis=-1)

    # What lateral computed before format 2: NumPy's permutation of the embedding, then each group's arg-max.
    legacy = codes_after(np.random.default_rng(seed).permutation(embeddings.shape[1]))
    current = codes_after(keyed_permutation(seed, embeddings.shape[1]))
    # The two algorithms give different templates for some photo: a score of 1.0 for every photo below then
    # shows the legacy algorithm was used (the chance that all of them agree is negligible, not a model quality).
    assert (legacy != current).any()

    fish = [path.parent.name for path in paths]
    entries = [{"fish_id": name, "source": photo.source, "sha256": photo.sha256, "session": "session_1",
                "flank": photo.flank, "mode": photo.mode, "added": now(), "how": "enroll"}
               for name, photo in zip(fish, photos)]
    header = {"format": "lateral-gallery", "version": 1, "created": now(), "updated": now(),
              "model": encoder.model_record(), "key": keys.make_verifier("north pond"), "stores_embeddings": False}
    gallery_path = tmp_path / "pond.lgal"
    meta = json.dumps({"header": header, "entries": entries, "decisions": []}).encode()
    with open(gallery_path, "wb") as handle:
        np.savez(handle, meta=np.frombuffer(meta, np.uint8), codes=pack_codes(legacy, encoder.q))
    version_1 = gallery_path.read_bytes()

    results = commands.identify(gallery_path, paths, given_thresholds(0.99), key="north pond", top_k=2)["results"]
    for name, result in zip(fish, results):
        assert {"fish_id": name, "score": 1.0} in [{k: c[k] for k in ("fish_id", "score")} for c in
                                                   result["candidates"]], result
    assert (tmp_path / "pond.lgal.v1.bak").read_bytes() == version_1
    assert load_gallery(gallery_path).header["version"] == 3

    # Re-enrolling under the same key moves the gallery to the current algorithm.
    commands.revoke(gallery_path, "north pond", key="north pond")
    gallery = load_gallery(gallery_path)
    assert gallery.permutation == "hmac-sha256-fisher-yates"
    by_sha = dict(zip([photo.sha256 for photo in photos], current))
    for entry, codes in zip(gallery.entries, unpack_codes(gallery.codes, gallery.m)):
        np.testing.assert_array_equal(codes, by_sha[entry["sha256"]])
