import pytest

from pynetes.scheduler.framework.resources import pod_requests
from pynetes.scheduler.framework.status import Code
from pynetes.scheduler.plugins.node_resources_fit import NodeResourcesFit
from pynetes.scheduler.plugins.node_resources_fit.args import parse_args
from tests.unit.scheduler.builders import node, pod
from tests.unit.scheduler.helpers import run_filter, run_score


def fit(args=None) -> NodeResourcesFit:
    return NodeResourcesFit(parse_args(args))


@pytest.mark.parametrize(
    ("incoming", "existing", "reasons"),
    [
        (pod().container(cpu="1"), [], []),
        (pod().container(cpu="3"), [], ["Insufficient cpu"]),
        (pod().container(cpu="1"), [pod().container(cpu="1500m")], ["Insufficient cpu"]),
        (pod().container(memory="3Gi", cpu="3"), [], ["Insufficient cpu", "Insufficient memory"]),
        (pod().container(ephemeral_storage="20Gi"), [], ["Insufficient ephemeral-storage"]),
        (pod().container(example_com__gpu="2"), [], ["Insufficient example.com/gpu"]),
        (pod().container(example_com__gpu="1"), [], []),
        # init containers run one at a time: the largest counts, not the sum
        (pod().container(cpu="1").init_container(cpu="2").init_container("i2", cpu="2"), [], []),
        (pod().container(cpu="1").init_container(cpu="2500m"), [], ["Insufficient cpu"]),
        # a sidecar keeps running next to the containers
        (
            pod().container(cpu="1").init_container(cpu="1500m", sidecar=True),
            [],
            ["Insufficient cpu"],
        ),
        # a pod asking for nothing fits while there is a pod slot
        (pod(), [pod("a"), pod("b")], []),
        (pod(), [pod("a"), pod("b"), pod("c")], ["Too many pods"]),
    ],
)
def test_filter(incoming, existing, reasons):
    target = node("n").capacity(
        cpu="2", memory="2Gi", ephemeral_storage="10Gi", pods="3", example_com__gpu="1"
    )
    status = run_filter(fit(), incoming.build(), target.info(*(p.build() for p in existing)))
    assert status.reasons == reasons
    assert status.code == (Code.UNSCHEDULABLE if reasons else Code.SUCCESS)


def test_ignored_extended_resources_are_not_checked():
    plugin = fit({"ignoredResourceGroups": ["example.com"]})
    status = run_filter(plugin, pod().container(example_com__gpu="5").build(), node().info())
    assert status.is_success


def test_pod_requests_max_of_init_and_sum_of_containers():
    built = pod().container(cpu="1").container("b", cpu="1").init_container(cpu="3").build()
    assert pod_requests(built).milli_cpu == 3000
    assert pod_requests(pod().build(), non_zero=True).milli_cpu == 100


@pytest.mark.parametrize(
    ("args", "expected"),
    [
        # used 1 of 4 cpu and 1 of 4 Gi with the pod: free 75 % each
        (None, {"empty": 75, "half": 25}),
        ({"scoringStrategy": {"type": "MostAllocated"}}, {"empty": 25, "half": 75}),
        (
            {
                "scoringStrategy": {
                    "type": "RequestedToCapacityRatio",
                    "requestedToCapacityRatio": {
                        "shape": [{"utilization": 0, "score": 0}, {"utilization": 100, "score": 10}]
                    },
                }
            },
            {"empty": 25, "half": 75},
        ),
    ],
)
def test_score_strategies(args, expected):
    incoming = pod().container(cpu="1", memory="1Gi").build()
    empty = node("empty").capacity(cpu="4", memory="4Gi").info()
    half = (
        node("half")
        .capacity(cpu="4", memory="4Gi")
        .info(pod("x").container(cpu="2", memory="2Gi").build())
    )
    assert run_score(fit(args), incoming, [empty, half]) == expected


@pytest.mark.parametrize(
    ("args", "field"),
    [
        ({"scoringStrategy": {"type": "Sideways"}}, "scoringStrategy.type"),
        (
            {"scoringStrategy": {"type": "RequestedToCapacityRatio"}},
            "scoringStrategy.requestedToCapacityRatio.shape",
        ),
        (
            {"scoringStrategy": {"resources": [{"name": "cpu", "weight": 0}]}},
            "scoringStrategy.resources[0].weight",
        ),
    ],
)
def test_invalid_args_name_the_field(args, field):
    with pytest.raises(ValueError, match=field.replace("[", r"\[").replace("]", r"\]")):
        parse_args(args)
