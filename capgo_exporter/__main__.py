"""``python -m capgo_exporter`` is ``capgo-exporter``."""

import sys

from capgo_exporter.cli import main

sys.exit(main())
