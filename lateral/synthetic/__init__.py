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

Modules, in the order a photo is made: ``fish`` (an individual: body, fins,
colours and spots, fixed by its seed), ``canonical_layer`` (the fish drawn
in its canonical pose, with one photo's look of the skin), ``photo_params``
(everything drawn per photo: pose, skin, light, camera), ``photo`` (the
composed, JPEG-degraded photo and its ground truth), ``dataset`` (a folder
of photos and ``ground_truth.jsonl``) and ``command_line``
(``python -m lateral.synthetic``):

    python -m lateral.synthetic OUT --ids 10 --sessions 2 --per_id 4
    python -m lateral.synthetic OUT --ids 10 --sessions 2 --per_id 4 \
        --palette greenish --fin_opacity 0.2,0.45 --body_share 0.3,0.45
"""

from lateral.synthetic.canonical_layer import SkinLook, fish_layer, render_canonical_flank
from lateral.synthetic.command_line import main
from lateral.synthetic.dataset import GROUND_TRUTH_FILE, individual_seed, photo_rng, render_dataset
from lateral.synthetic.fish import (
    EYE_CLEARANCE,
    FAINT_FIN,
    FLANKS,
    PALETTES,
    SPOT_REGION_START,
    Fish,
    FlankSpots,
    make_fish,
    protocol_roi,
)
from lateral.synthetic.photo import ground_truth, render_photo, render_photo_jpeg
from lateral.synthetic.photo_params import (
    BODY_LENGTH_OF_WIDTH,
    EDGE_STRIP_PROBABILITY,
    SMALL_FISH,
    EdgeStrip,
    PhotoParams,
    draw_photo_params,
)

__all__ = [
    "BODY_LENGTH_OF_WIDTH",
    "EDGE_STRIP_PROBABILITY",
    "EYE_CLEARANCE",
    "FAINT_FIN",
    "FLANKS",
    "GROUND_TRUTH_FILE",
    "PALETTES",
    "SMALL_FISH",
    "SPOT_REGION_START",
    "EdgeStrip",
    "Fish",
    "FlankSpots",
    "PhotoParams",
    "SkinLook",
    "fish_layer",  # the tests draw one photo's layer with and without its glints and droplets
    "draw_photo_params",
    "ground_truth",
    "individual_seed",
    "main",
    "make_fish",
    "photo_rng",
    "protocol_roi",
    "render_canonical_flank",
    "render_dataset",
    "render_photo",
    "render_photo_jpeg",
]
