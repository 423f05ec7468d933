"""The oslo.messaging driver registered as ``memory``.

Installed, the package registers ``memory = fake_transport.driver:
MemoryDriver`` under ``oslo.messaging.drivers``, so ``memory://`` and
``memory://<bus>/`` work wherever a transport URL is accepted. Each bus is a
`fake_transport.broker.Broker` from `fake_transport.registry`.
"""

from __future__ import annotations

import itertools
import json
import queue
import threading
import time
import uuid
from typing import Any, Callable

import oslo_messaging
from oslo_messaging._drivers import amqp as rpc_amqp
from oslo_messaging._drivers import base
from oslo_messaging._drivers import common as rpc_common
from oslo_messaging import exceptions

from fake_transport import broker as broker_mod
from fake_transport import faults
from fake_transport import journal
from fake_transport import listener as listener_mod
from fake_transport import registry
from fake_transport import waits
from fake_transport import wire

__all__ = ['MemoryDriver']


_ID_PREFIX = uuid.uuid4().hex[:16]
_id_counter = itertools.count()


def _next_id() -> str:
    """Return an id unique in this process: a random prefix and a counter.

    Cheaper than a ``uuid4()`` per message, and as unique on one bus.
    """
    # NOTE(driver): any number of threads send at once. next() on an
    # itertools.count is one C call, atomic under the GIL, so no lock is
    # needed; a generator shared by threads is not: two next() at once
    # raise "ValueError: generator already executing".
    return f'{_ID_PREFIX}{next(_id_counter):016x}'


def reset_ids(prefix: str) -> Callable[[], None]:
    """Number message ids from 0 after ``prefix`` (a schedule makes them
    the same in every run of a seed); returns a function that puts the
    process's prefix and count back."""
    global _ID_PREFIX, _id_counter
    saved = (_ID_PREFIX, _id_counter)
    _ID_PREFIX, _id_counter = prefix, itertools.count()

    def restore() -> None:
        global _ID_PREFIX, _id_counter
        _ID_PREFIX, _id_counter = saved

    return restore


# NOTE(driver): what `_ReplyWaiter.end` puts in the queue in place of a
# reply.
_ENDED = object()


class _ReplyWaiter:
    """Where one call's replies and heartbeats arrive.

    Whether a reply reached the caller or the caller had given up is
    decided once, under the waiter's lock, and the reply's journal entry
    says so: ``'delivered'`` only for a reply the caller then reads.
    """

    def __init__(self) -> None:
        # NOTE(driver): looked up at call time, so a clock fixture that
        # swaps queue.SimpleQueue for an instrumented one reaches it.
        self._queue: Any = queue.SimpleQueue()
        self._lock = threading.Lock()
        self._state = 'waiting'
        self._ended_because = ''

    def end(self, reason: str) -> bool:
        """End the caller's wait now with ``MessagingTimeout`` (``reason``
        in its message), if it still waits; later replies find it gone.

        :returns: whether the caller was waiting.
        """
        with self._lock:
            if self._state != 'waiting':
                return False
            self._state = 'gone'
            self._ended_because = reason
            self._queue.put(_ENDED)
            return True

    def put(self, reply: tuple[Any, Any, bool],
            entry: journal.JournalEntry) -> None:
        """Hand ``reply`` to the caller if it still waits for one.

        Sets ``entry.outcome``: ``'delivered'``, ``'caller-timed-out'`` or
        ``'caller-gone'`` (the caller has its answer, or stopped waiting
        for another reason).
        """
        with self._lock:
            if self._state == 'waiting':
                entry.outcome = 'delivered'
                self._queue.put(reply)
                if reply[2]:
                    # NOTE(driver): the caller returns with the first
                    # answer; it never reads a second one (a duplicate).
                    self._state = 'answered'
            elif self._state == 'timed-out':
                entry.outcome = 'caller-timed-out'
            else:
                entry.outcome = 'caller-gone'

    def _give_up(self) -> tuple[Any, Any, bool] | None:
        """Give up waiting, unless a reply landed as the wait ran out.

        :returns: that reply, which the caller must read; None once the
            caller has given up (later replies are ``'caller-timed-out'``).
        """
        with self._lock:
            try:
                reply: tuple[Any, Any, bool] = self._queue.get(block=False)
            except queue.Empty:
                self._state = 'timed-out'
                return None
            return reply

    def leave(self) -> None:
        """The caller stopped waiting (later replies find it gone)."""
        with self._lock:
            if self._state == 'waiting':
                self._state = 'gone'

    def wait(self, msg_id: str, topic: str, timeout: float | None,
             call_monitor_timeout: float | None) -> tuple[Any, Any]:
        now = time.monotonic()
        deadline = now + timeout if timeout is not None else None
        cm_deadline = (now + call_monitor_timeout
                       if call_monitor_timeout else None)
        try:
            while True:
                ends = [d for d in (deadline, cm_deadline) if d is not None]
                left = min(ends) - time.monotonic() if ends else None
                try:
                    if left is not None and left <= 0:
                        raise queue.Empty
                    reply = self._queue.get(timeout=left)
                except queue.Empty:
                    landed = self._give_up()
                    if landed is None:
                        waited = timeout if cm_deadline is None or (
                            deadline is not None and deadline <= cm_deadline
                        ) else call_monitor_timeout
                        raise exceptions.MessagingTimeout(
                            f"Timed out waiting for a reply to message ID "
                            f"{msg_id} on topic {topic!r} after {waited} s")
                    reply = landed
                if reply is _ENDED:
                    raise exceptions.MessagingTimeout(
                        f"Stopped waiting for a reply to message ID "
                        f"{msg_id} on topic {topic!r}: "
                        f"{self._ended_because}")
                result, failure, ending = reply
                if ending:
                    return result, failure
                if call_monitor_timeout:
                    cm_deadline = time.monotonic() + call_monitor_timeout
        finally:
            with self._lock:
                if self._state != 'timed-out':
                    self._state = 'gone'


