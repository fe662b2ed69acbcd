import pytest

from pynetes.client.cache.indexer import (
    NAMESPACE_INDEX,
    CacheMutationError,
    Indexer,
    object_key,
    split_key,
)


def pod(name: str, namespace: str = "default", node: str | None = None) -> dict:
    spec = {"nodeName": node} if node else {}
    return {"metadata": {"name": name, "namespace": namespace}, "spec": spec}


def by_node(obj: dict) -> list[str]:
    node = obj.get("spec", {}).get("nodeName")
    return [node] if node else []


def test_keys_are_namespace_and_name() -> None:
    assert object_key(pod("web", "prod")) == "prod/web"
    assert object_key({"metadata": {"name": "node-1"}}) == "node-1"
    assert split_key("prod/web") == ("prod", "web")
    assert split_key("node-1") == ("", "node-1")


def test_indexes_follow_adds_updates_and_deletes() -> None:
    store = Indexer({"node": by_node})
    store.upsert(pod("a", node="n1"))
    store.upsert(pod("b", node="n1"))
    store.upsert(pod("c", "other", node="n2"))
    assert store.index_keys("node", "n1") == ["default/a", "default/b"]
    assert [p["metadata"]["name"] for p in store.by_index(NAMESPACE_INDEX, "other")] == ["c"]
    store.upsert(pod("a", node="n2"))  # moved
    assert store.index_keys("node", "n1") == ["default/b"]
    assert store.index_keys("node", "n2") == ["default/a", "other/c"]
    store.delete("default/b")
    assert store.index_values("node") == ["n2"]  # no empty entry left for n1
    assert store.delete("default/missing") is None


def test_replace_holds_exactly_the_new_objects() -> None:
    store = Indexer({"node": by_node})
    store.upsert(pod("old", node="n1"))
    store.replace([pod("x", node="n3"), pod("y")])
    assert sorted(store.keys()) == ["default/x", "default/y"]
    assert store.index_values("node") == ["n3"]
    assert len(store) == 2 and "default/x" in store


def test_indexers_added_later_cover_existing_objects() -> None:
    store = Indexer()
    store.upsert(pod("a", node="n1"))
    store.add_indexers({"node": by_node})
    assert store.index_keys("node", "n1") == ["default/a"]
    with pytest.raises(ValueError, match="already exist"):
        store.add_indexers({"node": by_node})
    with pytest.raises(KeyError):
        store.index_keys("missing", "x")


def test_an_object_changed_in_place_is_detected() -> None:
    store = Indexer(detect_mutations=True)
    store.upsert(pod("a"))
    store.check_mutations()
    store.get("default/a")["spec"]["nodeName"] = "sneaky"  # type: ignore[index]
    with pytest.raises(CacheMutationError, match="default/a"):
        store.check_mutations()


def test_detection_follows_the_environment_as_upstream(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("KUBE_CACHE_MUTATION_DETECTOR", "true")
    store = Indexer()
    store.upsert(pod("a"))
    store.get("default/a")["metadata"]["labels"] = {"x": "y"}  # type: ignore[index]
    with pytest.raises(CacheMutationError):
        store.check_mutations()
