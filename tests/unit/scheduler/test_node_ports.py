import pytest

from pynetes.scheduler.framework.status import Code
from pynetes.scheduler.plugins.node_ports import NodePorts
from tests.unit.scheduler.builders import node, pod
from tests.unit.scheduler.helpers import run_filter

REASON = "node(s) didn't have free ports for the requested pod ports"


@pytest.mark.parametrize(
    ("incoming", "existing", "fits"),
    [
        (pod(), [pod("a").container().host_port(80)], True),
        (pod().container().host_port(8080), [pod("a").container().host_port(80)], True),
        (pod().container().host_port(80), [pod("a").container().host_port(80)], False),
        # another protocol on the same number is free
        (
            pod().container().host_port(80, protocol="UDP"),
            [pod("a").container().host_port(80)],
            True,
        ),
        # distinct addresses do not collide; the wildcard collides with every address
        (
            pod().container().host_port(80, ip="10.0.0.1"),
            [pod("a").container().host_port(80, ip="10.0.0.2")],
            True,
        ),
        (
            pod().container().host_port(80, ip="10.0.0.1"),
            [pod("a").container().host_port(80)],
            False,
        ),
        (
            pod().container().host_port(80),
            [pod("a").container().host_port(80, ip="10.0.0.2")],
            False,
        ),
        (
            pod().container().host_port(80, ip="10.0.0.2"),
            [pod("a").container().host_port(80, ip="10.0.0.2")],
            False,
        ),
        # one conflicting port among several is enough
        (
            pod().container().host_port(81).host_port(80),
            [pod("a").container().host_port(80)],
            False,
        ),
    ],
)
def test_filter(incoming, existing, fits):
    target = node("n").info(*(p.build() for p in existing))
    status = run_filter(NodePorts(), incoming.build(), target)
    assert status.is_success == fits
    if not fits:
        assert status.code == Code.UNSCHEDULABLE
        assert status.reasons == [REASON]


def test_pods_without_host_ports_skip_the_filter():
    from pynetes.scheduler.framework.cycle_state import CycleState

    _, status = NodePorts().pre_filter(CycleState(), pod().build(), [])
    assert status.is_skip
