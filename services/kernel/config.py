"""Deployment configuration: one YAML file per deployment, environment variables override.

A value written ``${NAME:default}`` in the YAML takes the environment variable ``NAME`` when it
is set, else ``default`` (nameko's own syntax, so ``nameko show-config`` reads the same files).
Every key a service reads is in ``deploy/config/local.yaml``, documented there.
"""

from __future__ import annotations

import copy
import os
import zlib
from dataclasses import dataclass
from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parents[2]
DEFAULT_CONFIG_PATH = ROOT / "deploy" / "config" / "local.yaml"

_parser_ready = False


def _setup_yaml() -> None:
    global _parser_ready
    if not _parser_ready:
        from nameko.cli.main import setup_yaml_parser

        setup_yaml_parser()
        _parser_ready = True


def config_path(path: str | Path | None = None) -> Path:
    """The deployment file: ``path``, else ``$LIANXIN_CONFIG``, else local.yaml."""
    return Path(path or os.environ.get("LIANXIN_CONFIG") or DEFAULT_CONFIG_PATH)


def load(path: str | Path | None = None) -> dict:
    """Read a deployment file, resolving ``${ENV:default}`` against the environment now."""
    _setup_yaml()
    with open(config_path(path), encoding="utf-8") as f:
        return yaml.safe_load(f)


def service_names(config: dict) -> tuple[str, ...]:
    """The services a deployment runs: the sections under ``services:``, in the file's order."""
    return tuple(config.get("services") or ())


def service_config(config: dict, service: str) -> dict:
    """The nameko config of one service: the shared keys plus its own section, flattened.

    nameko's extensions read ``AMQP_URI``, ``WEB_SERVER_ADDRESS`` and ``max_workers``; ours read
    ``SERVICE_NAME``, ``DB_URL`` and the service section under ``SERVICE``.
    """
    if service not in config.get("services", {}):
        raise KeyError(f"no section services.{service} in the deployment config")
    own = config["services"][service]
    flat = {k: copy.deepcopy(v) for k, v in config.items() if k != "services"}
    flat["SERVICE_NAME"] = service
    flat["SERVICE"] = copy.deepcopy(own)
    flat["DB_URL"] = own["db_url"]
    flat["WEB_SERVER_ADDRESS"] = f"{config.get('http_host', '127.0.0.1')}:{own['port']}"
    flat["max_workers"] = own.get("max_workers", config.get("max_workers", 10))
    return flat


@dataclass(frozen=True)
class StationSelection:
    """Which stations an intake process serves: every one, a list, or a share of all.

    ``all``; ``gwm,jnl``; or ``shard:<i>/<n>``: the stations whose code hashes (CRC-32) to
    ``i`` modulo ``n``, so ``n`` processes with ``shard:0/n`` … ``shard:<n-1>/n`` split every
    station between them, stations created later included, each taken exactly once.
    """

    codes: tuple[str, ...] | None = None
    shard: tuple[int, int] | None = None

    def serves(self, code: str) -> bool:
        if self.codes is not None:
            return code in self.codes
        if self.shard is not None:
            index, count = self.shard
            return zlib.crc32(code.encode("utf-8")) % count == index
        return True


def station_selection(value) -> StationSelection:
    """Parse ``services.intake.stations`` (or ``INTAKE_STATIONS``)."""
    if value is None or (isinstance(value, str) and value.strip().lower() in ("", "all")):
        return StationSelection()
    if isinstance(value, str) and value.strip().startswith("shard:"):
        index, _, count = value.strip().removeprefix("shard:").partition("/")
        index, count = int(index), int(count)
        if not 0 <= index < count:
            raise ValueError(f"bad station shard {value!r}: want shard:<i>/<n> with 0 <= i < n")
        return StationSelection(shard=(index, count))
    if isinstance(value, str):
        value = value.split(",")
    return StationSelection(codes=tuple(sorted({str(v).strip() for v in value if str(v).strip()})))
