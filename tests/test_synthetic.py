"""The synthetic tent photos: their ground truth checked against the pixels, not against the renderer."""

import colorsys
import dataclasses
import json
import subprocess
import sys

import cv2
import numpy as np
import pytest

from lateral import synthetic
from lateral.config import PreprocessConfig
from lateral.data.layout import read_layout

SMALL = (320, 240)
MEDIUM = (480, 360)
TENT = PreprocessConfig()  # the pipeline's idea of tent green


def green_at(image, points):
    """Whether each point's pixel is tent green by the pipeline's default thresholds."""
    points = np.round(np.asarray(points, np.float64).reshape(-1, 2)).astype(int)
    hsv = cv2.cvtColor(image, cv2.COLOR_BGR2HSV)[points[:, 1], points[:, 0]].astype(int)
    hue, saturation, value = hsv.T
    low, high = TENT.green_hue
    return (hue >= low) & (hue <= high) & (saturation >= TENT.green_min_saturation) & (value >= TENT.green_min_value)


def grey_mean(image, point, radius=1):
    x, y = np.round(point).astype(int)
    grey = cv2.cvtColor(image, cv2.COLOR_BGR2GRAY).astype(np.float64)
    return grey[y - radius : y + radius + 1, x - radius : x + radius + 1].mean()


def roi_patch(image, roi, size=(96, 40)):
    """The ROI cut out and straightened through its three first corners."""
    width, height = size
    target = np.float32([[0, 0], [width - 1, 0], [width - 1, height - 1]])
    to_patch = cv2.getAffineTransform(np.float32(roi[:3]), target)
    return cv2.warpAffine(image, to_patch, size, flags=cv2.INTER_AREA)


def canonical_direction(truth):
    """Where the canonical +x axis (snout to tail) points in the photo, from angle and flank alone."""
    turn = cv2.getRotationMatrix2D((0.0, 0.0), truth["angle"], 1.0)[:, :2]
    mirror = -1.0 if truth["flank"] == "right" else 1.0
    return turn @ np.array([mirror, 0.0])


@pytest.fixture(scope="module")
def photos():
    """(fish, image, truth) for three fish, six small photos each, without edge strips.

    Turned over more often than by default, so that every pose is among them.
    """
    rendered = []
    for fish_seed in (11, 12, 13):
        fish = synthetic.make_fish(fish_seed)
        for photo_seed in range(6):
            rng = np.random.default_rng([fish_seed, photo_seed])
            image, truth = synthetic.render_photo(fish, rng, SMALL, upside_down=0.3, edge_strip=0.0)
            rendered.append((fish, image, truth))
    poses = {(truth["flank"], truth["upside_down"]) for _, _, truth in rendered}
    assert poses == {("left", False), ("left", True), ("right", False), ("right", True)}
    return rendered


def test_render_photo_returns_a_jpeg_degraded_photo_and_its_truth(photos):
    fish, image, truth = photos[0]
    assert image.shape == (SMALL[1], SMALL[0], 3) and image.dtype == np.uint8
    expected = {"photo", "fish_id", "session", "flank", "upside_down", "angle", "scale", "body_length_px"}
    expected |= {"eye", "dorsal_fin_start", "belly", "snout", "tail_base", "roi"}
    assert expected <= set(truth)
    assert truth["photo"] == ""
    assert truth["body_length_px"] == pytest.approx(truth["scale"] * fish.length)
    assert 60 <= truth["jpeg_quality"] <= 95
    again, _ = synthetic.render_photo(fish, np.random.default_rng([11, 0]), SMALL, upside_down=0.3, edge_strip=0.0)
    assert np.array_equal(again, image), "the same seed must give the same photo"


def test_roi_lies_on_the_fish_and_the_eye_is_darker_than_it(photos):
    for _, image, truth in photos:
        roi = np.array(truth["roi"])
        centre = roi.mean(axis=0)
        shrunk = roi + 0.1 * (centre - roi)
        assert not green_at(image, np.vstack([centre, shrunk])).any(), truth
        roi_mean = cv2.cvtColor(roi_patch(image, roi), cv2.COLOR_BGR2GRAY).mean()
        assert grey_mean(image, truth["eye"]) < roi_mean - 20, truth


