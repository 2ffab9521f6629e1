"""How many requests each server gets at once: a window that adapts to the server (AIMD).

A server answers at the pace its batch allows; past it, requests wait in its queue in silence, time
out together and, resent, make the queue longer still. So each server has a window of requests in
flight that starts small and:

- grows while answers come promptly: by one per answer until the server first pushes back (so it
  doubles each round trip, as TCP's slow start), then by one per window of answers;
- does not grow on an answer whose first byte came late (the server is queueing it);
- halves on a push-back (a timeout, 429, 503 or a refused connection), once per round trip: the
  many requests that time out together halve it once.

It never goes above ``generate.concurrency`` nor below one. NeMo Data Designer and TCP congestion
control work the same way. And a request is cut for silence only when its whole server is silent
(:class:`Silence`): one queued behind others at a busy server is waiting, not lost.
"""

from __future__ import annotations

import asyncio
import contextlib
import time

START = 8  # requests in flight per server before it has answered any
PUSH_BACK = frozenset({"timeout", "http_429", "connection"})  # and a 503 (see signal_of)


def signal_of(cause: str | None, status: int | None = None) -> str:
    """What a finished request says of the server's load: ``ok``, ``push_back`` or ``none``."""
    if cause is None:
        return "ok"
    if cause in PUSH_BACK or status == 503:
        return "push_back"
    return "none"


class Windows:
    """One window per server; :meth:`take` waits for room, :meth:`give` reports the outcome."""

    def __init__(self, servers: int, most: int, late: float):
        self.most = max(1, most)
        self.late = late  # seconds to a first byte past which an answer is not growth
        self.limit = [float(min(self.most, START))] * servers
        self.in_flight = [0] * servers
        self.pushed_back = [False] * servers  # slow start ends at the first push-back
        self.last_shrink = [0.0] * servers
        self.turn = 0
        self.changed = asyncio.Condition()

    async def take(self) -> tuple[int, float]:
        """(server, start time): the server with the most room, waiting until one has some."""
        async with self.changed:
            while True:
                room = [lim - n for lim, n in zip(self.limit, self.in_flight)]
                best = max(room)
                if best >= 1:
                    tied = [i for i, r in enumerate(room) if r == best]
                    self.turn += 1
                    i = tied[self.turn % len(tied)]
                    self.in_flight[i] += 1
                    return i, time.monotonic()
                await self.changed.wait()

    async def give(self, i: int, started: float, signal: str, first_byte: float | None) -> None:
        """Server ``i``'s request (sent at ``started``) ended with ``signal`` (see
        :func:`signal_of`); ``first_byte``: seconds it took the server to start answering."""
        async with self.changed:
            self.in_flight[i] -= 1
            if signal == "ok" and (first_byte is None or first_byte < self.late):
                step = 1.0 if not self.pushed_back[i] else 1.0 / self.limit[i]
                self.limit[i] = min(float(self.most), self.limit[i] + step)
            elif signal == "push_back" and started >= self.last_shrink[i]:
                # Requests sent before the last halving saw the old window: they do not halve it.
                self.limit[i] = max(1.0, self.limit[i] / 2)
                self.pushed_back[i] = True
                self.last_shrink[i] = time.monotonic()
            self.changed.notify_all()


class ServerSilent(asyncio.TimeoutError):
    """A request's server sent nothing, to it or to any other request, for the silence allowed."""


class Silence:
    """Cuts a request when its server has gone silent for ``seconds``: no byte to this request
    nor to any other in flight there. A request queued behind others at a busy server waits
    (its deadline bounds it): the server is working. Each request's cut is moved on, once a
    second or so, to ``seconds`` after the last byte heard from its server."""

    def __init__(self, servers: int, seconds: float):
        self.seconds = seconds
        self.heard = [0.0] * servers  # loop time of the last byte from each server
        self.listening: dict[int, tuple] = {}
        self.watcher: asyncio.Task | None = None

    def hear(self, i: int, clock: dict) -> None:
        clock["last"] = self.heard[i] = asyncio.get_running_loop().time()

    @contextlib.asynccontextmanager
    async def listen(self, i: int, clock: dict):
        """Run the block (one request to server ``i``) until the server goes silent."""
        if self.watcher is None:
            self.watcher = asyncio.create_task(self.watch())
        clock["last"] = asyncio.get_running_loop().time()
        try:
            async with asyncio.timeout_at(clock["last"] + self.seconds) as quiet:
                self.listening[id(clock)] = (quiet, i, clock)
                yield
        except TimeoutError:
            if quiet.expired():
                raise ServerSilent() from None
            raise
        finally:
            self.listening.pop(id(clock), None)

    async def watch(self) -> None:
        while True:
            await asyncio.sleep(min(1.0, self.seconds / 4))
            for quiet, i, clock in list(self.listening.values()):
                quiet.reschedule(max(clock["last"], self.heard[i]) + self.seconds)

    def close(self) -> None:
        if self.watcher is not None:
            self.watcher.cancel()
