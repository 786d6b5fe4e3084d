import cv2
import numpy as np
import pytest

from lateral.matching.local_features import MATCHERS, root_sift
from lateral.matching.verify import inlier_count, local_score, tentative_matches


def test_root_sift_is_l1_normalised_then_square_rooted():
    descriptors = np.array([[1.0, 3.0, 0.0, 4.0], [2.0, 2.0, 2.0, 2.0]], np.float32)
    expected = np.array([[np.sqrt(1 / 8), np.sqrt(3 / 8), 0.0, np.sqrt(4 / 8)], [0.5, 0.5, 0.5, 0.5]])
    np.testing.assert_allclose(root_sift(descriptors), expected, rtol=1e-5)
    # Its rows have unit L2 norm: Euclidean distance compares as the Hellinger kernel.
    np.testing.assert_allclose(np.linalg.norm(root_sift(descriptors), axis=1), 1.0, rtol=1e-5)


@pytest.mark.parametrize("name", MATCHERS.names())
def test_every_registered_detector_exists_in_the_installed_opencv(name):
    detector = MATCHERS.get(name).create()
    keypoints = detector.detect(np.zeros((64, 64), np.uint8), None)
    assert keypoints is not None


def _texture(seed, size=(240, 320)):
    rng = np.random.default_rng(seed)
    image = cv2.GaussianBlur(rng.uniform(0, 255, size).astype(np.float32), (0, 0), 2.0)
    image = cv2.normalize(image, None, 0, 255, cv2.NORM_MINMAX).astype(np.uint8)
    return cv2.cvtColor(image, cv2.COLOR_GRAY2BGR)


@pytest.mark.parametrize("name", ["sift", "orb"])
def test_a_known_similarity_transform_gives_many_inliers_and_unrelated_noise_almost_none(name):
    image = _texture(0)
    transform = cv2.getRotationMatrix2D((160, 120), 8.0, 1.15)  # 8 degrees, 15 % larger: within the limits
    warped = cv2.warpAffine(image, transform, (320, 240), borderMode=cv2.BORDER_REFLECT)
    matcher = MATCHERS.get(name)
    original, moved, unrelated = (matcher.extract(picture) for picture in (image, warped, _texture(1)))
    assert local_score(original, moved, matcher.norm) >= 40
    assert local_score(original, unrelated, matcher.norm) <= 6


def test_a_large_rotation_is_rejected_as_a_chance_fit():
    image = _texture(0)
    turned = cv2.warpAffine(image, cv2.getRotationMatrix2D((160, 120), 60.0, 1.0), (320, 240),
                            borderMode=cv2.BORDER_REFLECT)
    matcher = MATCHERS.get("sift")
    assert local_score(matcher.extract(image), matcher.extract(turned), matcher.norm) == 0


def test_tentative_matches_keep_only_unambiguous_mutual_nearest_neighbours():
    """a0 -> b0 is clear both ways; a1 is about as near b1 (1.0) as b2 (1.2; 1 / 1.2 > 0.8, though
    1 / 1.2 ** 2 is not): the ratio test drops it; a2's
    nearest is b3, but b3's nearest is a3: the mutual check drops a2 -> b3 and keeps a3 -> b3."""
    a = np.float32([[0, 0], [20, 0], [40, 0], [40.5, 0]])
    b = np.float32([[0.1, 0], [20, 1], [20, -1.2], [41, 0]])
    np.testing.assert_array_equal(tentative_matches(a, b, cv2.NORM_L2), [[0, 0], [3, 3]])


def test_inliers_are_the_points_the_similarity_transform_explains():
    """30 points moved by a known similarity (5 degrees, scale 1.1, shifted) and 20 put 30-80 px away from
    where it would take them: RANSAC (6 px threshold) keeps exactly the 30."""
    rng = np.random.default_rng(0)
    points = rng.uniform(0, 300, (50, 2))
    angle, scale = np.radians(5.0), 1.1
    rotation = scale * np.array([[np.cos(angle), -np.sin(angle)], [np.sin(angle), np.cos(angle)]])
    moved = points @ rotation.T + [12.0, -7.0]
    direction = rng.uniform(0, 2 * np.pi, 20)
    moved[30:] += rng.uniform(30, 80, (20, 1)) * np.stack([np.cos(direction), np.sin(direction)], axis=1)
    assert inlier_count(points, moved) == 30
    assert inlier_count(points[:3], moved[:3]) == 0  # too few matches to fit anything


def _reference_tentative_matches(a, b, metric, ratio=0.8):
    """The ratio test and mutual check written plainly: SciPy's distances, a full sort per row."""
    from scipy.spatial.distance import cdist

    distances = cdist(a, b, metric) * (a.shape[1] if metric == "hamming" else 1)
    kept = []
    for i, row in enumerate(distances):
        j = int(np.argmin(row))
        nearest, second = np.sort(row)[:2]
        if nearest < ratio * second and int(np.argmin(distances[:, j])) == i:
            kept.append([i, j])
    return np.array(kept, np.int64).reshape(-1, 2)


@pytest.mark.parametrize("norm", [cv2.NORM_L2, cv2.NORM_HAMMING])
def test_tentative_matches_agree_with_a_plain_sort_of_the_distances(norm):
    """Random descriptors, a third of them near copies of the other set's, and duplicated rows (exact ties)."""
    rng = np.random.default_rng(3)
    if norm == cv2.NORM_L2:
        b = rng.random((120, 16)).astype(np.float32)
        a = np.concatenate([b[:40] + rng.normal(0, 0.05, (40, 16)), rng.random((60, 16))]).astype(np.float32)
        b[100:110] = b[90:100]  # columns tied for a row's nearest
        metric, a_bits, b_bits = "euclidean", a, b
    else:
        b = rng.integers(0, 256, (120, 4), dtype=np.uint8)
        a = np.concatenate([b[:40] ^ (rng.random((40, 4)) < 0.02).astype(np.uint8), rng.integers(0, 256, (60, 4),
                                                                                                   dtype=np.uint8)])
        b[100:110] = b[90:100]
        metric, a_bits, b_bits = "hamming", np.unpackbits(a, axis=1), np.unpackbits(b, axis=1)
    a[60:65] = a[55:60]  # rows tied for a column's nearest
    expected = _reference_tentative_matches(a_bits.astype(np.float64), b_bits.astype(np.float64), metric)
    assert len(expected) >= 20
    np.testing.assert_array_equal(tentative_matches(a, b, norm), expected)
