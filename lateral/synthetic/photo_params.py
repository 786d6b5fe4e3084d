"""Everything that varies from photo to photo (pose, skin, light, camera), drawn without rendering anything."""

import dataclasses

import cv2
import numpy as np

from lateral.synthetic.canonical_layer import SkinLook
from lateral.synthetic.fish import (
    EYE_CLEARANCE, FLANKS, SPOT_REGION_START, circles_inside, hsv_to_bgr, random_bgr,
)

BODY_LENGTH_OF_WIDTH = (0.45, 0.70)  # fish body length / photo width
SMALL_FISH = (0.3, 0.45)  # a body_share for small fish: harder photos on request
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
    inside = circles_inside(x, y, outer, length, fish.y_top, fish.y_bottom, 0.0)
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
    bgr = (hsv_to_bgr(tent_hsv)[0] / 255 * np.exp(log_gain)).astype(np.float32)
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
    placed = apply_affine(to_photo, fish.outline_points())
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
    colour = random_bgr(rng, *(dark_grey if rng.random() < 0.5 else dark_brown))
    return EdgeStrip(side, np.array(corners, np.float64), colour)


def apply_affine(affine, points):
    """Points [n, 2] mapped by a 2x3 affine matrix."""
    return np.asarray(points, np.float64).reshape(-1, 2) @ affine[:, :2].T + affine[:, 2]
