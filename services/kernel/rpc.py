"""``@rpc``: nameko's RPC entrypoint, with its request queue a quorum queue.

nameko declares ``rpc-<service>`` as a classic durable queue, which lives on one broker node:
when that node is lost the queue is unreachable and every call to the service fails until the
node is back (the cluster test showed it: ``NO_ROUTE`` on ``routing.case_status``). Declared as
a quorum queue (``x-queue-type: quorum``, like every other queue of ours) it is replicated on
the cluster's nodes and keeps answering when one is lost. Every service imports ``rpc`` from
here, never from nameko, so that one process never declares the queue two ways.

A classic ``rpc-<service>`` left by an older release is replaced at start
(``topology.ensure_quorum_queue``): requests waiting in it at that moment time out at their
callers, as they would have had the service been down.
"""

from __future__ import annotations

from kombu import Queue
from nameko.rpc import RPC_QUEUE_TEMPLATE, Rpc, RpcConsumer, get_rpc_exchange

from services.kernel import topology


class ReplicatedRpcConsumer(RpcConsumer):
    def setup(self):
        if self.queue is None:
            service = self.container.service_name
            name = RPC_QUEUE_TEMPLATE.format(service)
            topology.ensure_quorum_queue(self.container.config["AMQP_URI"], name)
            self.queue = Queue(
                name,
                exchange=get_rpc_exchange(self.container.config),
                routing_key=f"{service}.*",
                durable=True,
                queue_arguments=topology.QUORUM,
            )
            self.queue_consumer.register_provider(self)
            self._registered = True


class ReplicatedRpc(Rpc):
    rpc_consumer = ReplicatedRpcConsumer()


rpc = ReplicatedRpc.decorator
