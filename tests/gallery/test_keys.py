import pytest

from lateral.gallery import keys
from lateral.gallery.store import GalleryError


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
