"""Every HTTP route of the four services, found in the code (not listed by hand): the access,
scope and input tests walk these, so a new endpoint is tested the day it is written."""

import re

from nameko.web.handlers import HttpRequestHandler

from services.intake.service import IntakeService
from services.registry.service import RegistryService
from services.reporting.service import ReportingService
from services.routing.service import RoutingService

SERVICE_CLASSES = {
    "registry": RegistryService,
    "intake": IntakeService,
    "routing": RoutingService,
    "reporting": ReportingService,
}
PARAM = re.compile(r"<(?:([^:>]+):)?([^>]+)>")


def routes(cls):
    """``(method, rule, function)`` of every ``@http`` entrypoint of a service class."""
    found = []
    for name in dir(cls):
        fn = getattr(cls, name)
        for entrypoint in getattr(fn, "nameko_entrypoints", ()):
            if isinstance(entrypoint, HttpRequestHandler):
                for method in entrypoint.method.split(","):
                    found.append((method.strip(), entrypoint.url, fn))
    return found


def all_routes():
    """``(service, method, rule, function)`` of every route of every service, in a stable order."""
    return sorted(
        (
            (service, m, rule, fn)
            for service, cls in SERVICE_CLASSES.items()
            for m, rule, fn in routes(cls)
        ),
        key=lambda r: r[:3],
    )


def concrete(rule: str, values: dict | None = None) -> str:
    """A path the rule matches: ``values[name]`` where given, else the first choice of
    ``any(…)``, 1 for ints, ``json`` for a format, a made-up code."""
    values = values or {}

    def fill(match):
        converter, name = match.group(1) or "", match.group(2)
        if name in values:
            return str(values[name])
        if converter.startswith("any("):
            return converter[4:].split(",")[0].strip()
        if converter == "int":
            return "1"
        return "json" if name == "fmt" else "x1"

    return PARAM.sub(fill, rule)


def parameters(rule: str) -> list[tuple[str, str]]:
    """``(converter, name)`` of each part of the rule that varies."""
    return [(m.group(1) or "", m.group(2)) for m in PARAM.finditer(rule)]
