"""Micro-batching: requests that arrive while the model is busy share its next forward pass.

Eight clients sending one review each would otherwise wait for seven passes in turn; merged,
they wait for one pass over eight reviews, which the Predictor sorts by length and batches. The
pass itself runs on the event loop's thread (see app.py for why), so while it runs new requests
queue up in the socket; the loop then reads them all before the next pass starts.
"""

from __future__ import annotations

import asyncio
import weakref
from collections.abc import Callable, Sequence


class MicroBatcher:
    """``await batcher.submit(items)`` → ``function(all pending items)[your slice]``.

    ``function`` maps a list of items to a list of results of the same length. At most
    ``max_items`` items go into one call (a single larger request still goes alone, whole).
    """

    def __init__(self, function: Callable[[list], Sequence], max_items: int = 256):
        self.function = function
        self.max_items = max_items
        # One queue per event loop: a server has one, but a test client may run a loop per
        # request, and a future must be resolved on its own loop.
        self._queues: weakref.WeakKeyDictionary = weakref.WeakKeyDictionary()

    async def submit(self, items: list) -> list:
        loop = asyncio.get_running_loop()
        queue = self._queues.setdefault(loop, {"pending": [], "draining": False})
        future = loop.create_future()
        queue["pending"].append((list(items), future))
        if not queue["draining"]:
            queue["draining"] = True
            loop.create_task(self._drain(queue))
        return await future

    async def _drain(self, queue: dict) -> None:
        pending = queue["pending"]
        try:
            while pending:
                # Yield once so that requests already read from their sockets enqueue first.
                await asyncio.sleep(0)
                group, count = [], 0
                while pending and (not group or count + len(pending[0][0]) <= self.max_items):
                    items, future = pending.pop(0)
                    group.append((items, future))
                    count += len(items)
                flat = [item for items, _ in group for item in items]
                try:
                    results = list(self.function(flat))
                except Exception as exc:  # every waiting request gets the error
                    for _, future in group:
                        if not future.done():
                            future.set_exception(exc)
                    continue
                start = 0
                for items, future in group:
                    if not future.done():
                        future.set_result(results[start:start + len(items)])
                    start += len(items)
        finally:
            queue["draining"] = False
