"""``capgo-exporter admin <resource> <action>``: the rest of the Capgo public API, by hand.

Thin over :mod:`capgo_exporter.api`: each resource module turns flags into one client call and
hands the answer to :mod:`.output`. Shared rules live in one place each: output formats
(:mod:`.output`), confirmation (:mod:`.confirm`), ``--dry-run`` (:mod:`.dryrun`), exit statuses
(:mod:`.runner`). The command line reaches them through :mod:`.parser` (``SETTINGS``,
``add_admin_commands``) and :mod:`.runner` (``run_admin``).

This module imports none of them. Importing any of them runs this module first: were the
parser imported here, it would import every resource module, whose imports of their siblings
(``from capgo_exporter.admin import charts``) would run while this package is half made.
"""
