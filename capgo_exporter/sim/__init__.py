"""A simulated Capgo API: generated data of any size, the real routes, quirks and faults.

It follows Capgo's open-source backend: the handlers under ``supabase/functions/_backend/
public/`` (one folder per route), the middlewares and rate limits under ``_backend/utils/``
(``hono_middleware.ts``, ``rate_limit.ts``) and the roles of ``supabase/seed.sql``. Deliberate
simplifications:
- Configured keys (SimConfig.keys) are opaque strings accepted as API keys in every header the
  route's middleware reads; there are no JWTs, so `get` never appears in statistics rows.
- RBAC is checked at org and app scope; channel-scoped roles and subkeys are not modelled.
- Device-route rate limits (per device/op, per IP) are not modelled; the per-key limit is a
  token bucket (`rate_limit_per_min`), not Capgo's 2000/min sliding counter.
- GET /device with `order=` or `updated_at` builds an index sorted by updated_at (O(N log N),
  once, then after each write); default-order pages are O(page).
- Overrides posted for devices the simulator never generated are accepted and dropped.
- One public channel per app (Capgo allows one per platform).
"""

from capgo_exporter.sim.config import Knobs, SimConfig
from capgo_exporter.sim.simulator import Simulator
from capgo_exporter.sim.truth import ApiKeyTruth, AppTruth, ChannelTruth, GroundTruth, OrgTruth

__all__ = [
    "ApiKeyTruth",
    "AppTruth",
    "ChannelTruth",
    "GroundTruth",
    "Knobs",
    "OrgTruth",
    "SimConfig",
    "Simulator",
]
