"""``capgo-exporter admin <resource> <action>``: the rest of the Capgo public API, by hand.

Thin over :mod:`capgo_exporter.api`: each resource module turns flags into one client call and
hands the answer to :mod:`.output`. Shared rules live in one place each: output formats
(:mod:`.output`), confirmation (:mod:`.confirm`), ``--dry-run`` (:mod:`.dryrun`), exit statuses
(:mod:`.runner`).
"""

from capgo_exporter.admin.parser import SETTINGS, add_admin_commands
from capgo_exporter.admin.runner import run_admin

__all__ = ["SETTINGS", "add_admin_commands", "run_admin"]
