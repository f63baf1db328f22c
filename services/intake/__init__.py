"""Intake (受理): every channel's submissions become issues with a tracking number."""
