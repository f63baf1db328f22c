"""nameko's RPC queue is declared as a quorum queue (services/kernel/rpc.py), and a classic one
left by an older release is replaced by one, on the real broker (issue 22)."""

from urllib.parse import quote

import requests
from kombu import Connection

from services.kernel import topology
from tests.conftest import AUTH, RABBIT_MGMT, create_vhost, delete_vhost


def queue_type(vhost: str, name: str) -> str:
    r = requests.get(
        f"{RABBIT_MGMT}/api/queues/{quote(vhost, safe='')}/{name}", auth=AUTH, timeout=10
    )
    r.raise_for_status()
    return r.json()["type"]


def test_a_classic_rpc_queue_becomes_a_quorum_queue():
    vhost, uri = create_vhost()
    try:
        with Connection(uri) as conn:  # as nameko declared it before
            conn.channel().queue_declare("rpc-oldservice", durable=True, auto_delete=False)
        assert queue_type(vhost, "rpc-oldservice") == "classic"
        topology.ensure_quorum_queue(uri, "rpc-oldservice")
        assert queue_type(vhost, "rpc-oldservice") == "quorum"
        topology.ensure_quorum_queue(uri, "rpc-oldservice")  # again: nothing to change
        topology.ensure_quorum_queue(uri, "rpc-newservice")  # none yet: declared as quorum
        assert queue_type(vhost, "rpc-newservice") == "quorum"
    finally:
        delete_vhost(vhost)
