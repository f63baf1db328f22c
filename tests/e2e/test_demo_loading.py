"""`make run`'s preparation: the full demo set goes into an empty registry, and only there."""

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from services.kernel.db import make_engine
from services.kernel.stack import Stack
from services.registry.models import Member, Station, Studio
from tests.e2e.conftest import free_ports, stack_env


def counts(url):
    engine = make_engine(url)
    try:
        with Session(engine) as s:
            return tuple(
                s.scalar(select(func.count()).select_from(m)) for m in (Station, Studio, Member)
            )
    finally:
        engine.dispose()


def prepared(tmp_path, name, demo_set="lanzhou"):
    urls = {
        s: f"sqlite:///{tmp_path}/{name}-{s}.db"
        for s in ("registry", "intake", "routing", "reporting")
    }
    env = stack_env("amqp://guest:guest@127.0.0.1:5672/", urls, free_ports(4))
    Stack(env=env, log_dir=tmp_path / "log").prepare(demo=True, demo_set=demo_set)
    return Stack(env=env, log_dir=tmp_path / "log"), urls["registry"]


def test_make_run_loads_the_full_set_into_an_empty_registry_once(tmp_path):
    stack, url = prepared(tmp_path, "full")
    assert counts(url) == (126, 133, 2200)
    stack.prepare(demo=True)  # a second start leaves the registry as the office left it
    assert counts(url) == (126, 133, 2200)


def test_a_registry_in_use_is_left_alone(tmp_path):
    stack, url = prepared(tmp_path, "small", demo_set="small")
    assert counts(url) == (5, 0, 14)
    stack.prepare(demo=True)  # the default (full) set does not go over data already there
    assert counts(url) == (5, 0, 14)
