"""The in-memory broker behind one ``memory://`` bus.

Topology follows oslo.messaging's rabbit driver: queues are named per
bus, bound to an exchange by routing key; each queue hands its messages
round-robin to the consumers attached to it, at publish time, so two
servers of a topic split work exactly. Delivery is a
push: the publishing thread hands the message to the listener, which hands it
to its server's executor; nothing polls.

A message that reaches a queue with no consumer waits there (see
`Broker.unconsumed`); a call's message expires after its timeout, as rabbit's
per-message TTL does; a message nothing is bound to is dropped, or refused
with ``MessageUndeliverable`` when the sender asked for ``at_least_once``.
"""

from __future__ import annotations

import collections
import dataclasses
import threading
import time
import weakref
from typing import Any, Iterable, Protocol

import oslo_messaging

from fake_transport import faults
from fake_transport import handles
from fake_transport import journal

__all__ = ['Broker', 'Envelope', 'SettleTimeout', 'current_sender']


_handling = threading.local()


def current_sender() -> str:
    """Name the sender of a message published from this thread.

    The server whose handler runs in this thread, else the thread's name.
    """
    return getattr(_handling, 'server', None) or \
        threading.current_thread().name


def set_handling_server(server: str | None) -> None:
    """Mark this thread as running a handler of ``server`` (None: no more)."""
    _handling.server = server


class SettleTimeout(AssertionError):
    """`Broker.settle` ran out of time; the message lists what is in flight.
    """

    def __init__(self, broker: str, timeout: float,
                 pending: list[journal.JournalEntry]) -> None:
        self.pending = pending
        lines = '\n'.join(f'  {e}' for e in pending)
        super().__init__(
            f"memory://{broker}/ did not settle within {timeout} s; "
            f"{len(pending)} message(s) still in flight:\n{lines}")


class Consumer(Protocol):
    """What the broker needs of a listener attached to a queue."""

    server: str | None

    def deliver(self, envelope: 'Envelope') -> bool:
        """Take ``envelope``; return False to give it back."""


@dataclasses.dataclass(eq=False, slots=True)
class Envelope:
    """One copy of a message on its way through one queue."""

    entry: journal.JournalEntry
    payload: str
    unique_id: str
    expires_at: float | None = None
    client_timeout: float | None = None
    reply_to: Any = None

    def expired(self, now: float) -> bool:
        return self.expires_at is not None and now >= self.expires_at


@dataclasses.dataclass(eq=False)
class _Queue:
    name: str
    exclusive: bool = False
    messages: collections.deque[Envelope] = dataclasses.field(
        default_factory=collections.deque)
    consumers: list[Consumer] = dataclasses.field(default_factory=list)
    rr: int = 0


@dataclasses.dataclass(eq=False, slots=True)
class _Publication:
    """A message accepted from a sender and not yet routed to queues."""

    kind: str
    exchange: str
    routing_key: str
    topic: str
    server: str | None
    method: str | None
    sender: str
    msg_id: str
    unique_id: str
    payload: str
    expires_at: float | None
    client_timeout: float | None
    reply_to: Any
    origin: str | None = None


