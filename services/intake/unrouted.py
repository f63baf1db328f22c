"""Messages for stations that had no queue yet wait in ``intake.unrouted``; this sends them on.

``replay`` republishes each message waiting there (as many as were waiting when it began) to
``lianxin.intake`` with its own routing key, then acks it: a station that now has a queue gets
it, and one that still has none sends it back to the end of ``intake.unrouted`` through the
alternate exchange. Publish is confirmed before the ack, so nothing is lost on the way.
"""

from __future__ import annotations

from kombu import Connection

from services.kernel import topology


def replay(amqp_uri: str, publisher) -> dict:
    delivered = 0
    with Connection(amqp_uri) as conn:
        queue = topology.unrouted_queue()(conn.default_channel)
        waiting = queue.queue_declare(passive=True).message_count
        for _ in range(waiting):
            message = queue.get(no_ack=False)
            if message is None:
                break
            props = message.properties or {}
            publisher.publish(
                message.body,
                exchange=topology.INTAKE_EXCHANGE.name,
                routing_key=message.delivery_info["routing_key"],
                headers=dict(message.headers or {}),
                message_id=props.get("message_id"),
                content_type=message.content_type or "application/json",
            )
            message.ack()
            delivered += 1
    return {"replayed": delivered}


def peek(amqp_uri: str, limit: int = 100) -> dict:
    """What waits in ``intake.unrouted``: the count and the first ``limit`` messages' routing
    keys and ids (never their bodies, which may carry a citizen's name and phone).

    Messages are taken unacknowledged and given back when the channel closes, so they stay
    where they were; nothing is removed.
    """
    with Connection(amqp_uri) as conn:
        channel = conn.channel()
        try:
            queue = topology.unrouted_queue()(channel)
            waiting = queue.queue_declare(passive=True).message_count
            seen = []
            for _ in range(min(waiting, limit)):
                message = queue.get(no_ack=False)
                if message is None:
                    break
                props = message.properties or {}
                key = message.delivery_info["routing_key"]
                seen.append(
                    {
                        "routing_key": key,
                        "station": key.removeprefix("station."),
                        "message_id": props.get("message_id"),
                        "bytes": len(message.body or b""),
                    }
                )
        finally:
            channel.close()  # gives every unacknowledged message back to the queue
    by_station: dict[str, int] = {}
    for m in seen:
        by_station[m["station"]] = by_station.get(m["station"], 0) + 1
    return {"waiting": waiting, "shown": len(seen), "by_station": by_station, "messages": seen}
