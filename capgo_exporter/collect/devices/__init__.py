"""The devices collector and the device index it keeps.

- `collector`: the collector the registry builds (``build``, ``probes``), walking each app's
  devices into the index and turning its summaries into samples;
- `index`: `DeviceIndex`, what was walked, in SQLite: the one entry point to its parts, the
  tables (`schema`), the profiles (`profiles`), the row store (`rows`), the apps and their
  sync generations (`generations`) and the summaries (`summaries`);
- `tally`, `columns`, `aggregates`: counting an app's devices page by page, a page's columns
  as the index stores them, and the aggregates the metrics show;
- `page_size`: the page size this Capgo answers whole, learnt and remembered;
- `corrupt_copies`: unreadable index files set aside.

This module imports nothing: importing one of them does not load the others.
"""
