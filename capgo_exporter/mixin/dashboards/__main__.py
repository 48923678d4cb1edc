"""python -m capgo_exporter.mixin.dashboards"""

from capgo_exporter.mixin.dashboards import main

raise SystemExit(main())