def test_whole_body_is_fish_coloured(photos):
    """Only JPEG's coarse colour blocks may tint a few body pixels green near the outline of a small photo."""
    shares = []
    for fish, image, truth in photos:
        u, v = np.meshgrid(np.linspace(0.03, 0.97, 40), np.linspace(-0.8, 0.8, 12))
        canonical = np.stack(fish.body_point(u.ravel(), v.ravel()), 1)
        affine = np.array(truth["canonical_to_photo"])
        inside = canonical @ affine[:, :2].T + affine[:, 2]
        shares.append(green_at(image, inside).mean())
    assert max(shares) < 0.05 and np.mean(shares) < 0.01, shares


def test_tent_is_green_beyond_snout_and_tail(photos):
    for fish, image, truth in photos:
        along = canonical_direction(truth)
        gap = 0.02 * truth["body_length_px"] + 2
        tail_reach = (fish.tail_fin[:, 0].max() - fish.length) * truth["scale"]
        before_snout = np.array(truth["snout"]) - gap * along
        beyond_tail = np.array(truth["tail_base"]) + (tail_reach + gap) * along
        assert green_at(image, [before_snout, beyond_tail]).all(), truth
        middle = (np.array(truth["snout"]) + np.array(truth["tail_base"])) / 2
        assert not green_at(image, middle).any(), truth


def test_truth_follows_the_documented_transform(photos):
    """Rebuild canonical -> photo from angle, flank, scale and snout alone; all landmarks must agree."""
    for fish, _, truth in photos:
        turn = cv2.getRotationMatrix2D((0.0, 0.0), truth["angle"], truth["scale"])[:, :2]
        mirror = np.diag([-1.0 if truth["flank"] == "right" else 1.0, 1.0])
        linear = turn @ mirror
        canonical = fish.landmarks()
        offset = np.array(truth["snout"]) - linear @ canonical["snout"]
        for name in ("eye", "dorsal_fin_start", "belly", "snout", "tail_base"):
            assert np.allclose(linear @ canonical[name] + offset, truth[name], atol=1e-6), name
        assert np.allclose(fish.roi_corners() @ linear.T + offset, truth["roi"], atol=1e-6)


def test_flank_and_upside_down_describe_the_photo(photos):
    """Head left and dorsal fin up exactly when a left flank is shown the right way up."""
    for _, _, truth in photos:
        snout, tail, fin = (np.array(truth[name]) for name in ("snout", "tail_base", "dorsal_fin_start"))
        axis = (tail - snout) / np.linalg.norm(tail - snout)
        towards_fin = (fin - snout) - np.dot(fin - snout, axis) * axis
        assert (towards_fin[1] < 0) == (not truth["upside_down"]), truth
        head_left = snout[0] < tail[0]
        assert head_left == ((truth["flank"] == "left") != truth["upside_down"]), truth


def test_roi_size_matches_the_protocol_recomputed_from_the_profiles(photos):
    for fish, _, truth in photos:
        roi = np.array(truth["roi"])
        width = np.linalg.norm(roi[1] - roi[0]) / truth["scale"]
        height = np.linalg.norm(roi[3] - roi[0]) / truth["scale"]
        eye_x = fish.eye_centre[0]
        fin_x = fish.dorsal_fin[0][0]
        top = fish.y_top(fin_x)
        belly = fish.y_bottom(np.linspace(0.0, fish.length, 20001)).max()
        depth = belly - top
        assert width == pytest.approx(fin_x - eye_x, rel=1e-6)
        assert height == pytest.approx(depth / 2 - depth / 20, rel=1e-3)


def test_fish_geometry_follows_the_specification():
    for seed in range(8):
        fish = synthetic.make_fish(seed)
        length = fish.length
        x = np.linspace(0.0, length, 4001)
        depth = fish.y_bottom(x) - fish.y_top(x)
        assert 0.2 <= depth.max() / length <= 0.33
        assert 0.25 <= x[np.argmax(depth)] / length <= 0.45
        rear = (x > 0.7 * length) & (x <= 0.95 * length)
        assert 0.075 <= depth[rear].min() / length <= 0.125
        assert 0.82 <= x[rear][np.argmin(depth[rear])] / length <= 0.92
        eye_x, eye_y = fish.eye_centre
        assert 0.06 <= eye_x / length <= 0.11
        assert eye_y < (fish.y_top(eye_x) + fish.y_bottom(eye_x)) / 2, "the eye sits above the midline"
        fin_x, fin_y = fish.dorsal_fin[0]
        assert 0.33 <= fin_x / length <= 0.45
        assert fin_y == pytest.approx(fish.y_top(fin_x)), "the fin starts on the top outline"
        fin_height = fish.y_top(fin_x) - fish.dorsal_fin[:, 1].min()
        assert 0.1 <= fin_height / length <= 0.2
        assert 0.35 <= fish.tail_fin_alpha <= 0.6


