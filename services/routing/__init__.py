"""Routing (派单): every issue to a member who can act on it, with the reason recorded."""
