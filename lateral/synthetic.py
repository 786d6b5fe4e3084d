"""Synthetic photos of single fish lying on their side in a green photo tent.

The built-in dataset for tests, the demo and benchmarks. Every photo comes with
exact ground truth in source-pixel coordinates (x right, y down): landmarks,
the lateral ROI of the protocol, the pose and the flank shown.

The canonical frame of a fish has the head LEFT and the dorsal fin UP and
shows the LEFT flank; y points down. The snout is at (0, 0), the tail base at
x = L (the body length). A photo maps canonical points to source pixels by
``p = A @ [x, y, 1]`` with ``A = [s R(angle) F | t]``: F mirrors x for a
right-flank photo (the right flank's pattern is stored as it looks after
mirroring back to head left), R turns counter-clockwise on screen for a
positive angle, as cv2.getRotationMatrix2D does, s is pixels per canonical unit.

A truth dict holds ``photo``, ``fish_id``, ``session``, ``flank``,
``upside_down``, ``angle`` (the total turn, 180 included when upside down, in
(-180, 180]), ``scale`` (s), ``body_length_px`` (snout to tail base), the
landmarks ``eye``, ``dorsal_fin_start``, ``belly`` (the lowest point of the
bottom outline: its y is sharp, its x not, the belly being flat), ``snout``,
``tail_base``, the ``roi`` corners (top-left, top-right, bottom-right,
bottom-left as seen in the canonical pose), ``canonical_to_photo`` (A),
``jpeg_quality`` and ``edge_strip`` (the border with a non-green strip, or None).

An individual's body, fins, colours and spot pattern are fixed by its seed;
each photo varies everything else. The geometry (pose, scale, placement and
so the ground truth) is exact. The skin is not a copy: as it stretches and the
fish lies differently each spot moves by about a quarter of its radius and
grows or shrinks by about 10%; most spots fade a little, a random 5-15% much
more (mucus, wet reflections); one to four soft, elongated glints, now and
then a wide sheet of glare and a droplet or two of water lie on the skin;
the skin's colour and sheen change. None of this touches the head in front
of the spots or the eye's surroundings, so the eye stays the foremost dark
blob with a lighter ring. The light varies in brightness (gradient, patches,
vignette) and in colour (a white balance that changes across the photo,
weakened where the tent would leave the segmentation's green); the camera
adds a slight defocus or shake, grain and JPEG. Cut at the true ROI, two
photos of one flank correlate about 0.6-0.7 on average (grey, 128x64, the
eye's sixth dropped), photos of other fish about 0.15, and the two overlap:
the fish can be told apart, but not trivially.

Harder photos on request: ``palette="greenish"`` (olive to greenish-yellow
fish, near the tent's green), ``fin_opacity`` (faint, translucent dorsal
fins) and ``body_share`` (small fish); the defaults render as before.

    python -m lateral.synthetic OUT --ids 10 --sessions 2 --per_id 4
    python -m lateral.synthetic OUT --ids 10 --sessions 2 --per_id 4 \
        --palette greenish --fin_opacity 0.2,0.45 --body_share 0.3,0.45
"""

import argparse
import dataclasses
import json
import sys
from pathlib import Path

import cv2
import numpy as np

GROUND_TRUTH_FILE = "ground_truth.jsonl"
FLANKS = ("left", "right")

# The body outline is sampled densely near the snout, where it curves most.
OUTLINE_SAMPLES = 300
# Spots start behind the gill cover so that the eye stays the darkest blob
# of the head (the landmark finder looks for it there).
SPOT_REGION_START = 0.16
SPOT_RADIUS = (0.008, 0.035)  # fractions of the body length
SPOTS_PER_FLANK = (40, 120)
# Halos of red spots are this much wider than the spot.
HALO_FACTOR = 1.5
RED_SPOT_SHRINK = 0.6
# The protocol's ROI keeps this far (fraction of the body length) inside the outline.
ROI_CLEARANCE = 0.01
# Spots keep their centres at least this share of their summed radii apart.
SPOT_SPACING = 1.0
# Spots, glints and droplets keep this many eye radii from the eye's centre.
EYE_CLEARANCE = 1.8

BODY_LENGTH_OF_WIDTH = (0.45, 0.70)  # fish body length / photo width
# Harder photos on request (make_fish's palette and fin_opacity, the photo's body_share):
PALETTES = ("trout", "greenish")
SMALL_FISH = (0.3, 0.45)  # a body_share for small fish
FAINT_FIN = (0.2, 0.45)  # a fin_opacity for faint, translucent dorsal fins
EDGE_STRIP_PROBABILITY = 0.1

# Per-photo variation of the skin (see SkinLook) and of the camera.
SPOT_SHIFT_SD = 0.25  # a spot's shift in x and y, in its radii (cut at two standard deviations)
SPOT_SIZE_SD = 0.1  # relative change of its radius (likewise cut)
FAINT_SPOT_SHARE = (0.05, 0.15)  # share of spots washed out by mucus or reflections...
FAINT_SPOT_FADE = (0.6, 0.9)  # ... and how much
GLINTS = (1, 4)
GLINT_SIGMA = (0.015, 0.05)  # long Gaussian sigma, fraction of the body length
GLINT_OPACITY = (0.1, 0.5)
GLARE_PROBABILITY = 0.3
GLARE_SIGMA = (0.05, 0.1)
GLARE_OPACITY = (0.3, 0.6)
DROPLET_PROBABILITY = 0.3
DROPLET_RADIUS = (0.005, 0.012)
COLOUR_TEMPERATURE = 0.12  # log gain of red over blue, either way
COLOUR_TEMPERATURE_SLOPE = 0.1  # its change across the photo, either way
# Log gain of green: mostly towards magenta, as a green tint would take pale bellies towards the tent.
COLOUR_TINT = (-0.04, 0.01)
# The cast keeps the tent within these (OpenCV hue, saturation), inside the
# segmentation's defaults (hue 35-95, saturation 60 and up) with a margin for noise and JPEG.
TENT_HUE = (38, 90)
TENT_MIN_SATURATION = 75
LIGHT_PATCH_SD = 0.06
BLUR_SIGMA = 1.0  # pixels at 1024 wide
MOTION_BLUR_PROBABILITY = 0.25
MOTION_BLUR_LENGTH = (0.5, 2.5)  # pixels at 1024 wide
JPEG_QUALITY = (60, 95)
GAIN_ONE = 128  # a brightness gain of 1 in uint8 gain maps
UNIFORM_BYTE_SD = 256 / np.sqrt(12)  # standard deviation of uniform draws of 0..255


@dataclasses.dataclass(frozen=True, eq=False)
class FlankSpots:
    """One flank's spots in body-normalised coordinates.

    u runs from the snout (0) to the tail base (1); v from the top outline
    (-1) to the bottom outline (+1) at that u. Radii are fractions of the
    body length; a halo radius of 0 means no halo.
    """

    u: np.ndarray
    v: np.ndarray
    radius: np.ndarray
    bgr: np.ndarray
    halo_radius: np.ndarray
    halo_bgr: np.ndarray


@dataclasses.dataclass(frozen=True, eq=False)
class Fish:
    """An individual: body shape, fins, colours and both flanks' spots (canonical frame)."""

    length: float
    outline_x: np.ndarray
    outline_top: np.ndarray  # y of the top outline at outline_x (negative: above the snout)
    outline_bottom: np.ndarray
    eye_centre: tuple[float, float]
    eye_radius: float
    dorsal_fin: np.ndarray  # polygon; point 0 is the anterior base, on the top outline
    tail_fin: np.ndarray  # polygon, partly hidden under the peduncle
    fin_rays: np.ndarray  # (n, 2, 2) segments, drawn darker on both fins
    dorsal_fin_alpha: float
    tail_fin_alpha: float
    operculum: np.ndarray  # polyline of the gill cover's rear edge
    back_bgr: np.ndarray
    belly_bgr: np.ndarray
    fin_bgr: np.ndarray
    iris_bgr: np.ndarray
    pupil_bgr: np.ndarray
    gradient_centre: float  # v where the back colour has turned half into the belly colour
    gradient_width: float  # v over which it turns
    left_spots: FlankSpots
    right_spots: FlankSpots

    def y_top(self, x):
        return np.interp(x, self.outline_x, self.outline_top)

    def y_bottom(self, x):
        return np.interp(x, self.outline_x, self.outline_bottom)

    def body_point(self, u, v):
        """Canonical (x, y) of body-normalised (u, v)."""
        x = np.asarray(u) * self.length
        top, bottom = self.y_top(x), self.y_bottom(x)
        return x, (top + bottom) / 2 + np.asarray(v) * (bottom - top) / 2

    def spots(self, flank):
        return self.left_spots if flank == "left" else self.right_spots

    def body_polygon(self):
        return np.concatenate(
            [np.stack([self.outline_x, self.outline_top], 1), np.stack([self.outline_x, self.outline_bottom], 1)[::-1]]
        )

    def outline_points(self):
        """Every point of the fish's silhouette (body and fins)."""
        return np.concatenate([self.body_polygon(), self.dorsal_fin, self.tail_fin])

    def landmarks(self):
        """Canonical landmarks: eye, dorsal_fin_start, belly, snout, tail_base."""
        lowest = int(np.argmax(self.outline_bottom))
        tail_mid = (self.y_top(self.length) + self.y_bottom(self.length)) / 2
        snout_mid = (self.outline_top[0] + self.outline_bottom[0]) / 2
        return {
            "eye": np.array(self.eye_centre),
            "dorsal_fin_start": self.dorsal_fin[0].copy(),
            "belly": np.array([self.outline_x[lowest], self.outline_bottom[lowest]]),
            "snout": np.array([0.0, snout_mid]),
            "tail_base": np.array([self.length, tail_mid]),
        }

    def roi_corners(self):
        """The protocol's lateral ROI, canonical: top-left, top-right, bottom-right, bottom-left."""
        marks = self.landmarks()
        return protocol_roi(marks["eye"][0], marks["dorsal_fin_start"], marks["belly"][1])