def test_spots_stay_inside_the_body():
    angles = np.linspace(0, 2 * np.pi, 64, endpoint=False)
    for seed in range(4):
        fish = synthetic.make_fish(seed)
        for flank in synthetic.FLANKS:
            spots = fish.spots(flank)
            assert 40 <= len(spots.u) <= 120
            assert np.all((spots.radius >= 0.008 - 1e-12) & (spots.radius <= 0.035))
            x, y = fish.body_point(spots.u, spots.v)
            reach = np.maximum(spots.radius, spots.halo_radius) * fish.length
            rim_x = x[:, None] + reach[:, None] * np.cos(angles)
            rim_y = y[:, None] + reach[:, None] * np.sin(angles)
            assert np.all((rim_y > fish.y_top(rim_x)) & (rim_y < fish.y_bottom(rim_x)))


def correlation(first, second):
    """Correlation of the spot detail of two ROI patches, leaving out the eye at the patch's left end."""

    def normalised(patch):
        grey = cv2.cvtColor(patch, cv2.COLOR_BGR2GRAY).astype(np.float64)
        detail = grey - cv2.GaussianBlur(grey, (0, 0), 6)  # spots, not the back-to-belly gradient
        detail = detail[:, patch.shape[1] // 6 :]
        return (detail - detail.mean()) / (detail.std() + 1e-9)

    return float((normalised(first) * normalised(second)).mean())


def test_canonical_flanks_share_the_body_but_not_the_spots():
    first, second = synthetic.make_fish(21), synthetic.make_fish(22)
    left, left_alpha, origin = synthetic.render_canonical_flank(first, "left", 4.0)
    _, right_alpha, right_origin = synthetic.render_canonical_flank(first, "right", 4.0)
    again, _, _ = synthetic.render_canonical_flank(first, "left", 4.0)
    assert np.array_equal(left, again), "a flank's texture is fixed"
    assert np.array_equal(origin, right_origin) and np.array_equal(left_alpha, right_alpha), "one body, two flanks"

    def patch(fish, flank):
        bgr, _, origin = synthetic.render_canonical_flank(fish, flank, 4.0)
        return roi_patch(bgr, (fish.roi_corners() - origin) * 4.0)

    assert correlation(patch(first, "left"), patch(first, "right")) < 0.5
    assert correlation(patch(first, "left"), patch(second, "left")) < 0.5


def grey_roi(image, roi, size=(128, 64)):
    """The ground-truth ROI straightened and grey, the eye's sixth dropped, normalised for correlation."""
    width, height = size
    target = np.float32([[0, 0], [width, 0], [width, height], [0, height]])
    to_roi = cv2.getPerspectiveTransform(np.float32(roi), target)
    grey = cv2.cvtColor(cv2.warpPerspective(image, to_roi, size, flags=cv2.INTER_AREA), cv2.COLOR_BGR2GRAY)
    grey = grey[:, width // 6 :].astype(np.float64)
    grey -= grey.mean()
    return grey / (np.linalg.norm(grey) + 1e-9)


def test_identification_is_possible_but_not_trivial():
    """ROIs cut with the ground truth: a flank matches itself across photos far better than other fish or
    the other flank, but skin stretch, washed-out spots, glints, light and blur keep two photos of it from
    being near copies (before per-photo skin variation they correlated about 0.95)."""
    patches = []
    for fish_seed in (31, 32, 33, 34):
        fish = synthetic.make_fish(fish_seed)
        for photo_seed in range(8):
            image, truth = synthetic.render_photo(fish, np.random.default_rng([fish_seed, photo_seed]), MEDIUM)
            patches.append((fish_seed, truth["flank"], grey_roi(image, truth["roi"])))
    same, other_fish, other_flank = [], [], []
    for index, (fish, flank, patch) in enumerate(patches):
        for other, other_side, other_patch in patches[index + 1 :]:
            correlation = float((patch * other_patch).sum())
            if fish == other:
                (same if flank == other_side else other_flank).append(correlation)
            elif flank == other_side:
                other_fish.append(correlation)
    assert len(same) >= 20 and len(other_flank) >= 20 and len(other_fish) >= 100
    assert np.mean(same) > max(np.mean(other_fish), np.mean(other_flank)) + 0.3, (same, other_fish, other_flank)
    assert np.median(same) > np.percentile(other_fish, 95), (same, other_fish)
    assert np.mean(same) < 0.85, "photos of one flank are near copies: identification would be trivial"


def test_per_photo_skin_keeps_the_head_and_eye_clear():
    """Spots move, glints, glare and droplets appear, but none on the head before the spots nor near the eye."""
    for seed in range(6):
        fish = synthetic.make_fish(40 + seed)
        rng = np.random.default_rng(seed)
        for _ in range(4):
            params = synthetic.draw_photo_params(fish, rng, MEDIUM)
            look, stored = params.skin, fish.spots(params.flank)
            x, y = fish.body_point(look.spots.u, look.spots.v)
            old_x, old_y = fish.body_point(stored.u, stored.v)
            assert np.all(np.hypot(x - old_x, y - old_y) <= 0.75 * stored.radius * fish.length + 1e-9)
            assert np.all(np.abs(look.spots.radius / stored.radius - 1) <= 0.2 + 1e-9)
            assert not np.allclose(look.spots.u, stored.u), "spots move from photo to photo"
            reach = np.maximum(look.spots.radius, look.spots.halo_radius) * fish.length
            eye_gap = np.hypot(x - fish.eye_centre[0], y - fish.eye_centre[1]) - reach
            assert np.all(eye_gap > synthetic.EYE_CLEARANCE * fish.eye_radius)
            assert np.all(look.spots.u >= synthetic.SPOT_REGION_START)
            # Glints, glare and droplets alone, drawn over an empty skin: nothing on the head or near the eye.
            plain = dataclasses.replace(look, glints=look.glints[:0], droplets=look.droplets[:0])
            scale = 4.0
            with_extras, _, origin = synthetic.fish_layer(fish, scale, look)
            without, _, _ = synthetic.fish_layer(fish, scale, plain)
            changed = np.abs(with_extras.astype(int) - without.astype(int)).max(axis=2) > 0
            assert changed.any(), "every photo has a glint"
            rows, columns = np.nonzero(changed)
            canonical_x, canonical_y = origin[0] + columns / scale, origin[1] + rows / scale
            assert np.all(canonical_x >= synthetic.SPOT_REGION_START * fish.length - 1 / scale)
            eye_distance = np.hypot(canonical_x - fish.eye_centre[0], canonical_y - fish.eye_centre[1])
            assert np.all(eye_distance >= synthetic.EYE_CLEARANCE * fish.eye_radius - 1 / scale)


def test_photo_parameters_follow_the_requested_frequencies():
    fish = synthetic.make_fish(5)
    rng = np.random.default_rng(0)
    draws = [synthetic.draw_photo_params(fish, rng, SMALL, max_rotation=40.0, upside_down=0.15) for _ in range(300)]
    right = np.mean([params.flank == "right" for params in draws])
    upside_down = np.mean([params.upside_down for params in draws])
    strips = np.mean([params.edge_strip is not None for params in draws])
    assert 0.4 <= right <= 0.6
    assert 0.08 <= upside_down <= 0.22
    assert 0.03 <= strips <= 0.18
    for params in draws:
        turned = abs(params.angle)
        assert turned >= 140.0 if params.upside_down else turned <= 40.0
        assert 0.45 - 1e-9 <= params.scale * fish.length / SMALL[0] <= 0.70 + 1e-9
        placed = fish.outline_points() @ params.to_photo[:, :2].T + params.to_photo[:, 2]
        assert placed.min() >= 0 and np.all(placed.max(axis=0) <= np.array(SMALL) - 1)
        assert 60 <= params.jpeg_quality <= 95
    never = [synthetic.draw_photo_params(fish, rng, SMALL, upside_down=0.0) for _ in range(50)]
    assert not any(params.upside_down for params in never)


def test_edge_strip_lies_along_a_border_and_clear_of_the_fish():
    fish = synthetic.make_fish(7)
    for seed in range(4):
        image, truth = synthetic.render_photo(fish, np.random.default_rng(seed), SMALL, edge_strip=1.0)
        side = truth["edge_strip"]
        assert side in ("left", "right", "top", "bottom")
        width, height = SMALL
        border = {
            "left": [(1, height // 2)],
            "right": [(width - 2, height // 2)],
            "top": [(width // 2, 1)],
            "bottom": [(width // 2, height - 2)],
        }[side]
        assert not green_at(image, border).any()
        along = canonical_direction(truth)
        assert green_at(image, np.array(truth["snout"]) - (0.02 * truth["body_length_px"] + 2) * along).all()


def run_cli(*args):
    return synthetic.main([str(arg) for arg in args])


def test_cli_writes_the_layout_and_a_valid_ground_truth(tmp_path, capsys):
    out = tmp_path / "synthetic"
    assert run_cli(out, "--ids", 2, "--sessions", 2, "--per_id", 2, "--size", "200x150", "--seed", 3) == 0
    assert "wrote 8 photos" in capsys.readouterr().out
    lines = (out / "ground_truth.jsonl").read_text().splitlines()
    truths = [json.loads(line) for line in lines]
    assert len(truths) == 8
    expected = {
        f"session_{session}/fish_00{fish}/fish_00{fish}_session_{session}_0{photo}.jpg"
        for session in (1, 2)
        for fish in (0, 1)
        for photo in (0, 1)
    }
    assert {truth["photo"] for truth in truths} == expected
    for truth in truths:
        photo = cv2.imread(str(out / truth["photo"]))
        assert photo.shape == (150, 200, 3)
        assert truth["photo"].startswith(f"{truth['session']}/{truth['fish_id']}/")
        assert len(truth["roi"]) == 4 and truth["flank"] in ("left", "right")
    entries = read_layout(out).photos
    assert {(entry.source, entry.label, entry.session) for entry in entries} == {
        (truth["photo"], truth["fish_id"], truth["session"]) for truth in truths
    }
    # The same individual keeps its body across sessions: the same length in pixels per unit scale.
    lengths = {}
    for truth in truths:
        lengths.setdefault(truth["fish_id"], set()).add(round(truth["body_length_px"] / truth["scale"], 9))
    assert all(len(found) == 1 for found in lengths.values())


def test_cli_is_deterministic_for_a_seed(tmp_path):
    for name in ("first", "second"):
        run_cli(tmp_path / name, "--ids", 2, "--sessions", 1, "--per_id", 2, "--size", "160x120", "--seed", 9)
    first = sorted(path.relative_to(tmp_path / "first") for path in (tmp_path / "first").rglob("*") if path.is_file())
    second = sorted(path.relative_to(tmp_path / "second") for path in (tmp_path / "second").rglob("*") if path.is_file())
    assert first == second
    for relative in first:
        assert (tmp_path / "first" / relative).read_bytes() == (tmp_path / "second" / relative).read_bytes()
    run_cli(tmp_path / "third", "--ids", 2, "--sessions", 1, "--per_id", 2, "--size", "160x120", "--seed", 10)
    assert (tmp_path / "third" / first[0]).read_bytes() != (tmp_path / "first" / first[0]).read_bytes()


def test_cli_refuses_an_existing_dataset_unless_told_to_overwrite(tmp_path):
    out = tmp_path / "set"
    run_cli(out, "--ids", 1, "--sessions", 1, "--per_id", 3, "--size", "160x120")
    command = [sys.executable, "-m", "lateral.synthetic", str(out), "--ids", "1", "--sessions", "1", "--per_id", "1"]
    refused = subprocess.run(command + ["--size", "160x120"], capture_output=True, text=True)
    assert refused.returncode == 2
    assert "ground_truth.jsonl" in refused.stderr and "--overwrite" in refused.stderr
    assert len(list(out.rglob("*.jpg"))) == 3, "a refused run leaves the dataset alone"

    run_cli(out, "--ids", 1, "--sessions", 1, "--per_id", 1, "--size", "160x120", "--overwrite")
    assert [path.name for path in out.rglob("*.jpg")] == ["fish_000_session_1_00.jpg"], "no stale photo lingers"
    assert len((out / "ground_truth.jsonl").read_text().splitlines()) == 1


def hue_degrees(bgr):
    """Hue in degrees (0..360) by colorsys, independent of OpenCV's conversion."""
    blue, green, red = np.asarray(bgr, np.float64) / 255
    return 360 * colorsys.rgb_to_hsv(red, green, blue)[0]


def test_greenish_palette_colours_the_skin_near_the_tent_but_keeps_the_body():
    for seed in (21, 22, 23):
        trout, greenish = synthetic.make_fish(seed), synthetic.make_fish(seed, palette="greenish")
        # OpenCV hues 25-37 and 22-32 are 50-74 and 44-64 degrees: olive to greenish yellow, below the
        # tent's 80-160 degrees; the trout's back is brown (16-36 degrees).
        assert 48 <= hue_degrees(greenish.back_bgr) <= 76 and 42 <= hue_degrees(greenish.belly_bgr) <= 66
        assert hue_degrees(trout.back_bgr) <= 38
        # Body, fins and spots are the individual's own: only the colours change.
        assert np.array_equal(trout.outline_top, greenish.outline_top)
        assert np.array_equal(trout.dorsal_fin, greenish.dorsal_fin)
        assert np.array_equal(trout.left_spots.u, greenish.left_spots.u)
        assert trout.dorsal_fin_alpha == greenish.dorsal_fin_alpha


def test_fin_opacity_sets_how_much_the_dorsal_fin_covers():
    fish = synthetic.make_fish(24, fin_opacity=synthetic.FAINT_FIN)
    assert synthetic.FAINT_FIN[0] <= fish.dorsal_fin_alpha <= synthetic.FAINT_FIN[1]
    _, alpha, origin = synthetic.render_canonical_flank(fish, "left", pixels_per_unit=4.0)
    # A point inside the fin, well above the back: the fin's coverage there, measured on the layer.
    front, peak = fish.dorsal_fin[0], fish.dorsal_fin[1]
    inside = front + 0.5 * (peak - front) + (0.03 * fish.length, 0.0)
    column, row = np.round((inside - origin) * 4.0).astype(int)
    assert alpha[row, column] / 255 == pytest.approx(fish.dorsal_fin_alpha, abs=0.01)
    assert alpha[row, column] / 255 < 0.5


def test_body_share_sets_the_fish_size():
    fish = synthetic.make_fish(25)
    rng = np.random.default_rng(3)
    for _ in range(20):
        _, truth = synthetic.render_photo(fish, rng, MEDIUM, body_share=synthetic.SMALL_FISH)
        length = np.linalg.norm(np.subtract(truth["tail_base"], truth["snout"]))
        assert synthetic.SMALL_FISH[0] - 1e-6 <= length / MEDIUM[0] <= synthetic.SMALL_FISH[1] + 1e-6


def test_cli_renders_hard_photos_and_rejects_bad_ranges(tmp_path):
    out = tmp_path / "hard"
    assert run_cli(out, "--ids", 1, "--sessions", 1, "--per_id", 2, "--size", "320x240", "--palette", "greenish",
                   "--fin_opacity", "0.2,0.45", "--body_share", "0.3,0.45") == 0
    for line in (out / "ground_truth.jsonl").read_text().splitlines():
        truth = json.loads(line)
        length = np.linalg.norm(np.subtract(truth["tail_base"], truth["snout"]))
        assert 0.3 - 1e-6 <= length / 320 <= 0.45 + 1e-6
    command = [sys.executable, "-m", "lateral.synthetic", str(tmp_path / "bad"), "--ids", "1", "--sessions", "1",
               "--per_id", "1"]
    for flag, value in (("--fin_opacity", "0.5,0.2"), ("--body_share", "0.3"), ("--palette", "blue")):
        refused = subprocess.run(command + [flag, value], capture_output=True, text=True)
        assert refused.returncode == 2 and flag in refused.stderr and "Traceback" not in refused.stderr
    assert not (tmp_path / "bad").exists()
