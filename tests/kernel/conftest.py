"""Fixtures of the kernel tests: the probe service's database on each backend."""

import pytest

from services.kernel.db import make_engine
from services.kernel.models import KernelBase
from tests.kernel import probe


@pytest.fixture
def engine(db_url):
    """An engine on an empty database with the kernel's tables and the probe's."""
    engine = make_engine(db_url)
    KernelBase.metadata.create_all(engine)
    probe.ProbeBase.metadata.create_all(engine)
    yield engine
    engine.dispose()