class MemoryDriver(base.BaseDriver):
    """An in-memory driver that behaves like the rabbit driver.

    Messages, contexts and replies are JSON round-tripped (but for the
    context keys a bus passes by handle, `Broker.pass_by_handle`); endpoint
    exceptions arrive as rabbit delivers them (``RemoteError`` or
    ``<Name>_Remote``); a call's message expires after its timeout; a call
    nobody answers raises ``MessagingTimeout``.
    """

    def __init__(self, conf: Any, url: Any,
                 default_exchange: str | None = None,
                 allowed_remote_exmods: list[str] | None = None) -> None:
        super().__init__(conf, url, default_exchange, allowed_remote_exmods)
        self._home = registry.get_broker(url)
        self._current: Callable[[], broker_mod.Broker | None] | None = None
        self._origin = ''
        self._unlisted: Callable[[str, str, str], str | None] | None = None
        self._lock = threading.Lock()
        self._listeners: set[listener_mod.MemoryListener] = set()
        self._closed = False

    @property
    def broker(self) -> broker_mod.Broker:
        """The bus this transport uses now: the one its URL names, or for
        a transport that follows (`follow`), the one it follows."""
        current = self._current
        found = current() if current is not None else None
        return found if found is not None else self._home

    def follow(self, current: Callable[[], broker_mod.Broker | None],
               origin: str,
               unlisted: Callable[[str, str, str], str | None] | None = None
               ) -> None:
        """Use the bus ``current()`` returns at each send and listen.

        For transports made for ``fake:`` URLs: the ``fake:`` driver has
        one bus per process, so a transport (and its clients) that a suite
        keeps in a module global works in every later test, and its
        ``cleanup()`` only stops its listeners. A following transport does
        the same on the bus of whichever test is running (its own bus when
        ``current()`` returns None), and each message it sends on another
        bus than its own has ``origin`` in its journal entry.

        :param current: returns the bus to use now, or None.
        :param origin: where the transport came from, as the journal says
            it (``a fake: transport made in <test id>``).
        :param unlisted: called as ``unlisted(module, class, where)`` when
            an endpoint's exception reaches a caller as ``RemoteError``, as
            on rabbit, because its module is not in the transport's
            ``allowed_remote_exmods`` (``fake:`` raises the exception
            itself); ``where`` is ``<topic>.<method>``. It returns None to
            raise it as its own type (rebuilt as oslo.messaging rebuilds an
            allowed one: a ``<class>_Remote`` subclass), or a text to add to
            the ``RemoteError``'s message.
        """
        self._current = current
        self._origin = origin
        self._unlisted = unlisted

    def _origin_on(self, broker: broker_mod.Broker) -> str | None:
        return self._origin if broker is not self._home else None

    def _check_open(self) -> None:
        if self._closed:
            raise RuntimeError(
                f"This memory://{self.broker.name}/ transport was cleaned "
                f"up; create a new transport")

    def _exchange(self, target: Any) -> str:
        return target.exchange or self._default_exchange or 'openstack'

    def require_features(self, requeue: bool = False) -> None:
        """Every feature (requeue included) is supported."""

    def send(self, target: Any, ctxt: Any, message: dict[str, Any],
             wait_for_reply: bool | None = None,
             timeout: float | None = None,
             call_monitor_timeout: float | None = None,
             retry: int | None = None,
             transport_options: Any = None) -> Any:
        self._check_open()
        broker = self.broker
        # NOTE(driver): refused before anything is sent.
        faults.check_seconds('call timeout', timeout, none_ok=True)
        faults.check_seconds('call monitor timeout', call_monitor_timeout,
                             none_ok=True)
        msg = dict(message)
        msg_id = _next_id()
        waiter = None
        if wait_for_reply:
            waiter = _ReplyWaiter()
            msg.update(_msg_id=msg_id, _reply_q=f'reply_{id(waiter):x}',
                       _timeout=call_monitor_timeout)
        unique_id = _next_id()
        msg[rpc_amqp.UNIQUE_ID] = unique_id
        payload = self._encode(broker, msg, ctxt)
        if target.fanout:
            kind, exchange, key = 'fanout', f'{target.topic}_fanout', ''
        else:
            kind = 'call' if wait_for_reply else 'cast'
            exchange = self._exchange(target)
            key = (f'{target.topic}.{target.server}' if target.server
                   else target.topic)
        mandatory = bool(transport_options is not None and
                         transport_options.at_least_once)
        broker.publish(
            kind=kind, exchange=exchange, routing_key=key,
            topic=target.topic, server=target.server,
            method=message.get('method'), msg_id=msg_id,
            unique_id=unique_id, payload=payload,
            timeout=timeout if wait_for_reply else None,
            client_timeout=call_monitor_timeout, mandatory=mandatory,
            reply_to=waiter, origin=self._origin_on(broker))
        if waiter is None:
            return None
        result, failure = self._wait(waiter, msg_id, target, message,
                                     timeout, call_monitor_timeout)
        if failure:
            raise self._remote_error(failure,
                                     f'{target.topic}.{msg.get("method")}')
        return wire.loads(result)

    @staticmethod
    def _wait(waiter: _ReplyWaiter, msg_id: str, target: Any,
              message: dict[str, Any], timeout: float | None,
              call_monitor_timeout: float | None) -> tuple[Any, Any]:
        """Wait for the reply, telling the RPC wait observer (if any)."""
        observer = waits.current()
        if observer is None:
            return waiter.wait(msg_id, target.topic, timeout,
                               call_monitor_timeout)
        try:
            observer.calling(
                msg_id, f'call {target.topic}.{message.get("method")}')
            return waiter.wait(msg_id, target.topic, timeout,
                               call_monitor_timeout)
        except exceptions.MessagingTimeout as exc:
            why = observer.timed_out(msg_id)
            if why is None:
                raise
            raise exceptions.MessagingTimeout(f'{exc}: {why}') from None
        finally:
            waiter.leave()
            observer.call_ended(msg_id)

    def _remote_error(self, failure: str, where: str) -> Exception:
        """The exception a caller gets for an endpoint's ``failure``."""
        allowed = list(self._allowed_remote_exmods)
        error: Exception = rpc_common.deserialize_remote_exception(
            failure, allowed)
        unlisted = self._unlisted
        if unlisted is None or \
                type(error) is not oslo_messaging.RemoteError:
            return error
        data = json.loads(failure)
        module, name = data.get('module'), data.get('class')
        if not module or module in allowed:
            # NOTE(driver): listed, but it could not be rebuilt.
            return error
        note = unlisted(module, name, where)
        if note is None:
            error = rpc_common.deserialize_remote_exception(
                failure, allowed + [module])
        else:
            remote: Any = error
            error = oslo_messaging.RemoteError(
                remote.exc_type, f'{remote.value} {note}', remote.traceback)
        return error

    def _encode(self, broker: broker_mod.Broker, msg: dict[str, Any],
                ctxt: Any) -> str:
        context = ctxt if isinstance(ctxt, dict) else (
            ctxt.to_dict() if ctxt is not None else {})
        # NOTE(driver): the keys opted in with Broker.pass_by_handle become
        # markers first; any other key that JSON refuses is refused below,
        # with the same error as on a bus that passes nothing by handle.
        context = broker.handles.stash(context)
        rpc_amqp.pack_context(msg, context)
        try:
            return wire.dumps(msg)
        except wire.NotSerializable:
            # NOTE(driver): find out whether the context or the arguments
            # hold the culprit, so the error names it as the caller wrote it.
            wire.dumps(context, 'Context key', 'ctxt')
            plain = {k: v for k, v in msg.items()
                     if not k.startswith('_context_')}
            wire.dumps(plain.get('args', plain), 'Message argument',
                       'args' if 'args' in plain else '')
            raise

    def send_notification(self, target: Any, ctxt: Any,
                          message: dict[str, Any], version: float,
                          retry: int | None = None) -> None:
        self._check_open()
        broker = self.broker
        msg = dict(message)
        unique_id = _next_id()
        msg[rpc_amqp.UNIQUE_ID] = unique_id
        payload = self._encode(broker, msg, ctxt)
        exchange = self._exchange(target)
        broker.publish(
            kind='notification', exchange=exchange, routing_key=target.topic,
            topic=target.topic, server=None,
            method=message.get('event_type'),
            msg_id=str(message.get('message_id') or _next_id()),
            unique_id=unique_id, payload=payload,
            declare_queue=target.topic, origin=self._origin_on(broker))

    def _register(self, listener: listener_mod.MemoryListener
                  ) -> listener_mod.MemoryListener:
        with self._lock:
            self._listeners.add(listener)
        return listener

    def _forget(self, listener: listener_mod.MemoryListener) -> None:
        with self._lock:
            self._listeners.discard(listener)

    def listen(self, target: Any, batch_size: int,
               batch_timeout: float | None) -> base.Listener:
        self._check_open()
        exchange = self._exchange(target)
        fanout_queue = f'{target.topic}_fanout_{_next_id()}'
        subscriptions = [
            (target.topic, exchange, target.topic),
            (f'{target.topic}.{target.server}', exchange,
             f'{target.topic}.{target.server}'),
            (fanout_queue, f'{target.topic}_fanout', ''),
        ]
        return self._register(listener_mod.MemoryListener(
            self.broker, subscriptions, batch_size, batch_timeout,
            server=target.server, rpc=True, exclusive=(fanout_queue,),
            on_cleanup=self._forget))

    def listen_for_notifications(self, targets_and_priorities: Any,
                                 pool: str | None, batch_size: int,
                                 batch_timeout: float | None
                                 ) -> base.Listener:
        self._check_open()
        subscriptions = []
        for target, priority in targets_and_priorities:
            key = f'{target.topic}.{priority}'
            subscriptions.append(
                (pool or key, self._exchange(target), key))
        return self._register(listener_mod.MemoryListener(
            self.broker, subscriptions, batch_size, batch_timeout,
            server=pool, rpc=False, on_cleanup=self._forget))

    def cleanup(self) -> None:
        """Stop this transport's listeners; the bus itself stays. The
        transport is closed, but for one that follows (`follow`), which
        stays usable as a ``fake:`` one does."""
        with self._lock:
            self._closed = self._current is None
            listeners = list(self._listeners)
        for listener in listeners:
            listener.cleanup()
