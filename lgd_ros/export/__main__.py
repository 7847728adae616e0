"""``python -m lgd_ros.export``: the same as ``lgd-ros export``."""

import sys

from lgd_ros.export.cli import main

sys.exit(main())
