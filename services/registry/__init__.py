"""Registry (委员信息库): sectors, stations, members and memberships; the source of truth."""
