import pytest

from pynetes.scheduler.plugins.node_resources_balanced_allocation import (
    BalancedAllocation,
    balanced_score,
    parse_resources,
)
from tests.unit.scheduler.builders import node, pod
from tests.unit.scheduler.helpers import run_score


@pytest.mark.parametrize(
    ("incoming", "existing", "expected"),
    [
        # cpu 1/4, memory 1/4: perfectly balanced
        (pod().container(cpu="1", memory="1Gi"), [], 100),
        # cpu 2/4 = 0.5, memory 1/4 = 0.25: std 0.125
        (pod().container(cpu="1", memory="1Gi"), [pod("a").container(cpu="1")], 87),
        # requests beyond allocatable count as full
        (pod().container(cpu="8"), [], 50),
        # best-effort pods add nothing: an empty node is balanced
        (pod(), [], 100),
        # only the configured resources count (cpu 0.5, memory 0)
        (pod().container(cpu="2", example_com__gpu="1"), [], 75),
    ],
)
def test_score(incoming, existing, expected):
    target = node("n").capacity(cpu="4", memory="4Gi").info(*(p.build() for p in existing))
    assert run_score(BalancedAllocation(), incoming.build(), [target]) == {"n": expected}


def test_three_resources_use_the_standard_deviation():
    plugin = BalancedAllocation(("cpu", "memory", "example.com/gpu"))
    incoming = pod().container(cpu="4", memory="2Gi", example_com__gpu="1").build()
    target = node("n").capacity(cpu="4", memory="4Gi", example_com__gpu="4").info()
    # fractions 1, 0.5, 0.25: mean 7/12, std ~0.3118
    assert run_score(plugin, incoming, [target]) == {"n": 68}


@pytest.mark.parametrize(
    ("fractions", "expected"),
    [([], 100), ([0.3], 100), ([0.0, 1.0], 50), ([0.5, 0.5, 0.5], 100)],
)
def test_balanced_score(fractions, expected):
    assert balanced_score(fractions) == expected


@pytest.mark.parametrize(
    ("args", "error"),
    [
        ({"resources": [{"name": "cpu", "weight": 2}]}, r"resources\[0\].weight"),
        ({"resources": [{"name": "cpu"}, {"name": "cpu"}]}, r"resources\[1\].name: Duplicate"),
        ({"resources": [{"weight": 1}]}, r"resources\[0\].name: Required"),
    ],
)
def test_invalid_args_name_the_field(args, error):
    with pytest.raises(ValueError, match=error):
        parse_resources(args)


def test_args_default_to_cpu_and_memory():
    assert parse_resources(None) == ("cpu", "memory")
    assert parse_resources({"resources": [{"name": "cpu", "weight": 1}]}) == ("cpu",)
