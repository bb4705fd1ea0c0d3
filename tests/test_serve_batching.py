import asyncio

from gatedrnn.serve.batching import MicroBatcher


def test_concurrent_submissions_share_calls_and_get_their_own_slices():
    calls = []

    def double(items):
        calls.append(list(items))
        return [2 * x for x in items]

    async def scenario():
        batcher = MicroBatcher(double, max_items=5)
        return await asyncio.gather(*(batcher.submit([i, 10 + i]) for i in range(4)))

    results = asyncio.run(scenario())
    assert results == [[0, 20], [2, 22], [4, 24], [6, 26]]
    assert len(calls) < 4 and all(len(c) <= 5 for c in calls)  # merged, within the cap
    assert sorted(x for c in calls for x in c) == sorted([0, 10, 1, 11, 2, 12, 3, 13])


def test_an_error_reaches_every_request_of_its_call_and_the_batcher_recovers():
    def fail_on_negative(items):
        if any(x < 0 for x in items):
            raise ValueError("negative")
        return items

    async def scenario():
        batcher = MicroBatcher(fail_on_negative)
        outcomes = await asyncio.gather(batcher.submit([1]), batcher.submit([-1]),
                                        return_exceptions=True)
        return outcomes, await batcher.submit([5])

    outcomes, after = asyncio.run(scenario())
    assert all(isinstance(o, ValueError) for o in outcomes)
    assert after == [5]


def test_a_request_larger_than_the_cap_still_runs_whole():
    async def scenario():
        return await MicroBatcher(lambda items: items, max_items=2).submit([1, 2, 3])

    assert asyncio.run(scenario()) == [1, 2, 3]
