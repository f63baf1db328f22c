"""Reporting (统计): every event kept, and the monthly figures built from them."""
