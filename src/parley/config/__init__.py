"""One typed, frozen configuration, read once at start-up and passed down.

Sources, lowest precedence first: built-in defaults, a TOML config file,
``PARLEY_*`` environment variables, command-line flags. Every setting is
declared once in ``SETTINGS`` (name, env var, help) which feeds the CLI and the
docs test, as datasette does.
"""

from parley.config.load import load_settings
from parley.config.model import (
    ConfigError,
    ConfiguredKey,
    ProviderConfig,
    RecordingMode,
    Settings,
    UnknownParameters,
    WebSearchProvider,
    default_data_dir,
)
from parley.config.table import SETTINGS, Setting

__all__ = [
    "SETTINGS",
    "ConfigError",
    "ConfiguredKey",
    "ProviderConfig",
    "RecordingMode",
    "Setting",
    "Settings",
    "UnknownParameters",
    "WebSearchProvider",
    "default_data_dir",
    "load_settings",
]
