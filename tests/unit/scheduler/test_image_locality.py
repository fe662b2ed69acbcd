"""ImageLocality, and the image states the cache keeps from node.status.images."""

from __future__ import annotations

import pytest

from pynetes.scheduler.cache import SchedulerCache
from pynetes.scheduler.framework.interface import Handle
from pynetes.scheduler.framework.snapshot import Snapshot
from pynetes.scheduler.plugins.image_locality import ImageLocality, normalized_image_name
from tests.unit.scheduler.builders import node, pod
from tests.unit.scheduler.helpers import run_score


def nodes(*builders) -> tuple[SchedulerCache, Snapshot]:
    cache = SchedulerCache()
    for builder in builders:
        cache.add_node(builder.build())
    snapshot = Snapshot()
    cache.update_snapshot(snapshot)
    return cache, snapshot


#: node-1 holds the 40, 300 and 2000 MiB images, node-2 the 250 and 10 MiB ones.
NODES = (
    node("node-1")
    .image(40, "gcr.io/40:latest", "gcr.io/40:v1")
    .image(300, "gcr.io/300:latest", "gcr.io/300:v1")
    .image(2000, "gcr.io/2000:latest"),
    node("node-2").image(250, "gcr.io/250:latest").image(10, "gcr.io/10:latest", "gcr.io/10:v1"),
)


@pytest.mark.parametrize(
    ("images", "expected"),
    [
        # each image on one of two nodes counts half: 40/2 = 20 MiB is under the
        # 23 MiB floor; 250/2 = 125 MiB -> 100 * (125 - 23) / (2000 - 23) = 5
        (("gcr.io/40", "gcr.io/250"), {"node-1": 0, "node-2": 5}),
        # (40 + 300) / 2 = 170 MiB -> 7; an untagged name means :latest
        (("gcr.io/40", "gcr.io/300:v1"), {"node-1": 7, "node-2": 0}),
        # 2000 / 2 = 1000 MiB for one container is the ceiling
        (("gcr.io/2000",), {"node-1": 100, "node-2": 0}),
        # with two containers the ceiling is 2000 MiB: (2000 + 300) / 2 = 1150 -> 57
        (("gcr.io/2000", "gcr.io/300"), {"node-1": 57, "node-2": 0}),
        # only the tag the node lists counts
        (("gcr.io/250:v2",), {"node-1": 0, "node-2": 0}),
    ],
)
def test_score(images, expected):
    incoming = pod("p")
    for index, image in enumerate(images):
        incoming.container(f"c{index}", image)
    _, snapshot = nodes(*NODES)
    plugin = ImageLocality(Handle(None, lambda: snapshot))
    assert run_score(plugin, incoming.build(), snapshot.list()) == expected


def test_init_containers_count_and_an_image_every_node_has_counts_in_full():
    shared = [node(f"n{i}").image(500, "gcr.io/500:latest") for i in range(2)]
    _, snapshot = nodes(*shared, node("bare"))
    incoming = pod("p").init_container("i", "gcr.io/500").container("c", "busybox").build()
    plugin = ImageLocality(Handle(None, lambda: snapshot))
    # 500 * 2/3 = 333 MiB over a 2000 MiB ceiling: 100 * (333 - 23) / 1977 = 15
    assert run_score(plugin, incoming, snapshot.list()) == {"n0": 15, "n1": 15, "bare": 0}


@pytest.mark.parametrize(
    ("name", "expected"),
    [
        ("nginx", "nginx:latest"),
        ("nginx:1.25", "nginx:1.25"),
        ("localhost:5000/nginx", "localhost:5000/nginx:latest"),
        ("localhost:5000/nginx:1", "localhost:5000/nginx:1"),
    ],
)
def test_normalized_image_name(name, expected):
    assert normalized_image_name(name) == expected


def test_cache_counts_nodes_per_image_as_nodes_change():
    first = node("a").image(100, "img:latest", "img@sha256:1")
    cache, snapshot = nodes(first, node("b").image(100, "img:latest"))
    assert snapshot.get("a").image_states["img:latest"].num_nodes == 2
    assert snapshot.get("a").image_states["img@sha256:1"].num_nodes == 1
    cache.update_node(node("b").build())
    assert snapshot.get("a").image_states["img:latest"].num_nodes == 1
    cache.remove_node(first.build())
    assert len(cache.images) == 0
