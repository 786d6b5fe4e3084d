from setuptools import find_packages, setup

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
        "opencv-python-headless>=4.10,<6",
        "numpy>=1.26,<3",
        "PyYAML>=6.0,<7",
        "absl-py>=2.1,<3",
        "scikit-learn>=1.5,<2",
        "matplotlib>=3.8,<4",
        "tqdm>=4.66,<5",
        "filelock>=3.13,<4",
        "flask>=3.0,<4",
    ],
    package_data={"lateral.gallery.review": ["templates/*.html", "static/*"]},
    extras_require={"test": ["pytest>=8,<10", "flask>=3.0,<4", "playwright>=1.40,<2"]},
)
