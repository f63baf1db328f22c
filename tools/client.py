"""The project's AMQP channel client (pika): publish a submission to ``station.<code>``.

Any system that can speak AMQP 0-9-1 can do the same; docs/messages.md gives the contract.
Each publish waits for the broker's confirm, so a returned ``submission_id`` is safely queued.
A message for a station with no queue yet is kept in ``intake.unrouted``, never dropped.

    with SubmissionClient("amqp://guest:guest@127.0.0.1:5672/") as client:
        client.submit("gwm", category="property", description="楼道灯坏了两周")

Command line: ``python -m tools.client gwm property "楼道灯坏了两周"``.
"""

from __future__ import annotations

import argparse
import json
import uuid

import pika

EXCHANGE = "lianxin.intake"


class SubmissionClient:
    def __init__(self, amqp_uri: str):
        """``amqp_uri``: one broker, or the nodes of a cluster separated by ``;`` (as kombu
        takes them): the first that answers is used."""
        nodes = [pika.URLParameters(uri) for uri in amqp_uri.split(";") if uri.strip()]
        self.connection = pika.BlockingConnection(nodes)
        self.channel = self.connection.channel()
        self.channel.confirm_delivery()

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()

    def close(self) -> None:
        if self.connection.is_open:
            self.connection.close()

    def submit(
        self,
        station: str,
        *,
        category: str,
        description: str,
        channel: str = "amqp",
        submission_id: str | None = None,
        **fields,
    ) -> str:
        """Queue one submission; returns its submission id (a new UUID unless given)."""
        body = {
            "submission_id": submission_id or str(uuid.uuid4()),
            "station": station,
            "channel": channel,
            "category": category,
            "description": description,
            **fields,
        }
        self.publish_raw(
            station,
            json.dumps(body, ensure_ascii=False).encode("utf-8"),
            message_id=body["submission_id"],
        )
        return body["submission_id"]

    def publish_raw(
        self,
        station: str,
        body: bytes,
        message_id: str | None = None,
        content_type: str = "application/json",
    ) -> None:
        """Publish bytes as they are (tests use it for malformed bodies); waits for the confirm."""
        self.channel.basic_publish(
            exchange=EXCHANGE,
            routing_key=f"station.{station}",
            body=body,
            mandatory=True,
            properties=pika.BasicProperties(
                content_type=content_type, delivery_mode=2, message_id=message_id
            ),
        )


def main(argv=None) -> None:
    from services.kernel import config

    parser = argparse.ArgumentParser(description="publish one submission to a station queue")
    parser.add_argument("station")
    parser.add_argument("category")
    parser.add_argument("description")
    parser.add_argument("--amqp-uri", default=None)
    args = parser.parse_args(argv)
    with SubmissionClient(args.amqp_uri or config.load()["AMQP_URI"]) as client:
        print(client.submit(args.station, category=args.category, description=args.description))


if __name__ == "__main__":
    main()
