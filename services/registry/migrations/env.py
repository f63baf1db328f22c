"""Alembic environment of the registry service: its tables and the kernel's."""

from services.kernel.migrations import run_env
from services.registry.models import Base

run_env(Base.metadata)
