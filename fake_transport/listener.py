"""Push-style listeners and the incoming messages they hand to a server.

A `MemoryListener` is attached to its queues by ``start()``. The broker then
calls `MemoryListener.deliver` from the publishing thread, which decodes the
JSON payload and passes it straight to the server's callback (an executor
``submit``). A batch listener (``batch_size > 1``) gathers messages on a
thread of its own, waking on each arrival, never polling.
"""

from __future__ import annotations

import collections
import logging
import threading
import time
from typing import Any, Callable

from oslo_messaging._drivers import amqp as rpc_amqp
from oslo_messaging._drivers import base
from oslo_messaging._drivers import common as rpc_common

from fake_transport import broker as broker_mod
from fake_transport import waits
from fake_transport import wire

__all__ = ['MemoryListener']

LOG = logging.getLogger(__name__)

# NOTE(listener): the rabbit driver remembers the last 16 unique ids per
# listener (amqp._MsgIdCache); a duplicate seen by another listener is
# processed again, so we keep the same window.
_DEDUP_WINDOW = 16


def _unpack_context(message: dict[str, Any]) -> dict[str, Any]:
    """Pop the packed context out of ``message``, as rabbit's listener does.

    Equal to ``amqp.unpack_context(message).to_dict()`` (the context keys
    plus ``client_timeout``), without its deep copy: the message was just
    decoded from JSON, so nobody else holds these objects.
    """
    ctxt = {key[9:]: message.pop(key) for key in
            [k for k in message if k.startswith('_context_')]}
    message.pop('_msg_id', None)
    message.pop('_reply_q', None)
    message.pop(rpc_amqp.UNIQUE_ID, None)
    ctxt['client_timeout'] = message.pop('_timeout', None)
    return ctxt


class _RpcIncoming(base.RpcIncomingMessage):
    """An RPC request; acked before dispatch, as rabbit does."""

    def __init__(self, listener: 'MemoryListener',
                 env: broker_mod.Envelope, ctxt: dict[str, Any],
                 message: dict[str, Any]) -> None:
        super().__init__(ctxt, message, env.entry.msg_id)
        self.client_timeout = env.client_timeout
        self._listener = listener
        self._env = env
        self._done = False
        self._abandoned = False

    def acknowledge(self) -> None:
        # NOTE(listener): the server calls acknowledge() then reply() in the
        # worker thread that runs the endpoint, so between the two whatever
        # that thread publishes was sent by this server.
        broker_mod.set_handling_server(self._listener.server)
        observer = waits.current()
        if observer is not None and self._env.reply_to is not None:
            observer.handling(self.msg_id, id(self._listener),
                              waits.server_capacity())

    def _handled(self) -> None:
        observer = waits.current()
        if observer is not None and self._env.reply_to is not None:
            observer.handled(self.msg_id)

    def requeue(self) -> None:
        """RPC requests are acked before dispatch: nothing to requeue."""

    def heartbeat(self) -> None:
        if self._env.reply_to is not None and not self._done:
            self._listener.broker.reply(
                self._env.entry, self._env.reply_to,
                self._listener.server or '', (None, None, False))

    def abandon(self) -> None:
        """The consumer crashed: the request is lost, no reply will go."""
        if not self._done:
            self._done = True
            self._abandoned = True
            self._handled()
            self._listener.broker.finish(self._env, 'lost')

    def reply(self, reply: Any = None, failure: Any = None) -> None:
        broker_mod.set_handling_server(None)
        if self._done:
            if self._abandoned and self._env.reply_to is not None:
                self._listener.broker.annotate(
                    self._env, 'the reply came after its server was killed '
                    'and was dropped')
            return
        self._done = True
        self._handled()
        self._listener.handled(self._env)
        broker = self._listener.broker
        if self._env.reply_to is not None:
            if failure:
                failure = rpc_common.serialize_remote_exception(failure)
            try:
                result = wire.dumps(reply, 'Reply value', 'result')
            except ValueError as exc:
                LOG.error('Reply to %s dropped: %s', self._env.entry, exc)
                broker.finish(self._env, 'lost',
                              reason=f'the reply was not sent: {exc}')
                return
            broker.reply(self._env.entry, self._env.reply_to,
                         self._listener.server or '',
                         (result, failure, True))
        broker.finish(self._env)


