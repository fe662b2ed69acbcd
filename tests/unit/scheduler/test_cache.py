from pynetes.scheduler.cache import SchedulerCache
from pynetes.scheduler.framework.snapshot import Snapshot
from tests.unit.scheduler.builders import node, pod


def test_assume_confirm_forget_and_incremental_snapshot():
    cache = SchedulerCache()
    cache.add_node(node("a").capacity(cpu="4").build())
    cache.add_node(node("b").capacity(cpu="4").build())
    snapshot = Snapshot()
    cache.update_snapshot(snapshot)
    untouched = snapshot.get("b")

    incoming = pod("p").container(cpu="1").build()
    assumed = cache.assume_pod(incoming, "a")
    assert cache.is_assumed(incoming)
    cache.update_snapshot(snapshot)
    assert snapshot.get("a").requested.milli_cpu == 1000
    assert snapshot.get("b") is untouched

    cache.add_pod(assumed)  # the informer delivers the bound pod
    assert not cache.is_assumed(incoming)
    cache.update_snapshot(snapshot)
    assert snapshot.get("a").requested.milli_cpu == 1000

    other = pod("q").container(cpu="2").build()
    cache.assume_pod(other, "b")
    cache.forget_pod(other)
    cache.update_snapshot(snapshot)
    assert snapshot.get("b").requested.milli_cpu == 0


def test_removed_node_leaves_the_snapshot_even_with_pods_on_it():
    cache = SchedulerCache()
    built = node("a").build()
    cache.add_node(built)
    cache.add_pod(pod("p").node_name("a").build())
    snapshot = Snapshot()
    cache.update_snapshot(snapshot)
    cache.remove_node(built)
    cache.update_snapshot(snapshot)
    assert len(snapshot) == 0
    assert cache.node_count() == 0


def test_a_snapshot_the_cache_did_not_update_last_is_rebuilt_whole():
    cache = SchedulerCache()
    cache.add_node(node("a").capacity(cpu="4").build())
    first, second = Snapshot(), Snapshot()
    cache.update_snapshot(first)
    cache.add_node(node("b").build())
    cache.assume_pod(pod("p").container(cpu="1").build(), "a")
    cache.update_snapshot(second)
    assert sorted(info.name for info in second.list()) == ["a", "b"]
    assert second.get("a").requested.milli_cpu == 1000
    cache.update_snapshot(first)
    assert sorted(info.name for info in first.list()) == ["a", "b"]
    assert first.get("a").requested.milli_cpu == 1000


def test_a_node_removed_and_added_again_comes_back_into_the_snapshot():
    cache = SchedulerCache()
    built = node("a").build()
    cache.add_node(built)
    snapshot = Snapshot()
    cache.update_snapshot(snapshot)
    cache.remove_node(built)
    cache.add_node(built)
    cache.update_snapshot(snapshot)
    assert [info.name for info in snapshot.list()] == ["a"]


def test_the_snapshot_knows_which_nodes_run_pods_with_affinity_terms():
    cache = SchedulerCache()
    cache.add_node(node("a").capacity(cpu="4").build())
    cache.add_node(node("b").capacity(cpu="4").build())
    snapshot = Snapshot()
    cache.update_snapshot(snapshot)
    assert not snapshot.has_required_anti_affinity
    loner = pod("loner").pod_affinity("zone", {"matchLabels": {"app": "x"}}, anti=True)
    placed = cache.assume_pod(loner.build(), "a")
    cache.update_snapshot(snapshot)
    assert snapshot.has_required_anti_affinity
    assert snapshot.table().pods_with_affinity.tolist() == [1, 0]
    cache.forget_pod(placed)
    cache.update_snapshot(snapshot)
    assert not snapshot.has_required_anti_affinity
    assert snapshot.table().pods_with_affinity.tolist() == [0, 0]
