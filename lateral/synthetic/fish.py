"""An individual fish: body outline, fins, colours and both flanks' spots, all fixed by its seed.

Coordinates are canonical (head left, dorsal fin up, y down; see the package docstring).
"""

import dataclasses

import cv2
import numpy as np

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

# Harder fish on request (make_fish's palette and fin_opacity):
PALETTES = ("trout", "greenish")
FAINT_FIN = (0.2, 0.45)  # a fin_opacity for faint, translucent dorsal fins


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
        if circles_inside(np.array([x]), np.array([y]), np.array([radius]), length, y_top, y_bottom, 0.01 * length)[0]:
            return (float(x), float(y)), float(radius)
        radius *= 0.9


def circles_inside(x, y, radius, length, y_top, y_bottom, clearance):
    """Which circles lie inside the body outline with this clearance (checked on 16 rim points)."""
    angles = np.linspace(0, 2 * np.pi, 16, endpoint=False)
    rim_x = x[:, None] + (radius[:, None] + clearance) * np.cos(angles)
    rim_y = y[:, None] + (radius[:, None] + clearance) * np.sin(angles)
    inside = (rim_x >= 0) & (rim_x <= length) & (rim_y >= y_top(rim_x)) & (rim_y <= y_bottom(rim_x))
    return inside.all(axis=1)


def bezier(start, control, end, count):
    """``count`` points along the quadratic Bezier curve from ``start`` to ``end`` bent towards ``control``."""
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
    trailing_edge = bezier(peak, peak + (0.3, 0.85) * (rear_tip - peak), rear_tip, 12)
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
    upper_edge = bezier(root_top, root_top + (0.35, 0.65) * (upper_tip - root_top), upper_tip, 8)
    lower_edge = bezier(lower_tip, root_bottom + (0.35, 0.65) * (lower_tip - root_bottom), root_bottom, 8)
    fork_control = length + 0.8 * fin_length
    trailing_edge = np.concatenate(
        [
            bezier(upper_tip, (fork_control, centre - 0.35 * spread), notch, 8),
            bezier(notch, (fork_control, centre + 0.35 * spread), lower_tip, 8)[1:],
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


def hsv_to_bgr(hsv):
    """OpenCV HSV (hue 0..179) rows to BGR float rows."""
    hsv = np.clip(np.round(np.atleast_2d(hsv)), 0, 255).astype(np.uint8)[:, None, :]
    return cv2.cvtColor(hsv, cv2.COLOR_HSV2BGR)[:, 0, :].astype(np.float64)


def random_bgr(rng, hue, saturation, value, count=None):
    """BGR colours (one, or count rows) drawn uniformly within OpenCV HSV ranges."""
    hsv = np.stack([rng.uniform(*hue, count), rng.uniform(*saturation, count), rng.uniform(*value, count)], -1)
    bgr = hsv_to_bgr(hsv)
    return bgr if count is not None else bgr[0]


def _skin_colours(rng):
    """Colours from hue families shared by all fish: colour alone does not identify one."""

    def draw(hue, saturation, value):
        return random_bgr(rng, hue, saturation, value)

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
        return random_bgr(rng, hue, saturation, value)

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
    dark_bgr = random_bgr(rng, (0, 18), (60, 180), (15, 45), count)
    red_bgr = random_bgr(rng, (0, 12), (160, 235), (150, 215), count)
    halo_bgr = random_bgr(rng, (15, 25), (30, 80), (185, 225), count)
    halo_radius = np.where(red, HALO_FACTOR * radius, 0.0)

    length = fish.length
    x, y = fish.body_point(u, v)
    outer = np.maximum(radius, halo_radius) * length
    inside = circles_inside(x, y, outer, length, fish.y_top, fish.y_bottom, 0.005 * length)
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
