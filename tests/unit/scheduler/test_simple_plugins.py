import pytest

from pynetes.scheduler.framework.queued_pod_info import QueuedPodInfo
from pynetes.scheduler.framework.status import Code
from pynetes.scheduler.plugins.node_name import NodeName
from pynetes.scheduler.plugins.node_unschedulable import NodeUnschedulable
from pynetes.scheduler.plugins.priority_sort import PrioritySort
from tests.unit.scheduler.builders import node, pod
from tests.unit.scheduler.helpers import run_filter


@pytest.mark.parametrize(
    ("incoming", "fits"),
    [(pod(), True), (pod().node_name("n"), True), (pod().node_name("other"), False)],
)
def test_node_name(incoming, fits):
    status = run_filter(NodeName(), incoming.build(), node("n").info())
    assert status.is_success == fits
    if not fits:
        assert status.reasons == ["node(s) didn't match the requested node name"]


@pytest.mark.parametrize(
    ("target", "incoming", "fits"),
    [
        (node(), pod(), True),
        (node().unschedulable(), pod(), False),
        (
            node().unschedulable(),
            pod().toleration(
                "node.kubernetes.io/unschedulable", operator="Exists", effect="NoSchedule"
            ),
            True,
        ),
    ],
)
def test_node_unschedulable(target, incoming, fits):
    status = run_filter(NodeUnschedulable(), incoming.build(), target.info())
    assert status.is_success == fits
    if not fits:
        assert status.code == Code.UNSCHEDULABLE_AND_UNRESOLVABLE
        assert status.reasons == ["node(s) were unschedulable"]


@pytest.mark.parametrize(
    ("a", "b", "a_first"),
    [
        ((10, 5.0), (0, 1.0), True),
        ((0, 1.0), (10, 5.0), False),
        ((0, 1.0), (0, 2.0), True),
        ((0, 2.0), (0, 1.0), False),
    ],
)
def test_priority_sort(a, b, a_first):
    first = QueuedPodInfo(pod("a").priority(a[0]).build(), a[1])
    second = QueuedPodInfo(pod("b").priority(b[0]).build(), b[1])
    assert PrioritySort().less(first, second) == a_first
