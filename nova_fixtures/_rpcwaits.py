"""The detector's side of `fake_transport.waits`: RPC edges of the
wait-for graph, reported the moment a cycle forms.

A call's wait has a timeout, so with lock edges alone a cycle through RPC
(a handler holding a lock calls a service that calls back into the first,
whose handler needs that lock; every worker of a server blocked in calls
whose requests queue for a free worker of that same server) would end in a
``MessagingTimeout`` long after it formed, naming nothing. The observer
keeps, in the bubble (`nova_fixtures._bubble.Bubble`), who waits for which
call, where each call is and who handles it, and searches for a cycle at
each event that adds an edge. With ``raise_`` the thread whose wait would
close the cycle gets `DeadlockError` (a caller about to wait, or already
waiting when its request queued at an exhausted server); else the cycle is
only reported, and the calls' ``MessagingTimeout`` names it.
"""

from __future__ import annotations

from nova_fixtures import _bubble
from nova_fixtures import _core

__all__ = ['RpcWaits']


class RpcWaits:
    """A `fake_transport.waits.Observer` feeding ``bubble``.

    :param raise_: give the thread closing a cycle `DeadlockError`.
    """

    def __init__(self, bubble: _bubble.Bubble, raise_: bool) -> None:
        self.bubble = bubble
        self.raise_ = raise_
        # NOTE(rpcwaits): msg_id -> the headline and steps of the cycle the
        # call was part of, for its MessagingTimeout.
        self.cycles: dict[str, str] = {}

    def _member(self) -> int | None:
        me = _core.get_ident()
        bubble = self.bubble
        if bubble.detect and bubble.active and me in bubble.members:
            return me
        return None

    def _found(self, chain: list[_bubble.Step]) -> _core.DeadlockError:
        """Record the cycle (mutex held); its error."""
        error = self.bubble.cycle_error(chain)
        steps = str(error).split('\n')[:len(chain) + 1]
        for _, (kind, obj), _ in chain:
            if kind in ('rpc', 'pool'):
                for msg_id, request in self.bubble.rpc_requests.items():
                    if request is obj:
                        self.cycles[msg_id] = '\n'.join(steps)
        return error

    def calling(self, msg_id: str, label: str) -> None:
        me = self._member()
        if me is None:
            return
        bubble = self.bubble
        with bubble.mutex:
            chain = bubble.rpc_calling(me, msg_id, label)
            error = self._found(chain) if chain else None
        if error is not None and self.raise_:
            raise error

    def call_ended(self, msg_id: str) -> None:
        me = _core.get_ident()
        with self.bubble.mutex:
            self.bubble.rpc_call_ended(me, msg_id)

    def queued(self, msg_id: str, label: str, server: str,
               key: int) -> None:
        bubble = self.bubble
        if not (bubble.detect and bubble.active):
            return
        with bubble.mutex:
            chain = bubble.rpc_queued(msg_id, label, server, key)
            if chain:
                self._deliver(chain)

    def handling(self, msg_id: str, key: int,
                 capacity: int | None) -> None:
        me = self._member()
        if me is None:
            return
        bubble = self.bubble
        with bubble.mutex:
            for chain in bubble.rpc_handling(me, msg_id, key, capacity):
                self._deliver(chain)

    def handled(self, msg_id: str) -> None:
        me = _core.get_ident()
        with self.bubble.mutex:
            self.bubble.rpc_handled(me, msg_id)

    def timed_out(self, msg_id: str) -> str | None:
        with self.bubble.mutex:
            cycle = self.cycles.get(msg_id)
        if cycle is None:
            return None
        return f'the call was part of a {cycle}'

    def _deliver(self, chain: list[_bubble.Step]) -> None:
        """A cycle closed by another thread's event (mutex held): report
        it, and end the wait of its first caller with the error."""
        error = self._found(chain)
        if self.raise_:
            self.bubble.interrupt(chain[0][0], error)