def protocol_roi(eye_x, dorsal_fin_start, belly_y):
    """ROI corners (top-left, top-right, bottom-right, bottom-left) in a head-left, dorsal-up frame.

    Horizontally from the eye to the dorsal fin's start; vertically from
    ``top + h/20`` to ``top + h/2``, with ``top`` the outline at the fin start
    and ``h`` its height above the belly point.
    """
    right, top = dorsal_fin_start
    depth = belly_y - top
    upper, lower = top + depth / 20, top + depth / 2
    return np.array([[eye_x, upper], [right, upper], [right, lower], [eye_x, lower]], np.float64)


# ---------------------------------------------------------------- the fish


def make_fish(individual_seed, palette="trout", fin_opacity=None):
    """The fixed appearance of one individual, fully determined by its seed and the options.

    ``palette`` "greenish" gives an olive to greenish-yellow body and fins,
    near the tent's green; ``fin_opacity`` (low, high) draws the dorsal fin's
    opacity from that range instead (e.g. FAINT_FIN: faint, translucent). The
    options draw from a generator of their own, so the shape, the spots and
    the default fish stay as they are for a seed.
    """
    if palette not in PALETTES:
        raise ValueError(f"palette must be one of {PALETTES}, not {palette!r}")
    rng = np.random.default_rng(individual_seed)
    length = rng.uniform(80.0, 120.0)
    outline_x, top, bottom, eye_x, fin_x = _shape_with_roi_on_skin(rng, length)
    shape = dict(length=length, outline_x=outline_x, outline_top=top, outline_bottom=bottom)

    def y_top(x):
        return np.interp(x, outline_x, top)

    def y_bottom(x):
        return np.interp(x, outline_x, bottom)

    eye_centre, eye_radius = _eye(rng, length, eye_x, y_top, y_bottom)
    dorsal_fin, dorsal_rays = _dorsal_fin(rng, length, fin_x, y_top)
    tail_fin, tail_rays = _tail_fin(rng, length, y_top, y_bottom)
    colours = _skin_colours(rng)
    partial = Fish(
        **shape,
        eye_centre=eye_centre,
        eye_radius=eye_radius,
        dorsal_fin=dorsal_fin,
        tail_fin=tail_fin,
        fin_rays=np.concatenate([dorsal_rays, tail_rays]),
        dorsal_fin_alpha=rng.uniform(0.9, 0.97),
        tail_fin_alpha=rng.uniform(0.35, 0.6),
        operculum=_operculum(rng, length, y_top, y_bottom),
        **colours,
        left_spots=None,
        right_spots=None,
    )
    # Independent draws: the two flanks of a fish share nothing but the body.
    fish = dataclasses.replace(partial, left_spots=_flank_spots(rng, partial), right_spots=_flank_spots(rng, partial))
    options = np.random.default_rng([individual_seed, 1])
    if palette == "greenish":
        fish = dataclasses.replace(fish, **_greenish_colours(options))
    if fin_opacity is not None:
        fish = dataclasses.replace(fish, dorsal_fin_alpha=float(options.uniform(*fin_opacity)))
    return fish


def _shape_with_roi_on_skin(rng, length):
    """Outline, eye x and dorsal fin x, redrawn until the protocol's ROI lies on the body.

    The ROI's top edge is set by the back at the fin start; above the eye the
    back must be nearly as high, which takes a blunt forehead and a back that
    peaks between eye and fin. About three draws in four pass.
    """
    while True:
        outline_x, top, bottom = _body_outline(rng, length)
        eye_x = rng.uniform(0.06, 0.11) * length
        fin_x = rng.uniform(0.33, 0.45) * length
        corners = protocol_roi(eye_x, (fin_x, np.interp(fin_x, outline_x, top)), bottom.max())
        clearance = ROI_CLEARANCE * length
        above_bottom = corners[:, 1] <= np.interp(corners[:, 0], outline_x, bottom) - clearance
        below_top = corners[:, 1] >= np.interp(corners[:, 0], outline_x, top) + clearance
        if np.all(above_bottom & below_top):
            return outline_x, top, bottom, eye_x, fin_x


def _body_outline(rng, length):
    """Sampled top and bottom outlines: round snout, deep body, narrow peduncle."""
    t = np.linspace(0.0, 1.0, OUTLINE_SAMPLES) ** 2
    depth = rng.uniform(0.22, 0.32) * length
    back_share = rng.uniform(0.5, 0.62)  # trout backs arch more than their bellies
    peduncle = rng.uniform(0.08, 0.12) * length
    peduncle_top = peduncle * rng.uniform(0.45, 0.55)
    peduncle_at = rng.uniform(0.85, 0.9)
    roundness = rng.uniform(0.4, 0.55)
    flare = rng.uniform(0.1, 0.2)
    shared = dict(peduncle_at=peduncle_at, roundness=roundness, flare=flare)
    # The back stays high well behind its peak (taper power > 1), so the fish is not tadpole-shaped.
    upper = _half_profile(
        t, peak_at=rng.uniform(0.2, 0.3), peak=back_share * depth, peduncle=peduncle_top,
        bluntness=rng.uniform(4, 6), taper_power=rng.uniform(1.3, 1.8), **shared,
    )
    lower = _half_profile(
        t, peak_at=rng.uniform(0.35, 0.48), peak=(1 - back_share) * depth, peduncle=peduncle - peduncle_top,
        bluntness=rng.uniform(2, 3), taper_power=rng.uniform(0.8, 1.25), **shared,
    )
    return t * length, -upper, lower


def _half_profile(t, peak_at, peak, peduncle_at, peduncle, bluntness, roundness, taper_power, flare):
    """Distance of one outline from the snout's axis along t = x / L.

    A superellipse-like rise up to the peak (vertical tangent at the snout: a
    round nose; a higher bluntness rises sooner), a cosine taper down to the
    peduncle (smooth at both ends), then a slight flare towards the tail fin.
    """
    head = peak * (1 - (1 - np.minimum(t / peak_at, 1.0)) ** bluntness) ** roundness
    taper_phase = np.clip((t - peak_at) / (peduncle_at - peak_at), 0.0, 1.0) ** taper_power
    taper = peduncle + (peak - peduncle) * (1 + np.cos(np.pi * taper_phase)) / 2
    rear = peduncle * (1 + flare * np.clip((t - peduncle_at) / (1 - peduncle_at), 0.0, 1.0) ** 2)
    return np.where(t <= peak_at, head, np.where(t <= peduncle_at, taper, rear))


def _eye(rng, length, x, y_top, y_bottom):
    """Eye centre and radius at x: above the body's midline, fully inside."""
    top, bottom = y_top(x), y_bottom(x)
    half_depth = (bottom - top) / 2
    radius = min(rng.uniform(0.025, 0.035) * length, 0.4 * half_depth)
    lift = rng.uniform(0.35, 0.6)
    # The head narrows towards the snout: shrink until the whole eye fits.
    while True:
        y = (top + bottom) / 2 - lift * (half_depth - radius)
        if _circles_inside(np.array([x]), np.array([y]), np.array([radius]), length, y_top, y_bottom, 0.01 * length)[0]:
            return (float(x), float(y)), float(radius)
        radius *= 0.9


def _circles_inside(x, y, radius, length, y_top, y_bottom, clearance):
    """Which circles lie inside the body outline with this clearance (checked on 16 rim points)."""
    angles = np.linspace(0, 2 * np.pi, 16, endpoint=False)
    rim_x = x[:, None] + (radius[:, None] + clearance) * np.cos(angles)
    rim_y = y[:, None] + (radius[:, None] + clearance) * np.sin(angles)
    inside = (rim_x >= 0) & (rim_x <= length) & (rim_y >= y_top(rim_x)) & (rim_y <= y_bottom(rim_x))
    return inside.all(axis=1)


def _bezier(start, control, end, count):
    s = np.linspace(0.0, 1.0, count)[:, None]
    start, control, end = (np.asarray(p, np.float64) for p in (start, control, end))
    return (1 - s) ** 2 * start + 2 * s * (1 - s) * control + s**2 * end


