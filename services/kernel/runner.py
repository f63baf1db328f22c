"""Run one service: ``python -m services.kernel.runner <service> [--config FILE]``.

This is how `make run`, the tests and the containers start a service: eventlet first, then
the deployment config, then nameko's own runner (SIGTERM and Ctrl-C stop it gracefully).
``python -m services.kernel.runner migrate <service>`` brings its database to head instead.
"""

import eventlet  # noqa: I001  (first, before anything imports socket or threading)

eventlet.monkey_patch()

import argparse  # noqa: E402
import importlib  # noqa: E402
import logging  # noqa: E402
import os  # noqa: E402
import re  # noqa: E402
import sys  # noqa: E402

from services.kernel import config as lx_config  # noqa: E402


def service_class(name: str):
    """The nameko class of service ``name``: by convention the class in
    ``services.<name>.service`` whose nameko ``name`` is ``name`` (the kernel names no service).
    LookupError when there is none."""
    if not re.fullmatch(r"[a-z][a-z0-9_]*", name or ""):
        raise LookupError(name)
    try:
        module = importlib.import_module(f"services.{name}.service")
    except ModuleNotFoundError as exc:
        if exc.name not in (f"services.{name}", f"services.{name}.service"):
            raise  # the service exists but something it imports does not: show that
        raise LookupError(name) from exc
    for value in vars(module).values():
        if isinstance(value, type) and value.__module__ == module.__name__:
            if getattr(value, "name", None) == name:
                return value
    raise LookupError(name)


def setup_logging(service: str) -> None:
    """JSON lines on stderr, each with the service and what the greenthread is working on.

    ``LIANXIN_LOG_LEVEL`` (default ``INFO``): ``DEBUG`` adds a line for every message handled
    (queue, message id, milliseconds), which costs about as much as handling a small event."""
    from services.kernel.logs import JsonFormatter

    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(JsonFormatter(service))
    level = os.environ.get("LIANXIN_LOG_LEVEL", "INFO").upper()
    logging.basicConfig(level=level, handlers=[handler], force=True)
    for noisy in ("amqp", "kombu", "nameko", "alembic.runtime.migration"):
        logging.getLogger(noisy).setLevel(logging.WARNING)


def settle_garbage_collector() -> None:
    """Keep Python's cycle collector from stalling the process.

    A full collection walks every object the process holds: with nameko, SQLAlchemy and the
    service's modules loaded, 50-100 ms during which no message of any queue moves (it was the
    pipeline's p99 at 100 issues/s). Everything alive once the service is imported is frozen
    out of the collector's sight (``gc.freeze``), and the youngest generation is collected every
    10,000 allocations instead of 700, so the objects of one message mostly die before they are
    promoted and full collections come rarely and find little to walk. Cycles are still
    collected; memory stays well under the services' 150 MB (``make bench``: 20,000 gave the
    same latency and a few MB more).
    """
    import gc

    gc.collect()
    gc.freeze()
    gc.set_threshold(10_000, 10, 10)


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("words", nargs="+", help="<service> | migrate <service>")
    parser.add_argument("--config", default=None, help="deployment YAML (default: local.yaml)")
    args = parser.parse_args(argv)
    config = lx_config.load(args.config)
    if args.words[0] == "migrate":
        from services.kernel.migrations import upgrade

        for name in args.words[1:] or lx_config.service_names(config):
            upgrade(name, config["services"][name]["db_url"])
        return
    name = args.words[0]
    try:
        cls = service_class(name)
    except LookupError:
        known = ", ".join(lx_config.service_names(config))
        parser.error(f"unknown service {name!r}; one of {known}")
    setup_logging(name)
    from services.kernel.auth import ConfigError, check_production

    try:
        check_production(config, name)
    except ConfigError as exc:
        sys.exit(str(exc))
    from nameko.cli.run import run

    settle_garbage_collector()
    run([cls], lx_config.service_config(config, name))


if __name__ == "__main__":
    main()
