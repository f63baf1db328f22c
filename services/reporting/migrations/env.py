"""Alembic environment of the reporting service: its tables and the kernel's."""

from services.kernel.migrations import run_env
from services.reporting.models import Base

run_env(Base.metadata)