def _rays(roots, edge, count):
    """Fin rays from points along the fin's root to points along its outer edge."""
    pick = np.linspace(0, 1, count)
    root = np.stack([np.interp(pick, np.linspace(0, 1, len(roots)), roots[:, i]) for i in range(2)], 1)
    tip = np.stack([np.interp(pick, np.linspace(0, 1, len(edge)), edge[:, i]) for i in range(2)], 1)
    return np.stack([root, tip], 1)


def _dorsal_fin(rng, length, start, y_top):
    """The dorsal fin from x = start: a steep leading edge from the back, a concave trailing edge."""
    height = rng.uniform(0.12, 0.2) * length
    base = rng.uniform(0.11, 0.16) * length
    front = np.array([start, y_top(start)])
    peak = front + (rng.uniform(0.3, 0.5) * height, -height)
    rear_base = np.array([start + base, y_top(start + base)])
    rear_tip = rear_base + (rng.uniform(0.02, 0.05) * length, -rng.uniform(0.1, 0.25) * height)
    trailing_edge = _bezier(peak, peak + (0.3, 0.85) * (rear_tip - peak), rear_tip, 12)
    # The base runs inside the body, which is drawn over it: no seam at the back.
    hidden_x = np.linspace(rear_base[0], start, 8)
    hidden_base = np.stack([hidden_x, y_top(hidden_x) + 0.03 * length], 1)
    polygon = np.concatenate([[front], trailing_edge, [rear_base], hidden_base])
    rays = _rays(hidden_base[::-1], np.concatenate([[front], trailing_edge]), 8)[1:]
    return polygon, rays


def _tail_fin(rng, length, y_top, y_bottom):
    """A forked tail fin behind the peduncle, its root hidden under the body."""
    fin_length = rng.uniform(0.17, 0.24) * length
    spread = rng.uniform(0.13, 0.19) * length
    centre = (y_top(length) + y_bottom(length)) / 2
    root_top = np.array([length, y_top(length)])
    root_bottom = np.array([length, y_bottom(length)])
    upper_tip = np.array([length + fin_length, centre - spread])
    lower_tip = np.array([length + fin_length * rng.uniform(0.92, 1.0), centre + spread * rng.uniform(0.9, 1.0)])
    notch = np.array([length + rng.uniform(0.45, 0.7) * fin_length, centre])
    upper_edge = _bezier(root_top, root_top + (0.35, 0.65) * (upper_tip - root_top), upper_tip, 8)
    lower_edge = _bezier(lower_tip, root_bottom + (0.35, 0.65) * (lower_tip - root_bottom), root_bottom, 8)
    fork_control = length + 0.8 * fin_length
    trailing_edge = np.concatenate(
        [
            _bezier(upper_tip, (fork_control, centre - 0.35 * spread), notch, 8),
            _bezier(notch, (fork_control, centre + 0.35 * spread), lower_tip, 8)[1:],
        ]
    )
    hidden_x = 0.95 * length
    hidden_root = np.array([[hidden_x, y_bottom(hidden_x) - 0.005 * length], [hidden_x, y_top(hidden_x) + 0.005 * length]])
    polygon = np.concatenate([upper_edge, trailing_edge[1:-1], lower_edge, hidden_root])
    peduncle_half = (root_bottom[1] - root_top[1]) / 2
    roots = np.array([[length, centre - 0.6 * peduncle_half], [length, centre + 0.6 * peduncle_half]])
    rays = _rays(roots, trailing_edge, 11)
    return polygon, rays


def _operculum(rng, length, y_top, y_bottom):
    """Rear edge of the gill cover: an arc bulging towards the tail."""
    x = rng.uniform(0.17, 0.21) * length
    top, bottom = y_top(x), y_bottom(x)
    v = np.linspace(-0.8, 0.85, 12)
    return np.stack([x + 0.03 * length * (1 - v**2), (top + bottom) / 2 + v * (bottom - top) / 2], 1)


def _hsv_to_bgr(hsv):
    """OpenCV HSV (hue 0..179) rows to BGR float rows."""
    hsv = np.clip(np.round(np.atleast_2d(hsv)), 0, 255).astype(np.uint8)[:, None, :]
    return cv2.cvtColor(hsv, cv2.COLOR_HSV2BGR)[:, 0, :].astype(np.float64)


def _random_bgr(rng, hue, saturation, value, count=None):
    """BGR colours (one, or count rows) drawn uniformly within OpenCV HSV ranges."""
    hsv = np.stack([rng.uniform(*hue, count), rng.uniform(*saturation, count), rng.uniform(*value, count)], -1)
    bgr = _hsv_to_bgr(hsv)
    return bgr if count is not None else bgr[0]


def _skin_colours(rng):
    """Colours from hue families shared by all fish: colour alone does not identify one."""

    def draw(hue, saturation, value):
        return _random_bgr(rng, hue, saturation, value)

    return dict(
        back_bgr=draw((8, 18), (110, 190), (60, 105)),  # dark brown, a little olive
        belly_bgr=draw((15, 28), (10, 40), (175, 225)),  # pale silver to yellowish
        fin_bgr=draw((5, 14), (100, 170), (75, 105)),  # a darker, redder brown that stays off green when blended
        iris_bgr=draw((15, 28), (40, 110), (150, 210)),
        pupil_bgr=draw((0, 179), (0, 60), (8, 22)),
        gradient_centre=rng.uniform(0.0, 0.3),
        gradient_width=rng.uniform(0.35, 0.7),
    )


def _greenish_colours(rng):
    """Olive to greenish-yellow skin and fins (a tench, a perch, a pale char): hues just below the tent's."""

    def draw(hue, saturation, value):
        return _random_bgr(rng, hue, saturation, value)

    return dict(
        back_bgr=draw((25, 37), (110, 200), (75, 140)),  # olive green
        belly_bgr=draw((22, 32), (60, 130), (170, 225)),  # greenish yellow
        fin_bgr=draw((18, 30), (80, 160), (90, 140)),  # yellowish olive: translucent, it tints the tent only a little
    )


def _flank_spots(rng, fish):
    """A trout-like pattern: mostly dark spots on the back, some haloed red ones near the lateral line.

    Candidates that fit inside the body are accepted one by one unless they
    would crowd an accepted spot; a flank too crowded for its count relaxes
    the spacing rather than looping forever.
    """
    count = int(rng.integers(SPOTS_PER_FLANK[0], SPOTS_PER_FLANK[1] + 1))
    red_share = rng.uniform(0.15, 0.4)
    spacing = SPOT_SPACING
    accepted = []
    centres = np.empty((count, 2))
    reach = np.empty(count)  # outer radius, halo included
    while len(accepted) < count:
        batch = _spot_candidates(rng, 2 * count, red_share, fish)
        x, y = fish.body_point(batch["u"], batch["v"])
        outer = np.maximum(batch["radius"], batch["halo_radius"]) * fish.length
        for index in range(len(x)):
            placed = len(accepted)
            if placed == count:
                break
            gaps = np.hypot(centres[:placed, 0] - x[index], centres[:placed, 1] - y[index])
            if np.all(gaps >= spacing * (reach[:placed] + outer[index])):
                centres[placed], reach[placed] = (x[index], y[index]), outer[index]
                accepted.append({key: values[index] for key, values in batch.items()})
        spacing *= 0.9
    return FlankSpots(**{key: np.array([spot[key] for spot in accepted]) for key in accepted[0]})


def _spot_candidates(rng, count, red_share, fish):
    """Random spots that lie inside the body and clear of the eye."""
    red = rng.random(count) < red_share
    u = rng.uniform(SPOT_REGION_START, 0.97, count)
    dark_v = -0.95 + 1.7 * rng.beta(1.3, 2.0, count)
    red_v = np.clip(rng.normal(0.05, 0.3, count), -0.8, 0.8)
    v = np.where(red, red_v, dark_v)
    # Log-uniform radii, skewed towards the small end: many small spots, few large.
    low, high = np.log(SPOT_RADIUS)
    radius = np.exp(low + (high - low) * rng.random(count) ** 1.5)
    # Red spots are smaller than the largest dark ones; with their halo they reach about as far.
    radius = np.where(red, np.maximum(SPOT_RADIUS[0], RED_SPOT_SHRINK * radius), radius)
    dark_bgr = _random_bgr(rng, (0, 18), (60, 180), (15, 45), count)
    red_bgr = _random_bgr(rng, (0, 12), (160, 235), (150, 215), count)
    halo_bgr = _random_bgr(rng, (15, 25), (30, 80), (185, 225), count)
    halo_radius = np.where(red, HALO_FACTOR * radius, 0.0)

    length = fish.length
    x, y = fish.body_point(u, v)
    outer = np.maximum(radius, halo_radius) * length
    inside = _circles_inside(x, y, outer, length, fish.y_top, fish.y_bottom, 0.005 * length)
    clear_of_eye = np.hypot(x - fish.eye_centre[0], y - fish.eye_centre[1]) > EYE_CLEARANCE * fish.eye_radius + outer
    keep = inside & clear_of_eye
    return dict(
        u=u[keep],
        v=v[keep],
        radius=radius[keep],
        bgr=np.where(red[:, None], red_bgr, dark_bgr)[keep],
        halo_radius=halo_radius[keep],
        halo_bgr=halo_bgr[keep],
    )


