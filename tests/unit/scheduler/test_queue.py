import pytest

from pynetes.scheduler.framework.interface import ActionType, ClusterEvent
from pynetes.scheduler.plugins.priority_sort import PrioritySort
from pynetes.scheduler.queue import SchedulingQueue
from tests.conftest import FakeClock, FakeTimer
from tests.unit.scheduler.builders import pod

NODE_ADDED = ClusterEvent("Node", ActionType.ADD)
POD_DELETED = ClusterEvent("Pod", ActionType.DELETE)


@pytest.fixture
def clock():
    return FakeClock()


@pytest.fixture
def timer(clock):
    return FakeTimer(clock)


@pytest.fixture
def queue(clock, timer):
    events = {"NodeResourcesFit": [NODE_ADDED, POD_DELETED], "TaintToleration": [NODE_ADDED]}
    return SchedulingQueue(PrioritySort().less, events, clock=clock, call_later=timer)


async def test_pops_by_priority_then_age(queue, clock):
    queue.add(pod("old").build())
    clock.advance(1)
    queue.add(pod("new").build())
    queue.add(pod("urgent").priority(100).build())
    popped = [(await queue.pop()).pod["metadata"]["name"] for _ in range(3)]
    assert popped == ["urgent", "old", "new"]


async def test_unschedulable_pod_waits_for_an_event_a_rejecting_plugin_cares_about(queue, timer):
    queue.add(pod("p").build())
    info = await queue.pop()
    info.unschedulable_plugins = {"TaintToleration"}
    queue.add_unschedulable(info, queue.scheduling_cycle)
    assert queue.pending() == {"active": 0, "backoff": 0, "unschedulable": 1}
    queue.move_on(POD_DELETED)
    assert queue.pending()["unschedulable"] == 1
    queue.move_on(NODE_ADDED)
    # first attempt failed: 1 s of backoff before it is active again
    assert queue.pending() == {"active": 0, "backoff": 1, "unschedulable": 0}
    timer.advance(1)
    assert queue.pending()["active"] == 1


async def test_backoff_doubles_up_to_the_maximum(queue, timer):
    queue.add(pod("p").build())
    for expected in (1, 2, 4, 8, 10, 10):
        info = await queue.pop()
        queue.add_unschedulable(info, queue.scheduling_cycle, error=True)
        assert queue.backoff_duration(info) == expected
        timer.advance(expected - 0.5)
        assert queue.pending()["active"] == 0
        timer.advance(0.5)
        assert queue.pending()["active"] == 1


async def test_event_during_the_attempt_sends_the_pod_to_backoff(queue):
    queue.add(pod("p").build())
    info = await queue.pop()
    cycle = queue.scheduling_cycle
    queue.move_on(NODE_ADDED)
    info.unschedulable_plugins = {"TaintToleration"}
    queue.add_unschedulable(info, cycle)
    assert queue.pending()["backoff"] == 1


async def test_parked_pods_are_flushed_after_five_minutes(queue, timer):
    queue.add(pod("p").build())
    info = await queue.pop()
    info.unschedulable_plugins = {"TaintToleration"}
    queue.add_unschedulable(info, queue.scheduling_cycle)
    timer.advance(299)
    assert queue.pending()["unschedulable"] == 1
    timer.advance(1)
    assert queue.pending()["active"] == 1


async def test_deleted_pods_leave_every_queue(queue, timer):
    first, second = pod("a").build(), pod("b").build()
    queue.add(first)
    queue.add(second)
    queue.delete(first)
    assert (await queue.pop()).pod is second
    queue.close()
    assert await queue.pop() is None
    assert timer.armed == 0
