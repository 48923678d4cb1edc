"""How a setting is named. Each setting is declared once, by a `Setting` in its model field's
metadata: its flag and its help. Its other names follow from the flag by one rule:

- environment variable: ``CAPGO_EXPORTER_`` and the flag without its leading dashes, dots
  and dashes turned into underscores, upper-cased: ``--web.listen-address`` →
  ``CAPGO_EXPORTER_WEB_LISTEN_ADDRESS``, ``--capgo.requests-per-minute`` →
  ``CAPGO_EXPORTER_CAPGO_REQUESTS_PER_MINUTE``;
- TOML key: the field's name (``listen_address``), as config files have always used.

The exceptions are declared where they apply: the key settings keep the names the Capgo CLI
reads (``CAPGO_API_KEY``, ``CAPGO_API_KEY_FILE``, ``CAPGO_API_URL``, and ``CAPGO_TOKEN`` as a
last resort), so one environment serves both tools. Names a setting had before the rule are
still read, with a warning naming the new one.
"""

import re
from dataclasses import dataclass

ENV_PREFIX = "CAPGO_EXPORTER_"

# Lower-case words joined by dots (a group: web, capgo, collector.devices) and dashes.
_FLAG = re.compile(r"--[a-z0-9]+(?:[.-][a-z0-9]+)*")


def env_name(flag: str) -> str:
    """The environment variable of a flag: ``--a.b-c`` → ``CAPGO_EXPORTER_A_B_C``."""
    if not _FLAG.fullmatch(flag):
        raise ValueError(f"{flag!r} is not a flag like --group.name-in-words")
    return ENV_PREFIX + re.sub(r"[.-]", "_", flag[2:]).upper()


@dataclass(frozen=True, kw_only=True)
class Setting:
    """The declaration of a setting, in its field's metadata:
    ``Annotated[int, Field(ge=1), Setting(flag="--capgo.concurrency", help="…")]``.

    `help` is Markdown (backticks for code) and says what the setting does, in one or two
    sentences; the docs show it as it is, ``--help`` without the backticks, both followed by
    the environment variable and the default.
    """

    flag: str
    help: str
    # Only where the rule does not apply: the Capgo CLI's names for the key settings.
    env: str | None = None
    # Read when no source sets this setting or the one after it (the key file): the Capgo
    # CLI's CAPGO_TOKEN, for the key.
    fallback_env: str | None = None
    # Names read before the rule: still honoured, with a deprecation warning.
    former_env: tuple[str, ...] = ()
    # Whether a TOML file may set it (not the config file's own name).
    in_toml: bool = True

    def __post_init__(self) -> None:
        derived = env_name(self.flag)  # also checks the flag's shape
        if self.env is not None and (self.env == derived or self.env.startswith(ENV_PREFIX)):
            raise ValueError(f"{self.flag}: an explicit env name is for names outside the rule")
        if derived in self.former_env:
            raise ValueError(f"{self.flag}: {derived} is its current name, not a former one")

    @property
    def env_name(self) -> str:
        """The environment variable that sets it."""
        return self.env or env_name(self.flag)


# Variables under the prefix that are not settings, so not refused as unknown: the compose
# file's command line (deploy/compose, CAPGO_EXPORTER_ARGS), and the service links Kubernetes
# injects for a Service named capgo-exporter or capgo-exporter-* (CAPGO_EXPORTER_SERVICE_HOST,
# CAPGO_EXPORTER_PORT_10180_TCP, …) unless the pod sets enableServiceLinks: false.
_NOT_SETTINGS = re.compile(
    ENV_PREFIX
    + r"(?:ARGS|(?:[A-Z0-9_]+_)?(?:SERVICE_HOST|SERVICE_PORT(?:_[A-Z0-9_]+)?"
    + r"|PORT(?:_\d+_(?:TCP|UDP|SCTP)(?:_(?:PROTO|PORT|ADDR))?)?))"
)


def is_setting_name(name: str) -> bool:
    """Whether a variable under the prefix is meant for the exporter's settings."""
    return name.startswith(ENV_PREFIX) and not _NOT_SETTINGS.fullmatch(name)