# ------------------------------------------------------- the canonical layer

# Drawing with sub-pixel precision: cv2 takes integer coordinates with this many fractional bits.
SHIFT = 4
ONE = 1 << SHIFT


def _fixed(points):
    return np.round(np.asarray(points) * ONE).astype(np.int32)


@dataclasses.dataclass(frozen=True, eq=False)
class SkinLook:
    """How one photo renders the skin: the pattern stays, its placement, colours and sharpness vary."""

    gain: np.ndarray  # per BGR channel
    spot_blur: float  # Gaussian sigma in pixels
    spots: FlankSpots  # the flank's spots as this photo shows them: shifted and resized a little
    spot_fade: np.ndarray  # per spot: share of the surrounding skin colour mixed in
    sheen: tuple[float, float, float]  # strength, centre and width (in v) of a brighter band along the body
    # Wet highlights, one row each: u, v, angle (degrees, canonical frame), long and short
    # Gaussian sigma (fractions of the body length), peak opacity of the light's white.
    glints: np.ndarray
    # Water droplets, one row each: u, v, radius (fraction of the body length).
    droplets: np.ndarray
    light_angle: float  # direction (degrees, canonical frame) the light comes from, for droplets' shading

    @classmethod
    def neutral(cls, spots):
        """The skin as stored: nothing moved, faded, blurred or added."""
        return cls(
            gain=np.ones(3),
            spot_blur=0.0,
            spots=spots,
            spot_fade=np.zeros(len(spots.u)),
            sheen=(0.0, 0.0, 1.0),
            glints=np.zeros((0, 6)),
            droplets=np.zeros((0, 3)),
            light_angle=0.0,
        )


def render_canonical_flank(fish, flank, pixels_per_unit=4.0):
    """The fish in its canonical pose (head left, dorsal up), no per-photo variation.

    Returns ``(bgr, alpha, origin)``: colours (uint8; fin colour outside the
    fish), coverage (uint8) and the canonical point at pixel (0, 0): canonical
    point c is at pixel ``(c - origin) * pixels_per_unit``.
    """
    return _fish_layer(fish, pixels_per_unit, SkinLook.neutral(fish.spots(flank)))


def _fish_layer(fish, pixels_per_unit, look):
    """The fish drawn once at the photo's scale: straight (not premultiplied) BGR and alpha, uint8.

    Outside the fish the colour is skin or fin colour, not black, so that
    interpolating the layer when it is warped leaves no dark fringe.
    """
    points = fish.outline_points()
    padding = (3 + 3 * look.spot_blur) / pixels_per_unit
    origin = points.min(axis=0) - padding
    width, height = np.ceil((points.max(axis=0) + padding - origin) * pixels_per_unit).astype(int) + 1

    def to_layer(canonical):
        return (np.asarray(canonical) - origin) * pixels_per_unit

    table = _skin_table(fish, look)
    skin = _skin_gradient(fish, table, origin, pixels_per_unit, (height, width))
    _draw_spots(skin, fish, look.spots, table, look, to_layer, pixels_per_unit)
    _darken_along(skin, to_layer(fish.operculum), 0.78, max(1, round(0.004 * fish.length * pixels_per_unit)))
    if look.spot_blur > 0:
        skin = cv2.GaussianBlur(skin, (0, 0), look.spot_blur)
    for glint in look.glints:
        _add_glint(skin, fish, glint, origin, pixels_per_unit)
    for droplet in look.droplets:
        _add_droplet(skin, fish, droplet, look.light_angle, origin, pixels_per_unit)
    _draw_eye(skin, fish, to_layer, pixels_per_unit)

    body = np.zeros((height, width), np.uint8)
    cv2.fillPoly(body, [_fixed(to_layer(fish.body_polygon()))], 255, cv2.LINE_AA, SHIFT)
    fin_alpha = _paint_fins(skin, body, fish, to_layer, pixels_per_unit, look.gain)
    alpha = cv2.add(body, cv2.multiply(fin_alpha, 255 - body, scale=1 / 255))  # body over fins
    return skin, alpha, origin


def _skin_table(fish, look):
    """Skin colour (BGR float) at 256 steps of v from the top outline (-1) to the bottom one (+1)."""
    v = np.linspace(-1.0, 1.0, 256)
    ramp = np.clip((v - fish.gradient_centre) / fish.gradient_width + 0.5, 0.0, 1.0)
    ramp = ramp * ramp * (3 - 2 * ramp)  # smoothstep: no visible band edges
    strength, centre, width = look.sheen
    brightness = 1 + strength * np.exp(-(((v - centre) / width) ** 2))
    colour = fish.back_bgr + ramp[:, None] * (fish.belly_bgr - fish.back_bgr)
    return np.clip(colour * brightness[:, None] * look.gain, 0, 255)


def _skin_gradient(fish, table, origin, pixels_per_unit, shape):
    """The skin table laid over the layer, following the body outline column by column.

    A pixel's v is linear in its row within a column, so the image is an
    index image looked up in the table.
    """
    height, width = shape
    x = origin[0] + np.arange(width) / pixels_per_unit
    rows = (origin[1] + np.arange(height) / pixels_per_unit).astype(np.float32)
    top, bottom = fish.y_top(x), fish.y_bottom(x)
    half = np.maximum((bottom - top) / 2, 1e-6)
    # index = (v + 1) / 2 * 255 with v = (y - mid) / half
    per_row = 127.5 / half
    offset = 127.5 - per_row * (top + bottom) / 2
    index = rows[:, None] * per_row.astype(np.float32) + offset.astype(np.float32)
    np.clip(index, 0, 255, out=index)
    return cv2.applyColorMap(index.astype(np.uint8), table.astype(np.uint8)[:, None, :])