class _NotificationIncoming(base.IncomingMessage):
    """A notification; acked or requeued after dispatch."""

    def __init__(self, listener: 'MemoryListener',
                 env: broker_mod.Envelope, ctxt: dict[str, Any],
                 message: dict[str, Any]) -> None:
        super().__init__(ctxt, message, env.entry.msg_id)
        self._listener = listener
        self._env = env
        self._done = False

    def acknowledge(self) -> None:
        if not self._done:
            self._done = True
            self._listener.handled(self._env)
            self._listener.remember(self._env.unique_id)
            self._listener.broker.finish(self._env)

    def requeue(self) -> None:
        if not self._done:
            self._done = True
            self._listener.handled(self._env)
            self._listener.broker.requeue(self._env)

    def abandon(self) -> None:
        """The consumer crashed before acking: the broker redelivers."""
        if not self._done:
            self._done = True
            self._listener.broker.requeue(self._env)


class MemoryListener(base.Listener):
    """A listener attached to queues of one `Broker`.

    :param subscriptions: ``(queue, exchange, routing_key)`` triples; queues
        are declared and bound at once, so messages sent after ``listen()``
        returns wait for ``start()``.
    :param exclusive: queues deleted at ``cleanup()`` (fanout queues).
    :param server: the server name, for ``take_down()`` and partitions.
    :param rpc: RPC requests (acked before dispatch) or notifications.
    """

    def __init__(self, broker: broker_mod.Broker,
                 subscriptions: list[tuple[str, str, str]],
                 batch_size: int, batch_timeout: float | None, *,
                 server: str | None, rpc: bool,
                 exclusive: tuple[str, ...] = (),
                 on_cleanup: Callable[['MemoryListener'], None] | None = None,
                 ) -> None:
        super().__init__(batch_size, batch_timeout)
        self.broker = broker
        self.server = server
        self._rpc = rpc
        self._queues = list(dict.fromkeys(q for q, _, _ in subscriptions))
        self._exclusive = exclusive
        self._on_cleanup = on_cleanup
        self._state = 'new'
        self._lock = threading.Lock()
        self._quiet = threading.Condition(self._lock)
        self._active = 0
        self._seen: collections.deque[str] = collections.deque(
            maxlen=_DEDUP_WINDOW)
        self._batch: list[tuple[broker_mod.Envelope, Any]] = []
        self._handling: dict[broker_mod.Envelope, Any] = {}
        self._batcher: threading.Thread | None = None
        for queue, exchange, key in subscriptions:
            broker.declare(queue, exchange, key,
                           exclusive=queue in exclusive)

    def __repr__(self) -> str:
        kind = 'rpc' if self._rpc else 'notification'
        return (f'<MemoryListener {kind} server={self.server!r} '
                f'queues={self._queues!r} {self._state}>')

    @property
    def running(self) -> bool:
        return self._state == 'started'

    def start(self, on_incoming_callback: Callable[[list[Any]], Any]) -> None:
        with self._lock:
            if self._state == 'closed':
                raise RuntimeError(
                    'This memory:// listener was cleaned up; ask the '
                    'transport for a new one')
            if self._state != 'new':
                raise RuntimeError(
                    'This memory:// listener was already started; a '
                    'listener starts once')
            super().start(on_incoming_callback)
            self._state = 'started'
        if self.batch_size > 1:
            self._batcher = threading.Thread(
                target=self._run_batches, daemon=True,
                name=f'fake-transport-batch-{self._queues[0]}')
            self._batcher.start()
        self.broker.register_listener(self)
        for queue in self._queues:
            self.broker.attach(queue, self)

    def deliver(self, env: broker_mod.Envelope) -> bool:
        """Take ``env`` from the broker; False if no longer listening."""
        with self._lock:
            if self._state != 'started':
                return False
            self._active += 1
        try:
            if env.unique_id in self._seen:
                self.broker.finish(env, 'duplicate')
                return True
            if self._rpc:
                self.remember(env.unique_id)
            message = wire.loads(env.payload)
            if isinstance(message, dict) and \
                    rpc_common._VERSION_KEY in message:
                message = rpc_common.deserialize_msg(message)
            ctxt = _unpack_context(message)
            self.broker.handles.restore(ctxt)
            incoming_cls = _RpcIncoming if self._rpc else \
                _NotificationIncoming
            incoming = incoming_cls(self, env, ctxt, message)
            with self._lock:
                self._handling[env] = incoming
            observer = waits.current()
            if observer is not None and self._rpc and \
                    env.reply_to is not None:
                entry = env.entry
                observer.queued(
                    entry.msg_id, f'#{entry.seq} call {entry.topic}.'
                    f'{entry.method}', self.server or self._queues[0],
                    id(self))
            if self._batcher is not None:
                with self._lock:
                    self._batch.append((env, incoming))
                    self._quiet.notify_all()
                return True
            callback = self.on_incoming_callback
            if callback is None:
                return False
            try:
                callback([incoming])
            except Exception:
                LOG.exception('memory:// listener %r failed to take %s',
                              self, env.entry)
                self.broker.finish(env, 'lost')
            return True
        finally:
            with self._lock:
                self._active -= 1
                if self._active == 0:
                    self._quiet.notify_all()

    def handled(self, env: broker_mod.Envelope) -> None:
        """Note that the server is done with ``env``."""
        with self._lock:
            self._handling.pop(env, None)

    def remember(self, unique_id: str) -> None:
        """Note ``unique_id`` as seen: a later copy is a duplicate.

        RPC requests are noted on receipt, notifications on ack, so a
        requeued notification is delivered again (rabbit's rule).
        """
        self._seen.append(unique_id)

    def _run_batches(self) -> None:
        while True:
            with self._lock:
                self._quiet.wait_for(
                    lambda: self._batch or self._state != 'started')
                if self._state != 'started':
                    return
                if self.batch_timeout:
                    deadline = time.monotonic() + self.batch_timeout
                    while (len(self._batch) < self.batch_size and
                           self._state == 'started'):
                        left = deadline - time.monotonic()
                        if left <= 0:
                            break
                        self._quiet.wait(left)
                batch = self._batch[:self.batch_size]
                del self._batch[:self.batch_size]
                callback = self.on_incoming_callback
            if callback is not None and batch:
                try:
                    callback([incoming for _, incoming in batch])
                except Exception:
                    LOG.exception('memory:// batch listener %r failed', self)
                    for env, _ in batch:
                        self.broker.finish(env, 'lost')

    def stop(self) -> None:
        """Stop taking messages; waits for deliveries under way.

        Messages gathered for a batch and not handed over go back to their
        queue.
        """
        self._halt(kill=False)

    def kill(self) -> None:
        """Stop abruptly, as a consumer whose process died.

        Messages being handled are settled as the broker would settle them
        for a dead consumer: RPC requests (acked before dispatch) are lost
        and their callers get no reply; notifications (not yet acked) go
        back to their queue. Handlers already running are not interrupted,
        but whatever they reply or ack afterwards is ignored.
        """
        self._halt(kill=True)

    def _halt(self, kill: bool) -> None:
        with self._lock:
            if self._state != 'started':
                if self._state == 'new':
                    self._state = 'stopped'
                return
            self._state = 'stopping'
        for queue in self._queues:
            self.broker.detach(queue, self)
        with self._lock:
            self._quiet.notify_all()
            self._quiet.wait_for(lambda: self._active == 0)
            batch, self._batch = self._batch, []
            if kill:
                abandoned, self._handling = list(self._handling.values()), {}
            else:
                abandoned = []
                for env, _ in batch:
                    self._handling.pop(env, None)
            self._state = 'stopped'
        if self._batcher is not None:
            self._batcher.join()
        for incoming in abandoned:
            incoming.abandon()
        if not kill:
            for env, _ in batch:
                self.broker.give_back(env)
        self.broker.unregister_listener(self)
        super().stop()

    def cleanup(self) -> None:
        """Stop, delete this listener's exclusive (fanout) queues."""
        self.stop()
        with self._lock:
            if self._state == 'closed':
                return
            self._state = 'closed'
        for queue in self._exclusive:
            self.broker.delete_queue(queue)
        if self._on_cleanup is not None:
            self._on_cleanup(self)
