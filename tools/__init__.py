"""Tools around the services, not part of any: ``tools.stack`` runs the whole system (``make run``),
``tools.client`` is the small pika client a channel publishes submissions with, ``tools.scenario``
replays Lanzhou's 2024 through the real channels (``make scenario``). No service imports them."""
