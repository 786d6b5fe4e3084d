"""A photo: the fish's layer on the lit tent, the camera's blur, grain and JPEG; and its ground truth."""

import cv2
import numpy as np

from lateral.synthetic.canonical_layer import SHIFT, fish_layer, to_fixed_point
from lateral.synthetic.fish import bezier, hsv_to_bgr
from lateral.synthetic.photo_params import (
    BODY_LENGTH_OF_WIDTH, EDGE_STRIP_PROBABILITY, apply_affine, draw_photo_params,
)

GAIN_ONE = 128  # a brightness gain of 1 in uint8 gain maps
UNIFORM_BYTE_SD = 256 / np.sqrt(12)  # standard deviation of uniform draws of 0..255


def render_photo(
    fish, rng, size=(1024, 768), max_rotation=40.0, upside_down=0.15, edge_strip=EDGE_STRIP_PROBABILITY,
    body_share=BODY_LENGTH_OF_WIDTH,
):
    """One JPEG-degraded photo of ``fish`` and its ground truth (see the package docstring)."""
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
    colour, alpha, origin = fish_layer(fish, params.scale, params.skin)
    layer_to_canonical = np.array([[1 / params.scale, 0, origin[0]], [0, 1 / params.scale, origin[1]]])
    layer_to_photo = params.to_photo @ np.vstack([layer_to_canonical, [0, 0, 1]])
    lit = cv2.multiply(colour, _gain_in_layer(gain, params.size, layer_to_photo, alpha.shape), scale=1 / GAIN_ONE)
    layer_height, layer_width = alpha.shape
    corners = apply_affine(layer_to_photo, [[0, 0], [layer_width, 0], [0, layer_height], [layer_width, layer_height]])
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
        start, end = (tuple(int(c) for c in to_fixed_point(size // 2 + sign * half)) for sign in (-1, 1))
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
        cv2.polylines(folds, [to_fixed_point(bezier(start, bend, end, 10))], False, shade, 1, cv2.LINE_8, SHIFT)
    folds = cv2.GaussianBlur(folds, (0, 0), 0.7)
    shading = 1 + params.tent_texture * (0.5 * blotches + folds)
    lit = shading[..., None] * cv2.resize(gain, small, interpolation=cv2.INTER_LINEAR) * hsv_to_bgr(params.tent_hsv)[0]
    return cv2.resize(cv2.convertScaleAbs(lit), (width, height), interpolation=cv2.INTER_LINEAR)


def _paint_strip(photo, strip, gain):
    """Paint the lit edge strip into the photo (a rare extra, so plain numpy on its pixels only)."""
    coverage = np.zeros(photo.shape[:2], np.uint8)
    cv2.fillPoly(coverage, [to_fixed_point(strip.polygon)], 255, cv2.LINE_AA, SHIFT)
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
        return apply_affine(params.to_photo, points).tolist()

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
