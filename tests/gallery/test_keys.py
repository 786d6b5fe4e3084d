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


def test_linkability_by_hand():
    from lateral.gallery.protection import linkability

    # p(mated) = {1: .5, 2: .5}, p(non-mated) = {0: .5, 1: .5}: LR(1) = 1 gives D = 0, LR(2) = inf gives D = 1.
    d_sys, local = linkability([1, 1, 2, 2], [0, 0, 1, 1])
    assert d_sys == 0.5 and local == {0: 0.0, 1: 0.0, 2: 1.0}
    # LR = 3 at score 1: D = 2 * 3 / 4 - 1 = 0.5, weighted by p(mated) = 0.75; LR(0) = 1/3 gives 0.
    d_sys, _ = linkability([1, 1, 1, 0], [0, 0, 0, 1])
    assert d_sys == 0.75 * 0.5
    assert linkability([0, 1, 2, 3], [3, 2, 1, 0])[0] == 0.0  # the same distribution: unlinkable
