import pytest

from pynetes.scheduler.framework.status import Code
from pynetes.scheduler.plugins.node_affinity import NodeAffinity
from tests.unit.scheduler.builders import expression, node, pod
from tests.unit.scheduler.helpers import run_filter, run_score

ZONE = "topology.kubernetes.io/zone"
REASON = "node(s) didn't match Pod's node affinity/selector"


@pytest.mark.parametrize(
    ("incoming", "fits"),
    [
        (pod(), True),
        (pod().node_selector(disk="ssd"), True),
        (pod().node_selector(disk="hdd"), False),
        (pod().required_affinity(expression(ZONE, "In", "a", "b")), True),
        (pod().required_affinity(expression(ZONE, "NotIn", "a")), False),
        (pod().required_affinity(expression(ZONE, "In", "z"), expression("disk", "Exists")), True),
        (pod().required_affinity(expression("gpu", "Exists")), False),
        (pod().required_affinity(expression("gpu", "DoesNotExist")), True),
        (pod().required_affinity(expression("cores", "Gt", "4")), True),
        (pod().required_affinity(expression("cores", "Lt", "4")), False),
        (pod().required_affinity(expression("cores", "Gt", "many")), False),
        (pod().required_affinity({}), False),
        (pod().required_affinity(), False),
        (
            pod().required_affinity(
                {"matchFields": [{"key": "metadata.name", "operator": "In", "values": ["n"]}]}
            ),
            True,
        ),
        (pod().node_selector(disk="ssd").required_affinity(expression(ZONE, "In", "b")), False),
    ],
)
def test_filter(incoming, fits):
    target = node("n").label("disk", "ssd").label(ZONE, "a").label("cores", "8")
    status = run_filter(NodeAffinity(), incoming.build(), target.info())
    if fits:
        assert status.is_success
    else:
        assert status.code == Code.UNSCHEDULABLE_AND_UNRESOLVABLE
        assert status.reasons == [REASON]


def test_score_sums_matching_preferred_weights_normalized():
    incoming = (
        pod()
        .preferred_affinity(80, expression(ZONE, "In", "a"))
        .preferred_affinity(20, expression("disk", "In", "ssd"))
        .build()
    )
    nodes = [
        node("both").label(ZONE, "a").label("disk", "ssd").info(),
        node("zone").label(ZONE, "a").info(),
        node("none").info(),
    ]
    assert run_score(NodeAffinity(), incoming, nodes) == {"both": 100, "zone": 80, "none": 0}


@pytest.mark.parametrize(
    ("incoming", "names"),
    [
        (pod().node_selector(disk="ssd"), None),
        (pod().required_affinity(expression(ZONE, "In", "a")), None),
        (
            pod().required_affinity(
                {"matchFields": [{"key": "metadata.name", "operator": "In", "values": ["n"]}]}
            ),
            frozenset({"n"}),
        ),
    ],
)
def test_pre_filter_narrows_only_to_named_nodes(incoming, names):
    from pynetes.scheduler.framework.cycle_state import CycleState

    result, status = NodeAffinity().pre_filter(CycleState(), incoming.build(), [])
    assert status.is_success
    assert result.node_names == names
