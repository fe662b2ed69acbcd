import pytest

from pynetes.scheduler.framework.status import Code
from pynetes.scheduler.plugins.taint_toleration import TaintToleration
from tests.unit.scheduler.builders import node, pod
from tests.unit.scheduler.helpers import run_filter, run_score


@pytest.mark.parametrize(
    ("tainted", "incoming", "reason"),
    [
        (node(), pod(), None),
        (node().taint("dedicated", "gpu"), pod(), "node(s) had untolerated taint {dedicated: gpu}"),
        (
            node().taint("dedicated", "gpu", "NoExecute"),
            pod(),
            "node(s) had untolerated taint {dedicated: gpu}",
        ),
        (node().taint("dedicated", "gpu", "PreferNoSchedule"), pod(), None),
        (
            node().taint("dedicated", "gpu"),
            pod().toleration("dedicated", "gpu", "NoSchedule"),
            None,
        ),
        (
            node().taint("dedicated", "gpu"),
            pod().toleration("dedicated", "cpu"),
            "node(s) had untolerated taint {dedicated: gpu}",
        ),
        (node().taint("dedicated", "gpu"), pod().toleration("dedicated", operator="Exists"), None),
        (node().taint("dedicated", "gpu"), pod().toleration(operator="Exists"), None),
        (
            node().taint("dedicated", "gpu"),
            pod().toleration("dedicated", "gpu", "NoExecute"),
            "node(s) had untolerated taint {dedicated: gpu}",
        ),
    ],
)
def test_filter(tainted, incoming, reason):
    status = run_filter(TaintToleration(), incoming.build(), tainted.info())
    if reason is None:
        assert status.is_success
    else:
        assert status.code == Code.UNSCHEDULABLE_AND_UNRESOLVABLE
        assert status.reasons == [reason]


def test_score_prefers_fewer_untolerated_prefer_no_schedule_taints():
    nodes = [
        node("clean").info(),
        node("one").taint("a", effect="PreferNoSchedule").info(),
        node("two")
        .taint("a", effect="PreferNoSchedule")
        .taint("b", effect="PreferNoSchedule")
        .info(),
        node("tolerated").taint("b", effect="PreferNoSchedule").info(),
    ]
    incoming = pod().toleration("b", operator="Exists", effect="PreferNoSchedule").build()
    assert run_score(TaintToleration(), incoming, nodes) == {
        "clean": 100,
        "one": 0,
        "two": 0,
        "tolerated": 100,
    }
    assert run_score(TaintToleration(), pod().build(), nodes[:3]) == {
        "clean": 100,
        "one": 50,
        "two": 0,
    }