class Broker:
    """An isolated message bus: queues, bindings, a journal and faults.

    Thread-safe: any number of threads may publish while listeners attach and
    detach. One lock guards the topology; listeners run outside it.

    :ivar name: the bus name (``'cell1'`` for ``memory://cell1/``).
    :ivar journal: every message the broker was given (`Journal`).
    :ivar handles: the objects passed by handle (`pass_by_handle`).
    """

    def __init__(self, name: str) -> None:
        self.name = name
        self.journal = journal.Journal()
        self.handles = handles.HandleTable()
        self._lock = threading.Lock()
        self._idle = threading.Condition(self._lock)
        self._queues: dict[str, _Queue] = {}
        self._bindings: dict[tuple[str, str], set[str]] = {}
        self._inflight: set[Envelope] = set()
        self._delayed: dict[threading.Timer, journal.JournalEntry] = {}
        self._faults: list[faults.Fault] = []
        self._down: set[str] = set()
        self._partitions: list[tuple[frozenset[str], frozenset[str]]] = []
        self._listeners: set[Any] = set()
        self._settlers = 0
        # NOTE(broker): the reply waiters of the calls sent on this bus,
        # for `end_calls`; a waiter the caller dropped drops out.
        self._callers: weakref.WeakSet[Any] = weakref.WeakSet()

    def __repr__(self) -> str:
        return f'<Broker memory://{self.name}/>'

    # Topology -----------------------------------------------------------

    def declare(self, queue: str, exchange: str, routing_key: str,
                exclusive: bool = False) -> None:
        """Create ``queue`` if needed and bind it to ``exchange``/``key``."""
        with self._lock:
            if queue not in self._queues:
                self._queues[queue] = _Queue(queue, exclusive=exclusive)
            self._bindings.setdefault((exchange, routing_key), set()).add(
                queue)

    def delete_queue(self, queue: str) -> None:
        """Remove ``queue``, its bindings and any message it holds."""
        with self._lock:
            q = self._queues.pop(queue, None)
            for names in self._bindings.values():
                names.discard(queue)
            if q is not None:
                for env in q.messages:
                    env.entry.outcome = 'lost'

    def attach(self, queue: str, consumer: Consumer) -> None:
        """Start handing ``queue``'s messages to ``consumer``."""
        with self._lock:
            self._queues[queue].consumers.append(consumer)
            ready = self._drain_locked(self._queues[queue])
        self._hand_over(ready)

    def detach(self, queue: str, consumer: Consumer) -> None:
        """Stop handing ``queue``'s messages to ``consumer``."""
        with self._lock:
            q = self._queues.get(queue)
            if q is not None and consumer in q.consumers:
                q.consumers.remove(consumer)

    def register_listener(self, listener: Any) -> None:
        with self._lock:
            self._listeners.add(listener)

    def unregister_listener(self, listener: Any) -> None:
        with self._lock:
            self._listeners.discard(listener)

    def listeners(self) -> list[Any]:
        """Return the listeners started and not yet stopped on this bus."""
        with self._lock:
            return list(self._listeners)

    # Publishing -----------------------------------------------------------

    def publish(self, *, kind: str, exchange: str, routing_key: str,
                topic: str, server: str | None, method: str | None,
                msg_id: str, unique_id: str, payload: str,
                timeout: float | None = None,
                client_timeout: float | None = None,
                mandatory: bool = False, reply_to: Any = None,
                declare_queue: str | None = None,
                origin: str | None = None) -> None:
        """Accept a message and route it.

        :param declare_queue: a queue to declare and bind first, as the
            rabbit notifier declares ``<topic>.<priority>``.
        :param origin: where the sending transport came from, when not
            from this bus (`JournalEntry.origin`).
        :param timeout: the message's time to live (calls).
        :raises MessageUndeliverable: ``mandatory`` and nothing is bound.
        :raises MessageDeliveryFailure: a ``fail`` fault matched.
        """
        if declare_queue is not None:
            self.declare(declare_queue, exchange, routing_key)
        pub = _Publication(
            kind=kind, exchange=exchange, routing_key=routing_key,
            topic=topic, server=server, method=method,
            sender=current_sender(), msg_id=msg_id, unique_id=unique_id,
            payload=payload, client_timeout=client_timeout,
            expires_at=(time.monotonic() + timeout
                        if timeout is not None else None),
            reply_to=reply_to, origin=origin)
        if reply_to is not None:
            with self._lock:
                self._callers.add(reply_to)
        if mandatory:
            with self._lock:
                routed = self._bindings.get((exchange, routing_key))
            if not routed:
                self._record(pub, None, 'undeliverable')
                raise oslo_messaging.MessageUndeliverable(
                    None, exchange, routing_key, method)
        copies = 1
        for fault in self._matching_faults(pub):
            if fault.action == 'drop':
                self._record(pub, None, 'dropped')
                return
            if fault.action == 'fail':
                self._record(pub, None, 'failed')
                raise oslo_messaging.MessageDeliveryFailure(
                    f"fault injected: {kind} to {exchange}/{routing_key} "
                    f"failed")
            if fault.action == 'duplicate':
                copies += 1
            if fault.action == 'delay':
                self._delay(pub, fault.seconds, copies)
                return
        for _ in range(copies):
            self._route(pub)

    def _matching_faults(self, pub: _Publication) -> list[faults.Fault]:
        """Return the rules that act on ``pub``, each counted as a hit.

        A lone drop or fail rule, or the duplicate rules followed by at most
        one delay rule (`faults.choose`); for a reply, never a delay or a
        duplicate.
        """
        if not self._faults:
            return []
        with self._lock:
            rules = list(self._faults)
        probe = journal.JournalEntry(
            seq=0, kind=pub.kind, exchange=pub.exchange, topic=pub.topic,
            server=pub.server, method=pub.method, sender=pub.sender,
            msg_id=pub.msg_id)
        return faults.choose(rules, probe)

    def _record(self, pub: _Publication, queue: str | None,
                outcome: str) -> journal.JournalEntry:
        return self.journal.record(
            kind=pub.kind, exchange=pub.exchange, topic=pub.topic,
            server=pub.server, method=pub.method, sender=pub.sender,
            msg_id=pub.msg_id, queue=queue, outcome=outcome,
            origin=pub.origin)

    def _delay(self, pub: _Publication, seconds: float, copies: int) -> None:
        entry = self._record(pub, None, 'delayed')

        def fire() -> None:
            # NOTE(broker): the message stays in _delayed, so in flight for
            # settle(), until it is routed: in a queue, or handed to a
            # consumer (then in _inflight). reset() may cancel it until then.
            try:
                for _ in range(copies):
                    self._route(pub, delayed_by=timer)
            finally:
                with self._lock:
                    self._delayed.pop(timer, None)
                    self._notify_if_idle_locked()

        timer = threading.Timer(seconds, fire)
        timer.name = f'fake-transport-delay-{entry.seq}'
        timer.daemon = True
        with self._lock:
            self._delayed[timer] = entry
        timer.start()

    def _route(self, pub: _Publication,
               delayed_by: threading.Timer | None = None) -> None:
        """Put a copy of ``pub`` in each bound queue and hand them over.

        :param delayed_by: the timer of a delay fault holding ``pub``; if
            `reset` dropped it meanwhile, ``pub`` goes nowhere.
        """
        with self._lock:
            if delayed_by is not None and delayed_by not in self._delayed:
                return
            names = self._bindings.get((pub.exchange, pub.routing_key))
            ready: list[tuple[Consumer, Envelope]] = []
            if not names:
                unroutable = True
            else:
                unroutable = False
                for name in sorted(names):
                    env = Envelope(
                        entry=self._record(pub, name, 'queued'),
                        payload=pub.payload, unique_id=pub.unique_id,
                        expires_at=pub.expires_at,
                        client_timeout=pub.client_timeout,
                        reply_to=pub.reply_to)
                    q = self._queues[name]
                    q.messages.append(env)
                    ready.extend(self._drain_locked(q))
        if unroutable:
            self._record(pub, None, 'unroutable')
        self._hand_over(ready)

    def _available(self, consumer: Consumer, env: Envelope) -> bool:
        server = consumer.server
        if server is not None and server in self._down:
            return False
        sender = env.entry.sender
        for group_a, group_b in self._partitions:
            if (sender in group_a and server in group_b) or (
                    sender in group_b and server in group_a):
                return False
        return True

    def _drain_locked(self, q: _Queue, skip: Iterable[Consumer] = ()
                      ) -> list[tuple[Consumer, Envelope]]:
        """Assign the queue's deliverable messages to its consumers.

        :param skip: consumers not to offer anything (they just refused).
        """
        if not q.consumers or not q.messages:
            return []
        ready = []
        kept: collections.deque[Envelope] = collections.deque()
        now = time.monotonic()
        while q.messages:
            env = q.messages.popleft()
            if env.expired(now):
                env.entry.outcome = 'expired'
                continue
            count = len(q.consumers)
            for i in range(count):
                consumer = q.consumers[(q.rr + i) % count]
                if consumer not in skip and self._available(consumer, env):
                    q.rr = (q.rr + i + 1) % count
                    env.entry.outcome = 'delivered'
                    self._inflight.add(env)
                    ready.append((consumer, env))
                    break
            else:
                kept.append(env)
        q.messages = kept
        return ready

    def _hand_over(self, ready: list[tuple[Consumer, Envelope]]) -> None:
        """Hand each message to its consumer, outside the lock.

        A consumer may refuse (a listener being stopped, still attached):
        the message goes back to its queue, in order, and the queue drains
        again to every consumer but those that refused during this hand
        over. So this is a loop, never a recursion, and a message only
        refusing consumers could take waits in its queue for the next drain
        (a publish, an attach, `bring_up`, `heal`).
        """
        pending = collections.deque(ready)
        refused: list[Consumer] = []
        while pending:
            consumer, env = pending.popleft()
            if consumer.deliver(env):
                continue
            if consumer not in refused:
                refused.append(consumer)
            with self._lock:
                self._inflight.discard(env)
                q = self._queues.get(env.entry.queue or '')
                if q is None:
                    env.entry.outcome = 'lost'
                else:
                    env.entry.outcome = 'queued'
                    self._put_back_locked(q, env)
                    pending.extend(self._drain_locked(q, skip=refused))
                self._notify_if_idle_locked()

    @staticmethod
    def _put_back_locked(q: _Queue, env: Envelope) -> None:
        """Return ``env`` to the head of ``q``, before any later message.

        Several messages refused in one hand over keep their order.
        """
        seq = env.entry.seq
        at = 0
        for waiting in q.messages:
            if waiting.entry.seq > seq:
                break
            at += 1
        q.messages.insert(at, env)

    # What listeners report back --------------------------------------------

    def finish(self, env: Envelope, outcome: str = 'handled',
               reason: str | None = None) -> None:
        """Mark ``env`` done (handled, acked, lost or a duplicate), and why.
        """
        with self._lock:
            if reason is not None:
                env.entry.reason = reason
            env.entry.outcome = outcome
            self._inflight.discard(env)
            self._notify_if_idle_locked()

    def annotate(self, env: Envelope, reason: str) -> None:
        """Say why ``env`` ended as it did, after it ended."""
        with self._lock:
            env.entry.reason = reason

    def give_back(self, env: Envelope) -> None:
        """Put an undelivered ``env`` back at the head of its queue."""
        self._return(env, env.entry.outcome, front=True)

    def requeue(self, env: Envelope) -> None:
        """Return a consumed ``env`` to its queue for another delivery."""
        self._return(env, 'requeued', front=False)

    def _return(self, env: Envelope, outcome: str, front: bool) -> None:
        with self._lock:
            self._inflight.discard(env)
            old = env.entry
            q = self._queues.get(old.queue or '')
            if q is None:
                old.outcome = 'lost'
                self._notify_if_idle_locked()
                return
            old.outcome = outcome
            if outcome == 'requeued':
                env.entry = self.journal.record(
                    kind=old.kind, exchange=old.exchange, topic=old.topic,
                    server=old.server, method=old.method, sender=old.sender,
                    msg_id=old.msg_id, queue=old.queue, outcome='queued')
            else:
                env.entry.outcome = 'queued'
            if front:
                self._put_back_locked(q, env)
            else:
                q.messages.append(env)
            ready = self._drain_locked(q)
            self._notify_if_idle_locked()
        self._hand_over(ready)

    def reply(self, call: journal.JournalEntry, waiter: Any, server: str,
              payload: tuple[Any, Any, bool]) -> None:
        """Send a reply (or heartbeat) for ``call`` to its ``waiter``.

        Journalled ``'dropped'`` (a fault or a partition), else as the
        waiter decides, atomically with the caller's own decision to read
        it or to give up: ``'delivered'``, ``'caller-timed-out'`` or
        ``'caller-gone'``.
        """
        entry = self.journal.record(
            kind='reply', exchange='', topic=call.topic, server=call.server,
            method=call.method, sender=server, msg_id=call.msg_id,
            queue=None, outcome='queued')
        if self._faults:
            pub = _Publication(
                kind='reply', exchange='', routing_key='', topic=call.topic,
                server=call.server, method=call.method, sender=server,
                msg_id=call.msg_id, unique_id='', payload='',
                expires_at=None, client_timeout=None, reply_to=waiter)
            for fault in self._matching_faults(pub):
                if fault.action in ('drop', 'fail'):
                    entry.outcome = 'dropped'
                    return
        if self._partitions:
            with self._lock:
                for group_a, group_b in self._partitions:
                    if (server in group_a and call.sender in group_b) or (
                            server in group_b and call.sender in group_a):
                        entry.outcome = 'dropped'
                        return
        waiter.put(payload, entry)

    # Settling and inspection -------------------------------------------------

    def _notify_if_idle_locked(self) -> None:
        if self._settlers and not self._inflight and not self._delayed:
            self._idle.notify_all()

    def settle(self, timeout: float | None = None) -> None:
        """Block until no message is being delivered, handled or delayed.

        Messages waiting in a queue nobody consumes don't count: see
        `unconsumed`. Must not be called from a message handler, which
        would wait for itself.

        :param timeout: seconds (a finite number ``>= 0``), or ``None`` to
            wait for ever.
        :raises SettleTimeout: after ``timeout`` seconds, listing what is
            still in flight.
        :raises ValueError: for any other ``timeout``.
        """
        timeout = faults.check_seconds('settle() timeout', timeout,
                                       none_ok=True)
        if getattr(_handling, 'server', None):
            raise RuntimeError(
                "settle() called from a message handler would wait for "
                "itself; call it from the test thread")
        with self._lock:
            self._settlers += 1
            try:
                done = self._idle.wait_for(
                    lambda: not self._inflight and not self._delayed,
                    timeout)
            finally:
                self._settlers -= 1
            if not done:
                pending = sorted(
                    [e.entry for e in self._inflight] +
                    list(self._delayed.values()), key=lambda e: e.seq)
                raise SettleTimeout(self.name, timeout or 0.0, pending)

    def in_flight(self) -> list[journal.JournalEntry]:
        """Return the entries being delivered, handled or delayed."""
        with self._lock:
            return sorted([e.entry for e in self._inflight] +
                          list(self._delayed.values()), key=lambda e: e.seq)

    def end_calls(self, reason: str) -> int:
        """End the wait of every caller still waiting for a reply to a call
        sent on this bus: it raises ``MessagingTimeout`` at once, with
        ``reason`` in its message. For a test that is over (it timed out):
        its handlers blocked in calls unwind rather than wait the calls'
        timeouts out. A reply that comes later finds its caller gone.

        :returns: how many callers were waiting.
        """
        with self._lock:
            callers = list(self._callers)
        return sum(1 for waiter in callers if waiter.end(reason))

    def unconsumed(self) -> list[journal.JournalEntry]:
        """Return the entries of messages waiting in queues, oldest first.

        Expired call messages are dropped first, as rabbit's TTL would.
        """
        now = time.monotonic()
        waiting = []
        with self._lock:
            for q in self._queues.values():
                for env in list(q.messages):
                    if env.expired(now):
                        env.entry.outcome = 'expired'
                        q.messages.remove(env)
                    else:
                        waiting.append(env.entry)
        return sorted(waiting, key=lambda e: e.seq)

    def queues(self) -> dict[str, int]:
        """Return each queue's name and how many messages wait in it."""
        with self._lock:
            return {name: len(q.messages) for name, q in self._queues.items()}

    # Context keys passed by handle ---------------------------------------

    def pass_by_handle(self, *keys: str) -> None:
        """Pass the values of these context keys by handle, not as JSON.

        A deliberate departure from rabbit, same-process only (see
        `fake_transport.handles`): when a message or notification sent on
        this bus has a context holding one of ``keys`` (not ``None``), the
        listener receiving it finds the very same object under that key.
        Other keys are still JSON round-tripped. Adds to the keys given
        before; `reset` forgets them all, and the objects held.

        :param keys: context keys, non-empty strings.
        :raises TypeError: for a key that is not a ``str``.
        :raises ValueError: for an empty key, or no key at all.
        """
        if not keys:
            raise ValueError('pass_by_handle() needs at least one context key')
        self.handles.add_keys(handles.check_keys('pass_by_handle()', keys))

    @property
    def handle_keys(self) -> frozenset[str]:
        """The context keys passed by handle (`pass_by_handle`)."""
        return self.handles.keys

    # Fault injection ---------------------------------------------------------

    def add_fault(self, action: str, *, seconds: float = 0.0,
                  times: int | None = None,
                  **match: str | None) -> faults.Fault:
        """Apply ``action`` to each message matching ``match``.

        :param action: ``'drop'``, ``'delay'``, ``'duplicate'`` or ``'fail'``
            (the send raises ``MessageDeliveryFailure``).
        :param seconds: the delay (``'delay'`` only): a finite number
            ``>= 0``, at most `faults.MAX_SECONDS`.
        :param times: act on this many messages at most (a whole number
            ``>= 1``), or ``None`` for no limit.
        :param match: any of ``kind`` (``'call'``, ``'cast'``,
            ``'fanout'``, ``'notification'``, ``'reply'``), ``exchange``,
            ``topic``, ``server``, ``method``, ``sender`` (strings); ``None``
            matches anything.
        :returns: the `Fault`; call its ``remove()`` to lift it.
        :raises ValueError: for a rule that could never match or act,
            naming the field and what it allows; ``delay`` and
            ``duplicate`` with ``kind='reply'`` among them.
        """
        return self._add_fault(action, seconds, times, match)

    def _add_fault(self, action: str, seconds: float, times: int | None,
                   match: dict[str, str | None]) -> faults.Fault:
        fault = faults.Fault(action, dict(match), seconds=seconds,
                             times=times, _remove=self._remove_fault)
        with self._lock:
            self._faults.append(fault)
        return fault

    def drop(self, times: int | None = None,
             **match: str | None) -> faults.Fault:
        """Drop matching messages silently."""
        return self._add_fault('drop', 0.0, times, match)

    def delay(self, seconds: float, times: int | None = None,
              **match: str | None) -> faults.Fault:
        """Hold matching messages for ``seconds`` before routing them."""
        return self._add_fault('delay', seconds, times, match)

    def duplicate(self, times: int | None = None,
                  **match: str | None) -> faults.Fault:
        """Route matching messages twice."""
        return self._add_fault('duplicate', 0.0, times, match)

    def fail(self, times: int | None = None,
             **match: str | None) -> faults.Fault:
        """Refuse matching messages: the send raises."""
        return self._add_fault('fail', 0.0, times, match)

    def _remove_fault(self, fault: faults.Fault) -> None:
        with self._lock:
            if fault in self._faults:
                self._faults.remove(fault)

    def take_down(self, server: str) -> None:
        """Stop delivering to ``server``'s listeners; messages wait.

        ``server`` may be one that has not started yet.
        """
        server = faults.check_server('take_down()', server)
        with self._lock:
            self._down.add(server)

    def bring_up(self, server: str) -> None:
        """Resume delivering to ``server``; waiting messages flow."""
        server = faults.check_server('bring_up()', server)
        with self._lock:
            self._down.discard(server)
        self._drain_all()

    def partition(self, group_a: Iterable[str],
                  group_b: Iterable[str]) -> None:
        """Cut messages and replies between two groups of servers.

        Each group is a non-empty list (any iterable but a string) of
        server or sender names, which need not have started yet.
        """
        a = faults.check_group('partition() group_a', group_a)
        b = faults.check_group('partition() group_b', group_b)
        if a & b:
            raise ValueError(
                f"a server can't be on both sides of a partition: "
                f"{', '.join(sorted(a & b))}")
        with self._lock:
            self._partitions.append((a, b))

    def heal(self) -> None:
        """Remove every partition; waiting messages flow."""
        with self._lock:
            self._partitions.clear()
        self._drain_all()

    def _drain_all(self) -> None:
        with self._lock:
            ready = []
            for q in self._queues.values():
                ready.extend(self._drain_locked(q))
        self._hand_over(ready)

    def reset(self) -> None:
        """Empty the bus: queued and delayed messages, journal, faults.

        Also forgets the context keys passed by handle and the objects
        held for them (`pass_by_handle`). Queues with a consumer stay
        (their listeners keep working); the others go. Messages being
        handled finish normally.
        """
        with self._lock:
            for timer in self._delayed:
                timer.cancel()
            self._delayed.clear()
            for name, q in list(self._queues.items()):
                q.messages.clear()
                if not q.consumers:
                    del self._queues[name]
                    for names in self._bindings.values():
                        names.discard(name)
            self._bindings = {k: v for k, v in self._bindings.items() if v}
            self._faults.clear()
            self._down.clear()
            self._partitions.clear()
            self._notify_if_idle_locked()
        self.handles.clear()
        self.journal.clear()
