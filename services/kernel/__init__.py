"""The kernel every service uses: config, database, events, outbox, inbox, topology, runner.

Each piece is written once here; a service's own modules only call it.
"""
