"""A tiny keyed gallery (6 fish, session 1) and a review of 8 session-2 photos: 4 of a known fish, 4 of a stranger.

Built once (enrolling and loading the model are the slow part); each test gets the gallery file as it was
built and a workspace with no decisions of its own.
"""

import shutil

import pytest

from lateral.gallery import commands
from lateral.gallery.review.workspace import ReviewWorkspace
from lateral.gallery.search import given_thresholds
from tests.gallery.test_commands import KNOWN

KEY = "north pond secret"
THRESHOLDS = (0.99, 0.6)
NEW_PHOTOS = ["fish_000", "fish_007"]


@pytest.fixture(scope="session")
def built_review(prepared_synthetic, iom_run, tmp_path_factory):
    root = tmp_path_factory.mktemp("review")
    raw = root / "raw"
    shutil.copytree(prepared_synthetic.parent / "raw", raw)
    for fish in KNOWN:
        shutil.copytree(raw / "session_1" / fish, root / "known" / "session_1" / fish)
    gallery_path = root / "pond.lgal"
    commands.enroll(gallery_path, root / "known", model=iom_run[0] / "checkpoints" / "tiny_iom", key=KEY)
    inputs = [raw / "session_2" / fish for fish in NEW_PHOTOS]
    workspace = ReviewWorkspace(gallery_path, inputs, given_thresholds(*THRESHOLDS), key=KEY, session="session_2")
    return gallery_path, inputs, workspace, gallery_path.read_bytes()


@pytest.fixture
def review_setup(built_review):
    """(gallery path, new photo folders, workspace), the gallery as enrolled and no decisions in this session."""
    gallery_path, inputs, workspace, enrolled = built_review
    gallery_path.write_bytes(enrolled)
    workspace.undo_stack.clear()
    workspace.match_lines = None
    workspace._stamp = workspace._gallery = None
    return gallery_path, inputs, workspace