def _draw_spots(skin, fish, spots, table, look, to_layer, pixels_per_unit):
    """Halos first, so that no halo covers a neighbouring spot; each spot faded towards the skin around it."""
    centres = _fixed(to_layer(np.stack(fish.body_point(spots.u, spots.v), 1))).tolist()
    scale = fish.length * pixels_per_unit * ONE
    halo_radii = np.round(spots.halo_radius * scale).astype(int).tolist()
    radii = np.maximum(ONE // 2, np.round(spots.radius * scale).astype(int)).tolist()
    surrounding = table[np.clip(np.round((spots.v + 1) * 127.5).astype(int), 0, 255)]
    fade = look.spot_fade[:, None]

    def faded(bgr):
        return np.clip((1 - fade) * bgr * look.gain + fade * surrounding, 0, 255).tolist()

    for centre, radius, colour in zip(centres, halo_radii, faded(spots.halo_bgr)):
        if radius > 0:
            cv2.circle(skin, centre, radius, colour, -1, cv2.LINE_AA, SHIFT)
    for centre, radius, colour in zip(centres, radii, faded(spots.bgr)):
        cv2.circle(skin, centre, radius, colour, -1, cv2.LINE_AA, SHIFT)


def _skin_box(fish, centre, reach, origin, pixels_per_unit, shape):
    """A box of the layer around canonical ``centre`` (``reach`` canonical units each way).

    Returns the box's slices, the canonical x and y of its pixels (column and
    row vectors) and a weight per pixel for what is added there: 0 on the
    head in front of the spots and within EYE_CLEARANCE eye radii of the
    eye, rising to 1 a little beyond, so that the eye region stays as it is.
    """
    low = np.floor((np.asarray(centre) - reach - origin) * pixels_per_unit).astype(int)
    high = np.ceil((np.asarray(centre) + reach - origin) * pixels_per_unit).astype(int) + 1
    (x0, y0), (x1, y1) = np.maximum(low, 0), np.minimum(high, (shape[1], shape[0]))
    if x1 <= x0 or y1 <= y0:
        return None
    x = (origin[0] + np.arange(x0, x1, dtype=np.float32) / pixels_per_unit)[None, :]
    y = (origin[1] + np.arange(y0, y1, dtype=np.float32) / pixels_per_unit)[:, None]
    length, (eye_x, eye_y), eye_radius = fish.length, fish.eye_centre, fish.eye_radius
    behind_head = np.clip((x - SPOT_REGION_START * length) / (0.02 * length), 0.0, 1.0)
    eye_distance = np.sqrt((x - eye_x) ** 2 + (y - eye_y) ** 2)
    off_eye = np.clip((eye_distance - EYE_CLEARANCE * eye_radius) / (0.5 * eye_radius), 0.0, 1.0)
    return (slice(y0, y1), slice(x0, x1)), x, y, behind_head * off_eye


def _add_glint(skin, fish, glint, origin, pixels_per_unit):
    """A soft, elongated specular highlight: the skin mixed towards the light's white."""
    u, v, angle, long_sigma, short_sigma, opacity = glint
    centre = np.array(fish.body_point(u, v))
    long_sigma, short_sigma = long_sigma * fish.length, short_sigma * fish.length
    found = _skin_box(fish, centre, 3 * long_sigma, origin, pixels_per_unit, skin.shape)
    if found is None:
        return
    box, x, y, allowed = found
    cos, sin = np.cos(np.radians(angle)), np.sin(np.radians(angle))
    along, across = (x - centre[0]) * cos + (y - centre[1]) * sin, (y - centre[1]) * cos - (x - centre[0]) * sin
    share = opacity * allowed * np.exp(-0.5 * ((along / long_sigma) ** 2 + (across / short_sigma) ** 2))
    patch = skin[box].astype(np.float32)
    skin[box] = patch + share[..., None] * (255 - patch)


def _add_droplet(skin, fish, droplet, light_angle, origin, pixels_per_unit):
    """A water droplet: a lens that lightens the skin under it, a dark rim away from the light, a bright dot."""
    u, v, radius = droplet
    centre = np.array(fish.body_point(u, v))
    radius *= fish.length
    found = _skin_box(fish, centre, 1.2 * radius, origin, pixels_per_unit, skin.shape)
    if found is None:
        return
    box, x, y, allowed = found
    dx, dy = (x - centre[0]) / radius, (y - centre[1]) / radius
    distance = np.sqrt(dx * dx + dy * dy)
    inside = np.clip((1 - distance) * radius * pixels_per_unit + 0.5, 0.0, 1.0)  # antialiased disc
    light = np.array([np.cos(np.radians(light_angle)), np.sin(np.radians(light_angle))])
    away = np.clip(-(dx * light[0] + dy * light[1]) / np.maximum(distance, 1e-6), 0.0, 1.0)
    rim = inside * np.exp(-(((1 - distance) / 0.25) ** 2)) * away
    dot = np.exp(-0.5 * (((dx - 0.4 * light[0]) ** 2 + (dy - 0.4 * light[1]) ** 2) / 0.15**2))
    patch = skin[box].astype(np.float32)
    shaded = patch * (1 + allowed * (0.12 * inside - 0.45 * rim))[..., None]
    skin[box] = np.clip(shaded + (0.9 * allowed * inside * dot)[..., None] * (255 - shaded), 0, 255)


def _colour(bgr):
    return tuple(float(c) for c in np.clip(bgr, 0, 255))


def _darken_along(skin, polyline, factor, thickness):
    """Shade the skin along a line (within the line's box only: the rest is untouched)."""
    x0, y0 = np.maximum(np.floor(polyline.min(axis=0)).astype(int) - thickness - 1, 0)
    x1, y1 = np.ceil(polyline.max(axis=0)).astype(int) + thickness + 2
    box = skin[y0:y1, x0:x1]
    line = np.zeros(box.shape[:2], np.uint8)
    cv2.polylines(line, [_fixed(polyline - (x0, y0))], False, 255, thickness, cv2.LINE_AA, SHIFT)
    shade = 1 - (1 - factor) * line.astype(np.float32)[..., None] / 255
    box[:] = np.clip(box * shade, 0, 255).astype(np.uint8)


def _draw_eye(skin, fish, to_layer, pixels_per_unit):
    centre = tuple(int(c) for c in _fixed(to_layer(fish.eye_centre)))
    radius = fish.eye_radius * pixels_per_unit * ONE
    cv2.circle(skin, centre, max(ONE, int(round(radius))), _colour(fish.iris_bgr), -1, cv2.LINE_AA, SHIFT)
    cv2.circle(skin, centre, max(ONE // 2, int(round(0.6 * radius))), _colour(fish.pupil_bgr), -1, cv2.LINE_AA, SHIFT)


def _paint_fins(skin, body, fish, to_layer, pixels_per_unit, skin_gain):
    """Paint the fins' colour (with darker rays) where there is no body, and return the fins' opacity (uint8).

    The fins' roots lie under the body, so only pixels without any body take
    fin colour; each fin is painted within its own box.
    """
    colour = np.clip(fish.fin_bgr * skin_gain, 0, 255).astype(np.uint8)
    ray_colour = _colour(0.7 * fish.fin_bgr * skin_gain)
    ray_thickness = max(1, round(0.004 * fish.length * pixels_per_unit))
    rays = [to_layer(ray) for ray in fish.fin_rays]
    alpha = np.zeros(body.shape, np.uint8)
    for polygon, opacity in ((fish.dorsal_fin, fish.dorsal_fin_alpha), (fish.tail_fin, fish.tail_fin_alpha)):
        outline = to_layer(polygon)
        cv2.fillPoly(alpha, [_fixed(outline)], round(255 * opacity), cv2.LINE_AA, SHIFT)
        (x0, y0), (x1, y1) = np.floor(outline.min(axis=0)).astype(int) - 2, np.ceil(outline.max(axis=0)).astype(int) + 3
        x0, y0 = max(x0, 0), max(y0, 0)
        paint = np.full((y1 - y0, x1 - x0, 3), colour, np.uint8)
        cv2.polylines(paint, [_fixed(ray - (x0, y0)) for ray in rays], False, ray_colour, ray_thickness, cv2.LINE_AA, SHIFT)
        box = skin[y0:y1, x0:x1]
        cv2.copyTo(paint[: box.shape[0], : box.shape[1]], cv2.compare(body[y0:y1, x0:x1], 0, cv2.CMP_EQ), box)
    return alpha


# ---------------------------------------------------- per-photo parameters


@dataclasses.dataclass(frozen=True, eq=False)
class EdgeStrip:
    """A non-green band (table, tent edge) along one border, clear of the fish."""

    side: str
    polygon: np.ndarray  # source pixels
    bgr: np.ndarray


@dataclasses.dataclass(frozen=True, eq=False)
class PhotoParams:
    size: tuple[int, int]  # (width, height)
    flank: str
    upside_down: bool
    angle: float  # total rotation, degrees, counter-clockwise on screen, in (-180, 180]
    scale: float  # pixels per canonical unit
    to_photo: np.ndarray  # 2x3 affine: canonical point -> source pixel
    skin: SkinLook
    tent_hsv: tuple[float, float, float]
    tent_texture: float  # relative strength of folds and blotches
    exposure: float
    light_slope: tuple[float, float]  # relative brightness change across the width and height
    vignette: float  # relative darkening at the corners
    # White balance: log gain of red over blue (blue gets minus it) at the centre and its change
    # across the width and height (the light's colour varies over the tent), log gain of green.
    colour_cast: tuple[float, float, float, float]
    light_patches: np.ndarray  # small grid of relative brightness changes, smoothly interpolated
    blur_sigma: float  # Gaussian blur of the photo, pixels (0: none)
    motion_blur: tuple[float, float]  # length (pixels; 0: none) and angle (degrees) of a camera shake
    noise_sigma: float
    jpeg_quality: int
    edge_strip: EdgeStrip | None


def draw_photo_params(
    fish, rng, size=(1024, 768), max_rotation=40.0, upside_down=0.15, edge_strip=EDGE_STRIP_PROBABILITY,
    body_share=BODY_LENGTH_OF_WIDTH,
):
    """Everything that varies from photo to photo, drawn without rendering anything.

    ``rng`` is a numpy Generator that can spawn (any from np.random.default_rng).
    ``body_share`` is the range of the body length over the photo's width
    (e.g. SMALL_FISH), capped so that the fish fits.
    """
    width, height = size
    flank = FLANKS[int(rng.integers(2))]
    flipped_over = bool(rng.random() < upside_down)
    rotation = rng.uniform(-max_rotation, max_rotation) + (180.0 if flipped_over else 0.0)
    angle = float((rotation + 180.0) % 360.0 - 180.0)
    angle = 180.0 if angle == -180.0 else angle
    linear = _turn_and_mirror(angle, flank)
    margin = max(4.0, 0.04 * min(width, height))
    scale = _fitting_scale(rng, fish, linear, size, margin, body_share)
    to_photo = _place(rng, fish, scale * linear, size, margin)
    # What was added later draws from its own child generator, so that every
    # earlier draw (pose, tent, light, noise, edge strip) stays as it was for a seed.
    later = rng.spawn(1)[0]
    skin = _skin_look(rng, later, fish, flank, scale)
    tent_hsv = (rng.uniform(40, 80), rng.uniform(90, 220), rng.uniform(120, 200))
    blur_sigma, motion_blur = _camera_blur(later, width)
    return PhotoParams(
        size=(width, height),
        flank=flank,
        upside_down=flipped_over,
        angle=angle,
        scale=scale,
        to_photo=to_photo,
        skin=skin,
        tent_hsv=tent_hsv,
        tent_texture=rng.uniform(0.02, 0.08),
        exposure=rng.uniform(0.8, 1.15),
        light_slope=tuple(rng.uniform(-0.2, 0.2, 2)),
        vignette=rng.uniform(0.0, 0.3),
        colour_cast=_colour_cast(later, tent_hsv),
        light_patches=later.normal(0.0, LIGHT_PATCH_SD, (3, 4)),
        blur_sigma=blur_sigma,
        motion_blur=motion_blur,
        noise_sigma=rng.uniform(1.5, 5.0),
        jpeg_quality=int(rng.integers(JPEG_QUALITY[0], JPEG_QUALITY[1] + 1)),
        edge_strip=_edge_strip(rng, fish, to_photo, size, margin) if rng.random() < edge_strip else None,
    )


def _skin_look(rng, later, fish, flank, scale):
    """The skin's look in one photo; ``later`` draws what was added after the first version."""
    gain = rng.normal(1.0, 0.03, 3).clip(0.92, 1.08) * rng.uniform(0.94, 1.06)
    spot_blur = rng.uniform(0.0, 0.004) * fish.length * scale
    spots = fish.spots(flank)
    fade = rng.uniform(0.0, 0.3, len(spots.u))
    sheen = (rng.uniform(0.0, 0.2), rng.uniform(-0.4, 0.4), rng.uniform(0.15, 0.35))
    # Mucus and wet reflections wash a few spots out.
    faint = later.random(len(spots.u)) < later.uniform(*FAINT_SPOT_SHARE)
    fade = np.where(faint, later.uniform(*FAINT_SPOT_FADE, len(spots.u)), fade)
    return SkinLook(
        gain=gain,
        spot_blur=spot_blur,
        spots=_photo_spots(later, fish, spots),
        spot_fade=fade,
        sheen=sheen,
        glints=_glints(later),
        droplets=_droplets(later),
        light_angle=later.uniform(-180.0, 180.0),
    )


def _photo_spots(rng, fish, spots):
    """The spots as one photo shows them: each shifted and resized a little as the skin stretches.

    Shifts are drawn in canonical units (a share of the spot's radius in x
    and y) and turned back into u, v. A spot that would then leave the body,
    enter the head or crowd the eye stays as it is.
    """
    count = len(spots.u)
    factor = 1 + np.clip(rng.normal(0.0, SPOT_SIZE_SD, count), -2 * SPOT_SIZE_SD, 2 * SPOT_SIZE_SD)
    shift = np.clip(rng.normal(0.0, SPOT_SHIFT_SD, (count, 2)), -2 * SPOT_SHIFT_SD, 2 * SPOT_SHIFT_SD)
    length = fish.length
    x, y = fish.body_point(spots.u, spots.v)
    x, y = x + shift[:, 0] * spots.radius * length, y + shift[:, 1] * spots.radius * length
    top, bottom = fish.y_top(x), fish.y_bottom(x)
    u, v = x / length, (2 * y - top - bottom) / (bottom - top)
    radius, halo_radius = spots.radius * factor, spots.halo_radius * factor
    outer = np.maximum(radius, halo_radius) * length
    inside = _circles_inside(x, y, outer, length, fish.y_top, fish.y_bottom, 0.0)
    clear_of_eye = np.hypot(x - fish.eye_centre[0], y - fish.eye_centre[1]) > EYE_CLEARANCE * fish.eye_radius + outer
    moved = inside & clear_of_eye & (u >= SPOT_REGION_START)

    def pick(new, old):
        return np.where(moved, new, old)

    return dataclasses.replace(
        spots,
        u=pick(u, spots.u),
        v=pick(v, spots.v),
        radius=pick(radius, spots.radius),
        halo_radius=pick(halo_radius, spots.halo_radius),
    )


def _glints(rng):
    """Wet highlights: soft blobs along the body, mostly on its upper half, where the flank faces the light.

    Now and then a very wet fish also shows a wide sheet of glare over its
    deepest part.
    """
    count = int(rng.integers(GLINTS[0], GLINTS[1] + 1))
    sheet = rng.random() < GLARE_PROBABILITY
    long_sigma = rng.uniform(*GLINT_SIGMA, count)
    glints = [
        rng.uniform(0.2, 0.95, count),
        rng.uniform(-0.75, 0.55, count),
        rng.normal(0.0, 20.0, count),
        long_sigma,
        long_sigma * rng.uniform(0.25, 0.5, count),
        rng.uniform(*GLINT_OPACITY, count),
    ]
    if sheet:
        long_sigma = rng.uniform(*GLARE_SIGMA)
        glare = [rng.uniform(0.2, 0.7), rng.uniform(-0.6, 0.1), rng.normal(0.0, 10.0), long_sigma,
                 long_sigma * rng.uniform(0.3, 0.6), rng.uniform(*GLARE_OPACITY)]
        glints = [np.append(values, extra) for values, extra in zip(glints, glare)]
    return np.stack(glints, 1)


def _droplets(rng):
    """Now and then a droplet or two of water left on the skin."""
    count = int(rng.integers(1, 3)) if rng.random() < DROPLET_PROBABILITY else 0
    return np.stack(
        [rng.uniform(0.2, 0.95, count), rng.uniform(-0.8, 0.8, count), rng.uniform(*DROPLET_RADIUS, count)], 1
    )


def _colour_cast(rng, tent_hsv):
    """The white balance (see PhotoParams.colour_cast), weakened until the tent stays green everywhere.

    A yellow-green tent turns yellow under a little warm light: such photos
    get a milder cast rather than a tent the segmentation cannot see.
    """
    cast = np.array(
        [
            rng.uniform(-COLOUR_TEMPERATURE, COLOUR_TEMPERATURE),
            *rng.uniform(-COLOUR_TEMPERATURE_SLOPE, COLOUR_TEMPERATURE_SLOPE, 2),
            rng.uniform(*COLOUR_TINT),
        ]
    )
    while not _tent_stays_green(cast, tent_hsv):
        cast = 0.7 * cast if np.abs(cast).max() > 1e-3 else np.zeros(4)
    return tuple(float(value) for value in cast)


def _tent_stays_green(cast, tent_hsv):
    """Whether the tent's colour under the cast stays within TENT_HUE and TENT_MIN_SATURATION.

    The warmth is linear across the photo, so checking the corners suffices;
    the brightness (light, shading) changes neither hue nor saturation.
    """
    temperature, across, down, tint = cast
    warmth = (temperature + np.array([-0.5, 0.5])[:, None] * across + np.array([-0.5, 0.5]) * down).ravel()
    log_gain = np.stack([-warmth, np.full_like(warmth, tint), warmth], 1)
    bgr = (_hsv_to_bgr(tent_hsv)[0] / 255 * np.exp(log_gain)).astype(np.float32)
    hsv = cv2.cvtColor(bgr[:, None, :], cv2.COLOR_BGR2HSV)[:, 0]  # float: hue in degrees, saturation 0..1
    hue, saturation = hsv[:, 0] / 2, hsv[:, 1] * 255
    return bool(np.all((hue >= TENT_HUE[0]) & (hue <= TENT_HUE[1]) & (saturation >= TENT_MIN_SATURATION)))


def _camera_blur(rng, width):
    """A slight defocus, or now and then a short camera shake, scaled with the photo's width."""
    pixels = width / 1024
    if rng.random() < MOTION_BLUR_PROBABILITY:
        return 0.0, (float(rng.uniform(*MOTION_BLUR_LENGTH) * pixels), float(rng.uniform(0.0, 180.0)))
    return float(rng.uniform(0.0, BLUR_SIGMA) * pixels), (0.0, 0.0)


def _turn_and_mirror(angle, flank):
    """Linear part of canonical -> photo at unit scale (mirror first, then turn)."""
    radians = np.radians(angle)
    cos, sin = np.cos(radians), np.sin(radians)
    turn = np.array([[cos, sin], [-sin, cos]])  # as cv2.getRotationMatrix2D
    mirror = np.diag([-1.0 if flank == "right" else 1.0, 1.0])
    return turn @ mirror


def _fitting_scale(rng, fish, linear, size, margin, body_share):
    """Body length a share of the width in ``body_share``, capped so the turned fish fits inside the margins."""
    width, height = size
    turned = fish.outline_points() @ linear.T
    extent = turned.max(axis=0) - turned.min(axis=0)
    fits = min((width - 2 * margin) / extent[0], (height - 2 * margin) / extent[1])
    low, high = (share * width / fish.length for share in body_share)
    high = min(high, fits)
    return float(rng.uniform(min(low, high), high))


def _place(rng, fish, linear, size, margin):
    """Translate so that the whole fish, fins included, lies inside the margins."""
    moved = fish.outline_points() @ linear.T
    low = margin - moved.min(axis=0)
    high = np.array(size, np.float64) - 1 - margin - moved.max(axis=0)
    offset = rng.uniform(low, np.maximum(low, high))
    return np.hstack([linear, offset[:, None]])


def _edge_strip(rng, fish, to_photo, size, margin):
    """A slanted band along a border with room for it; None when no border has room."""
    width, height = size
    placed = _apply(to_photo, fish.outline_points())
    box_low, box_high = placed.min(axis=0), placed.max(axis=0)
    room = {"left": box_low[0], "top": box_low[1], "right": width - 1 - box_high[0], "bottom": height - 1 - box_high[1]}
    clearance = margin / 2
    minimum = {side: max(3.0, 0.02 * (width if side in ("left", "right") else height)) for side in room}
    sides = [side for side in room if room[side] - clearance >= minimum[side]]
    if not sides:
        return None
    side = sides[int(rng.integers(len(sides)))]
    span = width if side in ("left", "right") else height
    near, far = rng.uniform(minimum[side], min(room[side] - clearance, 0.15 * span), 2)
    corners = {
        "left": [[0, 0], [near, 0], [far, height], [0, height]],
        "right": [[width, 0], [width - near, 0], [width - far, height], [width, height]],
        "top": [[0, 0], [width, 0], [width, far], [0, near]],
        "bottom": [[0, height], [width, height], [width, height - far], [0, height - near]],
    }[side]
    dark_grey, dark_brown = ((0, 179), (0, 30), (50, 110)), ((8, 20), (60, 140), (50, 110))
    colour = _random_bgr(rng, *(dark_grey if rng.random() < 0.5 else dark_brown))
    return EdgeStrip(side, np.array(corners, np.float64), colour)


def _apply(affine, points):
    return np.asarray(points, np.float64).reshape(-1, 2) @ affine[:, :2].T + affine[:, 2]


# --------------------------------------------------------------- the photo


def render_photo(
    fish, rng, size=(1024, 768), max_rotation=40.0, upside_down=0.15, edge_strip=EDGE_STRIP_PROBABILITY,
    body_share=BODY_LENGTH_OF_WIDTH,
):
    """One JPEG-degraded photo of ``fish`` and its ground truth (see module docstring)."""
    _, image, truth = render_photo_jpeg(fish, rng, size, max_rotation, upside_down, edge_strip, body_share)
    return image, truth


def render_photo_jpeg(
    fish, rng, size=(1024, 768), max_rotation=40.0, upside_down=0.15, edge_strip=EDGE_STRIP_PROBABILITY,
    body_share=BODY_LENGTH_OF_WIDTH,
):
    """As render_photo, also returning the JPEG bytes the image was decoded from."""
    params = draw_photo_params(fish, rng, size, max_rotation, upside_down, edge_strip, body_share)
    image = _compose(fish, params, rng)
    encoded = cv2.imencode(".jpg", image, [cv2.IMWRITE_JPEG_QUALITY, params.jpeg_quality])[1].tobytes()
    decoded = cv2.imdecode(np.frombuffer(encoded, np.uint8), cv2.IMREAD_COLOR)
    return encoded, decoded, ground_truth(fish, params)


def _compose(fish, params, rng):
    """Tent, fish, light and sensor noise, before JPEG (uint8 BGR)."""
    width, height = params.size
    gain = _lighting(params)
    photo = _tent(rng, params, gain)
    if params.edge_strip is not None:
        _paint_strip(photo, params.edge_strip, gain)
    colour, alpha, origin = _fish_layer(fish, params.scale, params.skin)
    layer_to_canonical = np.array([[1 / params.scale, 0, origin[0]], [0, 1 / params.scale, origin[1]]])
    layer_to_photo = params.to_photo @ np.vstack([layer_to_canonical, [0, 0, 1]])
    lit = cv2.multiply(colour, _gain_in_layer(gain, params.size, layer_to_photo, alpha.shape), scale=1 / GAIN_ONE)
    layer_height, layer_width = alpha.shape
    corners = _apply(layer_to_photo, [[0, 0], [layer_width, 0], [0, layer_height], [layer_width, layer_height]])
    x0, y0 = np.maximum(np.floor(corners.min(axis=0)).astype(int), 0)
    x1, y1 = np.minimum(np.ceil(corners.max(axis=0)).astype(int) + 1, (width, height))
    # Warp only into the fish's box: most of the photo is tent.
    layer_to_box = layer_to_photo - np.array([[0, 0, x0], [0, 0, y0]])
    box_size = (int(x1 - x0), int(y1 - y0))
    placed = cv2.warpAffine(lit, layer_to_box, box_size, flags=cv2.INTER_LINEAR)
    coverage = cv2.warpAffine(alpha, layer_to_box, box_size, flags=cv2.INTER_LINEAR).astype(np.float32) / 255
    box = photo[y0:y1, x0:x1]
    cv2.blendLinear(placed, box, coverage, 1 - coverage, dst=box)
    # The lens and the shake blur the fish; the tent around it is smooth, so only the fish's box is blurred.
    _blur(photo[max(y0 - 4, 0) : y1 + 4, max(x0 - 4, 0) : x1 + 4], params)
    _add_sensor_noise(rng, photo, params.noise_sigma)
    return photo


def _blur(image, params):
    """Blur the image in place: the photo's defocus or camera shake."""
    length, angle = params.motion_blur
    if length > 0:
        size = 2 * int(np.ceil(length / 2)) + 3
        kernel = np.zeros((size, size), np.float32)
        half = np.array([np.cos(np.radians(angle)), -np.sin(np.radians(angle))]) * length / 2
        start, end = (tuple(int(c) for c in _fixed(size // 2 + sign * half)) for sign in (-1, 1))
        cv2.line(kernel, start, end, 1.0, 1, cv2.LINE_AA, SHIFT)
        cv2.filter2D(image, -1, kernel / kernel.sum(), dst=image)
    elif params.blur_sigma > 0.1:
        cv2.GaussianBlur(image, (0, 0), params.blur_sigma, dst=image)


def _lighting(params):
    """Gain per BGR channel: exposure, a linear gradient, patches of light and shade, a vignette and the
    white balance, which varies across the photo. Smooth, so kept small (1/16 size)."""
    width, height = params.size
    small = (max(2, width // 16), max(2, height // 16))
    x = np.linspace(-0.5, 0.5, small[0], dtype=np.float32)[None, :]
    y = np.linspace(-0.5, 0.5, small[1], dtype=np.float32)[:, None]
    gradient = 1 + params.light_slope[0] * x + params.light_slope[1] * y
    patches = 1 + cv2.resize(params.light_patches.astype(np.float32), small, interpolation=cv2.INTER_CUBIC)
    vignette = 1 - 2 * params.vignette * (x * x + y * y)  # 1 - vignette at the corners
    brightness = params.exposure * gradient * patches * vignette
    temperature, across, down, tint = params.colour_cast
    warmth = temperature + across * x + down * y
    log_gain = np.stack([-warmth, np.full_like(warmth, tint), warmth], -1)  # BGR
    return (brightness[..., None] * np.exp(log_gain)).astype(np.float32)


def _gain_in_layer(gain, size, layer_to_photo, layer_shape):
    """The gain map sampled at each layer pixel's place in the photo, as uint8 BGR (GAIN_ONE means 1).

    The gain is smooth: sampled on a grid eight times coarser than the layer,
    then scaled up. uint8 takes a quarter of float's memory, in steps finer
    than the noise added later.
    """
    height, width = layer_shape
    coarse_size = ((width + 7) // 8, (height + 7) // 8)
    photo_to_gain = _resize_map(size, gain.shape[1::-1])
    coarse_to_layer = _resize_map(coarse_size, (width, height))
    coarse_to_gain = photo_to_gain @ np.vstack([layer_to_photo, [0, 0, 1]]) @ coarse_to_layer
    fixed_gain = np.clip(np.round(gain * GAIN_ONE), 0, 255).astype(np.uint8)
    flags = cv2.INTER_LINEAR | cv2.WARP_INVERSE_MAP
    coarse = cv2.warpAffine(fixed_gain, coarse_to_gain[:2], coarse_size, flags=flags, borderMode=cv2.BORDER_REPLICATE)
    return cv2.resize(coarse, (width, height), interpolation=cv2.INTER_LINEAR)


def _resize_map(source_size, target_size):
    """3x3 affine from pixel positions in an image of source_size (w, h) to where cv2.resize puts them at target_size."""
    x_ratio, y_ratio = target_size[0] / source_size[0], target_size[1] / source_size[1]
    return np.array([[x_ratio, 0, 0.5 * x_ratio - 0.5], [0, y_ratio, 0.5 * y_ratio - 0.5], [0, 0, 1]])


def _tent(rng, params, gain):
    """The lit green tent (uint8): soft blotches and folds, drawn at an eighth of the size and scaled up."""
    width, height = params.size
    small = (max(4, width // 8), max(4, height // 8))
    blotches = cv2.resize(rng.standard_normal((3, 4)).astype(np.float32), small, interpolation=cv2.INTER_CUBIC)
    folds = np.zeros((small[1], small[0]), np.float32)
    for _ in range(int(rng.integers(2, 7))):
        start = rng.uniform(0, 1, 2) * small
        bend = start + rng.normal(0, 0.25, 2) * small
        end = start + rng.normal(0, 0.4, 2) * small
        shade = float(rng.choice([-1.5, 1.0]))  # a fold's shadow is deeper than its highlight is bright
        cv2.polylines(folds, [_fixed(_bezier(start, bend, end, 10))], False, shade, 1, cv2.LINE_8, SHIFT)
    folds = cv2.GaussianBlur(folds, (0, 0), 0.7)
    shading = 1 + params.tent_texture * (0.5 * blotches + folds)
    lit = shading[..., None] * cv2.resize(gain, small, interpolation=cv2.INTER_LINEAR) * _hsv_to_bgr(params.tent_hsv)[0]
    return cv2.resize(cv2.convertScaleAbs(lit), (width, height), interpolation=cv2.INTER_LINEAR)


def _paint_strip(photo, strip, gain):
    """Paint the lit edge strip into the photo (a rare extra, so plain numpy on its pixels only)."""
    coverage = np.zeros(photo.shape[:2], np.uint8)
    cv2.fillPoly(coverage, [_fixed(strip.polygon)], 255, cv2.LINE_AA, SHIFT)
    rows, columns = np.nonzero(coverage)
    share = coverage[rows, columns, None].astype(np.float32) / 255
    full_gain = cv2.resize(gain, photo.shape[1::-1], interpolation=cv2.INTER_LINEAR)
    lit = strip.bgr.astype(np.float32) * full_gain[rows, columns]
    photo[rows, columns] = np.clip(share * lit + (1 - share) * photo[rows, columns], 0, 255).astype(np.uint8)


def _add_sensor_noise(rng, photo, sigma):
    """Add grain with standard deviation ``sigma`` to the uint8 photo, in place.

    Brightness grain only: cameras smooth colour noise away, and colour noise
    would turn dark brown skin green-tinged here and there. Drawn at half
    size: noise after demosaicing is spatially correlated, and drawing a
    quarter of the values is cheaper. Uniform uint8 draws are much faster than
    normal ones, and upsampling mixes four of them into a near-normal grain;
    one addWeighted centres, scales, adds and saturates.
    """
    height, width = photo.shape[:2]
    grain = rng.integers(0, 256, ((height + 1) // 2, (width + 1) // 2), dtype=np.uint8)
    # The same grain in all three channels, expanded before upsampling, where it is cheap.
    grain = cv2.resize(cv2.cvtColor(grain, cv2.COLOR_GRAY2BGR), (width, height), interpolation=cv2.INTER_LINEAR)
    # Bilinear 2x upsampling weighs neighbours 3/4 and 1/4 per axis, which
    # shrinks the standard deviation by sqrt(0.75^2 + 0.25^2) per axis.
    upsampled_sd = UNIFORM_BYTE_SD * (0.75**2 + 0.25**2)
    scale = sigma / upsampled_sd
    cv2.addWeighted(photo, 1.0, grain, scale, -127.5 * scale, dst=photo)


def ground_truth(fish, params):
    """The truth dict of a photo (``photo``, ``fish_id`` and ``session`` left empty)."""

    def mapped(points):
        return _apply(params.to_photo, points).tolist()

    truth = {"photo": "", "fish_id": "", "session": "", "flank": params.flank, "upside_down": params.upside_down}
    truth.update(angle=params.angle, scale=params.scale, body_length_px=params.scale * fish.length)
    truth.update({name: mapped(point)[0] for name, point in fish.landmarks().items()})
    truth.update(
        roi=mapped(fish.roi_corners()),
        canonical_to_photo=params.to_photo.tolist(),
        jpeg_quality=params.jpeg_quality,
        edge_strip=None if params.edge_strip is None else params.edge_strip.side,
    )
    return truth


# ------------------------------------------------------------- the dataset


def individual_seed(seed, fish_index):
    return int(np.random.SeedSequence([seed, fish_index]).generate_state(1)[0])


def photo_rng(seed, fish_index, session_index, photo_index):
    """Each photo's own generator: any photo can be rendered alone, in any order."""
    return np.random.default_rng([seed, fish_index, session_index, photo_index, 1])


def render_dataset(
    out_dir, ids, sessions, per_id, size=(1024, 768), seed=0, max_rotation=40.0, upside_down=0.15, overwrite=False,
    palette="trout", fin_opacity=None, body_share=BODY_LENGTH_OF_WIDTH,
):
    """Write ``out_dir/session_<s>/fish_<i>/*.jpg`` and ``out_dir/ground_truth.jsonl``; return the truths.

    ``palette`` and ``fin_opacity`` go to make_fish, ``body_share`` to draw_photo_params.
    """
    out_dir = Path(out_dir)
    truth_path = out_dir / GROUND_TRUTH_FILE
    if truth_path.exists():
        if not overwrite:
            raise FileExistsError(f"{truth_path} exists: {out_dir} already holds a synthetic dataset")
        _remove_previous(out_dir, truth_path)
    digits = max(3, len(str(ids - 1)))
    fishes = [make_fish(individual_seed(seed, index), palette, fin_opacity) for index in range(ids)]
    truths = []
    for session_index in range(1, sessions + 1):
        session = f"session_{session_index}"
        for fish_index, fish in enumerate(fishes):
            fish_id = f"fish_{fish_index:0{digits}d}"
            folder = out_dir / session / fish_id
            folder.mkdir(parents=True, exist_ok=True)
            for photo_index in range(per_id):
                rng = photo_rng(seed, fish_index, session_index, photo_index)
                encoded, _, truth = render_photo_jpeg(
                    fish, rng, size, max_rotation, upside_down, body_share=body_share
                )
                name = f"{fish_id}_{session}_{photo_index:02d}.jpg"
                (folder / name).write_bytes(encoded)
                truth.update(photo=f"{session}/{fish_id}/{name}", fish_id=fish_id, session=session)
                truths.append(truth)
    truth_path.write_text("".join(json.dumps(truth) + "\n" for truth in truths))
    return truths


def _remove_previous(out_dir, truth_path):
    """Delete the photos a previous run listed, so none of them lingers as a stale photo."""
    for line in truth_path.read_text().splitlines():
        if line.strip():
            (out_dir / json.loads(line)["photo"]).unlink(missing_ok=True)
    truth_path.unlink()


def _size(text):
    try:
        width, height = (int(part) for part in text.lower().split("x"))
    except ValueError:
        raise argparse.ArgumentTypeError(f"size must look like 1024x768, not {text!r}") from None
    if width < 64 or height < 64:
        raise argparse.ArgumentTypeError(f"size {text} is too small (at least 64x64)")
    return width, height


def _share_range(text):
    """A range LOW,HIGH of shares in (0, 1]."""
    try:
        low, high = (float(part) for part in text.split(","))
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected LOW,HIGH such as 0.3,0.45, not {text!r}") from None
    if not 0.0 < low <= high <= 1.0:
        raise argparse.ArgumentTypeError(f"{text}: need 0 < LOW <= HIGH <= 1")
    return low, high


def main(argv=None):
    parser = argparse.ArgumentParser(prog="python -m lateral.synthetic", description=__doc__.split("\n")[0])
    parser.add_argument("out", type=Path, help="output folder")
    parser.add_argument("--ids", type=int, required=True, help="number of individual fish")
    parser.add_argument("--sessions", type=int, required=True, help="number of photo sessions")
    parser.add_argument("--per_id", type=int, required=True, help="photos per fish per session")
    parser.add_argument("--size", type=_size, default=(1024, 768), help="photo size WIDTHxHEIGHT (default 1024x768)")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--max_rotation", type=float, default=40.0, help="degrees either way (default 40)")
    parser.add_argument("--upside_down", type=float, default=0.15, help="probability of an extra 180 degree turn")
    parser.add_argument("--overwrite", action="store_true", help="replace a dataset already in OUT")
    parser.add_argument("--palette", choices=PALETTES, default="trout",
                        help="skin colours: trout (brown, default) or greenish (olive to greenish-yellow, "
                             "near the tent)")
    parser.add_argument("--fin_opacity", type=_share_range, default=None, metavar="LOW,HIGH",
                        help=f"dorsal fin opacity range (default 0.9,0.97; faint fins: {FAINT_FIN[0]},{FAINT_FIN[1]})")
    parser.add_argument("--body_share", type=_share_range, default=BODY_LENGTH_OF_WIDTH, metavar="LOW,HIGH",
                        help=f"body length / photo width (default {BODY_LENGTH_OF_WIDTH[0]},{BODY_LENGTH_OF_WIDTH[1]}; "
                             f"small fish: {SMALL_FISH[0]},{SMALL_FISH[1]})")
    args = parser.parse_args(argv)
    for name in ("ids", "sessions", "per_id"):
        if getattr(args, name) < 1:
            parser.error(f"--{name} must be at least 1")
    if not 0.0 <= args.upside_down <= 1.0:
        parser.error("--upside_down is a probability, between 0 and 1")
    if not 0.0 <= args.max_rotation <= 180.0:
        parser.error("--max_rotation must be between 0 and 180 degrees")
    if args.seed < 0:
        parser.error("--seed must be at least 0")
    try:
        truths = render_dataset(
            args.out, args.ids, args.sessions, args.per_id, args.size, args.seed,
            args.max_rotation, args.upside_down, args.overwrite, args.palette, args.fin_opacity, args.body_share,
        )
    except FileExistsError as error:
        parser.error(f"{error}; pass --overwrite to replace it")
    print(
        f"wrote {len(truths)} photos ({args.ids} fish x {args.sessions} sessions x {args.per_id}, "
        f"{args.size[0]}x{args.size[1]}) to {args.out}/session_*/fish_*/"
    )
    print(f"ground truth: {args.out / GROUND_TRUTH_FILE}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
