"""Deployment configuration: one YAML file per deployment, environment variables override.

A value written ``${NAME:default}`` in the YAML takes the environment variable ``NAME`` when it
is set, else ``default`` (nameko's own syntax, so ``nameko show-config`` reads the same files).
Every key a service reads is in ``deploy/config/local.yaml``, documented there.
"""

from __future__ import annotations

import copy
import os
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
