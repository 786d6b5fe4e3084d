"""The fish drawn once in its canonical pose: skin, spots, one photo's wet extras, eye and fins, as a layer."""

import dataclasses

import cv2
import numpy as np

from lateral.synthetic.fish import EYE_CLEARANCE, SPOT_REGION_START, FlankSpots

# Drawing with sub-pixel precision: cv2 takes integer coordinates with this many fractional bits.
SHIFT = 4
ONE = 1 << SHIFT


def to_fixed_point(points):
    """Points as cv2's fixed-point integer coordinates (``SHIFT`` fractional bits)."""
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
    return fish_layer(fish, pixels_per_unit, SkinLook.neutral(fish.spots(flank)))


def fish_layer(fish, pixels_per_unit, look):
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
    cv2.fillPoly(body, [to_fixed_point(to_layer(fish.body_polygon()))], 255, cv2.LINE_AA, SHIFT)
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
    centres = to_fixed_point(to_layer(np.stack(fish.body_point(spots.u, spots.v), 1))).tolist()
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
    cv2.polylines(line, [to_fixed_point(polyline - (x0, y0))], False, 255, thickness, cv2.LINE_AA, SHIFT)
    shade = 1 - (1 - factor) * line.astype(np.float32)[..., None] / 255
    box[:] = np.clip(box * shade, 0, 255).astype(np.uint8)


def _draw_eye(skin, fish, to_layer, pixels_per_unit):
    centre = tuple(int(c) for c in to_fixed_point(to_layer(fish.eye_centre)))
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
        cv2.fillPoly(alpha, [to_fixed_point(outline)], round(255 * opacity), cv2.LINE_AA, SHIFT)
        (x0, y0), (x1, y1) = np.floor(outline.min(axis=0)).astype(int) - 2, np.ceil(outline.max(axis=0)).astype(int) + 3
        x0, y0 = max(x0, 0), max(y0, 0)
        paint = np.full((y1 - y0, x1 - x0, 3), colour, np.uint8)
        cv2.polylines(paint, [to_fixed_point(ray - (x0, y0)) for ray in rays], False, ray_colour, ray_thickness, cv2.LINE_AA, SHIFT)
        box = skin[y0:y1, x0:x1]
        cv2.copyTo(paint[: box.shape[0], : box.shape[1]], cv2.compare(body[y0:y1, x0:x1], 0, cv2.CMP_EQ), box)
    return alpha
