"""Server-side apply and managedFields tracking, checked against upstream's behaviour.

Expected FieldsV1 documents are written by hand from upstream's rules
(sigs.k8s.io/structured-merge-diff v4.4.1, as Kubernetes 1.31 vendors it)
and the managedFields real clusters show for the same objects.
"""

from __future__ import annotations

import copy
from typing import Any

import orjson
import pytest

from pynetes.api import schema
from pynetes.api.errors import ApiError
from pynetes.api.fieldmanager import apply, default_manager, track_update

DEPLOYMENT = schema.definition(schema.definition_name("apps", "v1", "Deployment"))
CONFIGMAP = schema.definition(schema.definition_name("", "v1", "ConfigMap"))
T1, T2, T3 = "2024-05-01T10:00:00Z", "2024-05-01T11:00:00Z", "2024-05-01T12:00:00Z"
LAST_APPLIED = "kubectl.kubernetes.io/last-applied-configuration"

Object = dict[str, Any]


def deployment(
    *,
    replicas: int = 2,
    image: str = "nginx:1.27",
    labels: dict[str, str] | None = None,
    ports: tuple[int, ...] = (80,),
    sidecar: bool = False,
) -> Object:
    container: Object = {"name": "web", "image": image}
    if ports:
        container["ports"] = [{"containerPort": port} for port in ports]
    containers = [container]
    if sidecar:
        containers.append({"name": "log", "image": "busybox:1.36"})
    return {
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "metadata": {"name": "web", "namespace": "default", "labels": labels or {"app": "web"}},
        "spec": {
            "replicas": replicas,
            "selector": {"matchLabels": {"app": "web"}},
            "template": {
                "metadata": {"labels": {"app": "web"}},
                "spec": {"containers": containers},
            },
        },
    }


def configmap(data: dict[str, str], **metadata: Any) -> Object:
    return {
        "apiVersion": "v1",
        "kind": "ConfigMap",
        "metadata": {"name": "settings", "namespace": "default", **metadata},
        "data": data,
    }


def stored(obj: Object) -> Object:
    """The object as the API server stores it after a create: with a uid."""
    result = copy.deepcopy(obj)
    result["metadata"].update(uid="0b5c7e9a-1d2f-4c3b-9a8e-7f6d5c4b3a21", resourceVersion="7")
    return result


def ssa(
    current: Object | None, applied: Object, manager: str = "kubectl", **options: Any
) -> Object:
    options.setdefault("force", False)
    options.setdefault("now", T1)
    node = CONFIGMAP if applied["kind"] == "ConfigMap" else DEPLOYMENT
    return apply(
        current, applied, manager=manager, node=node, api_version=applied["apiVersion"], **options
    )


def write(old: Object | None, new: Object, manager: str, now: str = T1, **options: Any) -> Object:
    node = CONFIGMAP if new["kind"] == "ConfigMap" else DEPLOYMENT
    return track_update(
        old, new, manager=manager, node=node, api_version=new["apiVersion"], now=now, **options
    )


def entries(obj: Object) -> dict[str, Object]:
    return {entry["manager"]: entry for entry in obj["metadata"].get("managedFields", [])}


def fields(obj: Object, manager: str) -> Object:
    return entries(obj)[manager]["fieldsV1"]


def conflict_of(call: Any) -> Object:
    with pytest.raises(ApiError) as raised:
        call()
    return raised.value.status()


# --- apply: the managedFields a real cluster writes ------------------------------------


def test_apply_create_writes_what_a_cluster_writes_for_kubectl_apply_server_side() -> None:
    # `kubectl apply --server-side` of this Deployment on 1.31: named fields are
    # not owned themselves (no "." in f:spec), list items are (".": {}), the
    # atomic selector is a leaf, and the port's key includes the defaulted protocol.
    result = ssa(None, deployment())
    expected = (
        '[{"manager":"kubectl","operation":"Apply","apiVersion":"apps/v1",'
        '"time":"2024-05-01T10:00:00Z","fieldsType":"FieldsV1","fieldsV1":{'
        '"f:metadata":{"f:labels":{"f:app":{}}},'
        '"f:spec":{"f:replicas":{},"f:selector":{},"f:template":{'
        '"f:metadata":{"f:labels":{"f:app":{}}},'
        '"f:spec":{"f:containers":{"k:{\\"name\\":\\"web\\"}":{".":{},"f:image":{},"f:name":{},'
        '"f:ports":{"k:{\\"containerPort\\":80,\\"protocol\\":\\"TCP\\"}":{".":{},'
        '"f:containerPort":{}}}}}}}}}}]'
    )
    assert orjson.dumps(result["metadata"]["managedFields"]).decode() == expected
    assert result["spec"] == deployment()["spec"]


def test_apply_create_of_a_configmap() -> None:
    # The example of the upstream documentation (Server-Side Apply, "Field management").
    result = ssa(None, configmap({"key": "some value"}, labels={"test-label": "test"}))
    assert result["metadata"]["managedFields"] == [
        {
            "manager": "kubectl",
            "operation": "Apply",
            "apiVersion": "v1",
            "time": T1,
            "fieldsType": "FieldsV1",
            "fieldsV1": {"f:data": {"f:key": {}}, "f:metadata": {"f:labels": {"f:test-label": {}}}},
        }
    ]


def test_applying_only_identifying_metadata_leaves_no_entry() -> None:
    # Upstream's TestApplyRemovesEmptyManagedFields: name and namespace are never owned.
    result = ssa(None, {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "x"}})
    assert "managedFields" not in result["metadata"]


# --- apply: re-applying ----------------------------------------------------------------


@pytest.mark.parametrize(
    ("second", "replicas", "time"),
    [
        pytest.param(deployment(replicas=3), 3, T2, id="changed-value-moves-the-time"),
        pytest.param(deployment(), 2, T1, id="same-config-keeps-the-time"),
    ],
)
def test_reapply(second: Object, replicas: int, time: str) -> None:
    first = stored(ssa(None, deployment()))
    result = ssa(first, second, now=T2)
    assert result["spec"]["replicas"] == replicas
    assert entries(result)["kubectl"]["time"] == time
    assert fields(result, "kubectl") == fields(first, "kubectl")


@pytest.mark.parametrize(
    ("dropped", "absent"),
    [
        pytest.param(
            deployment(ports=()),
            lambda obj: "ports" not in obj["spec"]["template"]["spec"]["containers"][0],
            id="container-port",
        ),
        pytest.param(
            deployment(labels={"app": "web"}),
            lambda obj: obj["metadata"]["labels"] == {"app": "web"},
            id="one-label",
        ),
    ],
)
def test_apply_removes_what_it_no_longer_applies(dropped: Object, absent: Any) -> None:
    # Upstream's TestApplyRemoveContainerPort: the field goes from the object and the set.
    first = stored(ssa(None, deployment(labels={"app": "web", "tier": "front"})))
    result = ssa(first, dropped, now=T2)
    assert absent(result)
    assert fields(result, "kubectl") == fields(ssa(None, dropped), "kubectl")


def test_dropped_field_stays_while_another_applier_owns_it() -> None:
    first = stored(ssa(None, configmap({"a": "1", "b": "2"}), manager="alice"))
    shared = ssa(first, configmap({"b": "2"}), manager="bob", now=T2)
    result = ssa(shared, configmap({"a": "1"}), manager="alice", now=T3)
    assert result["data"] == {"a": "1", "b": "2"}
    assert fields(result, "alice") == {"f:data": {"f:a": {}}}
    assert fields(result, "bob") == {"f:data": {"f:b": {}}}


def test_dropped_field_stays_when_an_updater_set_it_before_the_applier() -> None:
    # Fields nobody applied (set by an update, or defaulted) are not pruned.
    created = stored(write(None, stored(configmap({"a": "1"})), "kubectl-create"))
    applied = ssa(created, configmap({"a": "1", "b": "2"}), manager="alice", now=T2)
    result = ssa(applied, configmap({"b": "2"}), manager="alice", now=T3)
    assert result["data"] == {"a": "1", "b": "2"}


def test_two_appliers_own_different_fields() -> None:
    first = stored(ssa(None, configmap({"a": "1"}), manager="alice"))
    result = ssa(first, configmap({"b": "2"}), manager="bob", now=T2)
    assert result["data"] == {"a": "1", "b": "2"}
    assert [(e["manager"], e["fieldsV1"]) for e in result["metadata"]["managedFields"]] == [
        ("alice", {"f:data": {"f:a": {}}}),
        ("bob", {"f:data": {"f:b": {}}}),
    ]


def test_appliers_setting_the_same_value_share_it() -> None:
    # Upstream's "same_value_no_conflict": no conflict, both own the field.
    first = stored(ssa(None, deployment(), manager="alice"))
    result = ssa(first, deployment(), manager="bob", now=T2)
    assert fields(result, "alice") == fields(result, "bob")
    # The object did not change, so bob's entry has no time (upstream 1.31).
    assert "time" not in entries(result)["bob"]


# --- apply: conflicts ------------------------------------------------------------------


def created_by_client_side_apply(obj: Object) -> Object:
    """``kubectl apply`` (client-side) of a new object: a POST with the annotation."""
    annotated = copy.deepcopy(obj)
    annotated["metadata"]["annotations"] = {LAST_APPLIED: orjson.dumps(obj).decode() + "\n"}
    return stored(write(None, stored(annotated), "kubectl-client-side-apply"))


def edited(obj: Object, manager: str, change: Any) -> Object:
    new = copy.deepcopy(obj)
    change(new)
    return write(obj, new, manager, now=T2)


def scale_to_five(obj: Object) -> None:
    obj["spec"]["replicas"] = 5


@pytest.mark.parametrize(
    ("owned", "applier", "message", "cause"),
    [
        pytest.param(
            created_by_client_side_apply(deployment()),
            "ci",
            'Apply failed with 1 conflict: conflict with "kubectl-client-side-apply" using '
            "apps/v1: .spec.replicas",
            'conflict with "kubectl-client-side-apply" using apps/v1',
            id="client-side-apply",
        ),
        pytest.param(
            edited(stored(ssa(None, deployment(), manager="ci")), "kubectl-edit", scale_to_five),
            "ci",
            'Apply failed with 1 conflict: conflict with "kubectl-edit" using apps/v1: '
            ".spec.replicas",
            'conflict with "kubectl-edit" using apps/v1',
            id="kubectl-edit",
        ),
        pytest.param(
            stored(ssa(None, deployment(), manager="helm")),
            "ci",
            'Apply failed with 1 conflict: conflict with "helm": .spec.replicas',
            'conflict with "helm"',
            id="another-applier",
        ),
        pytest.param(
            stored(ssa(None, deployment(), manager="hpa", subresource="scale")),
            "ci",
            'Apply failed with 1 conflict: conflict with "hpa" with subresource "scale": '
            ".spec.replicas",
            'conflict with "hpa" with subresource "scale"',
            id="subresource-applier",
        ),
    ],
)
def test_conflict_with_the_owner_of_a_field(
    owned: Object, applier: str, message: str, cause: str
) -> None:
    status = conflict_of(lambda: ssa(owned, deployment(replicas=3), manager=applier, now=T3))
    assert status["code"] == 409
    assert status["reason"] == "Conflict"
    assert status["message"] == message
    assert status["details"] == {
        "causes": [{"reason": "FieldManagerConflict", "message": cause, "field": ".spec.replicas"}]
    }


def test_several_conflicts_are_listed_by_manager() -> None:
    owned = created_by_client_side_apply(deployment())
    owned = edited(owned, "kubectl-edit", scale_to_five)
    status = conflict_of(
        lambda: ssa(owned, deployment(replicas=3, image="nginx:1.28"), manager="ci", now=T3)
    )
    assert status["message"] == (
        "Apply failed with 2 conflicts: "
        'conflicts with "kubectl-client-side-apply" using apps/v1:\n'
        '- .spec.template.spec.containers[name="web"].image\n'
        'conflicts with "kubectl-edit" using apps/v1:\n'
        "- .spec.replicas"
    )
    assert [cause["field"] for cause in status["details"]["causes"]] == [
        '.spec.template.spec.containers[name="web"].image',
        ".spec.replicas",
    ]


def test_force_takes_the_field_from_its_owner() -> None:
    owned = edited(stored(ssa(None, deployment(), manager="ci")), "kubectl-edit", scale_to_five)
    result = ssa(owned, deployment(replicas=3), manager="ci", force=True, now=T3)
    assert result["spec"]["replicas"] == 3
    assert "kubectl-edit" not in entries(result)
    assert "f:replicas" in fields(result, "ci")["f:spec"]


def test_force_leaves_the_owner_its_other_fields() -> None:
    owned = created_by_client_side_apply(deployment())
    result = ssa(owned, deployment(replicas=3), manager="ci", force=True, now=T3)
    csa = fields(result, "kubectl-client-side-apply")["f:spec"]
    assert "f:replicas" not in csa
    assert "f:selector" in csa


# --- apply: moving from client-side apply ----------------------------------------------


def test_kubectl_takes_over_what_client_side_apply_recorded() -> None:
    # Upstream's lastAppliedManager: for the manager "kubectl", a conflict on a
    # field the annotation records with the live value is forced through.
    owned = created_by_client_side_apply(deployment())
    applied = deployment(replicas=3)
    result = ssa(owned, applied, manager="kubectl", now=T3)
    assert result["spec"]["replicas"] == 3
    assert "f:replicas" in fields(result, "kubectl")["f:spec"]
    assert "f:replicas" not in fields(result, "kubectl-client-side-apply")["f:spec"]
    # lastAppliedUpdater: the annotation now holds the applied configuration (Go's JSON).
    annotation = result["metadata"]["annotations"][LAST_APPLIED]
    assert annotation.endswith("\n")
    assert orjson.loads(annotation) == applied


def test_kubectl_still_conflicts_on_fields_changed_since_client_side_apply() -> None:
    owned = edited(created_by_client_side_apply(deployment()), "kubectl-edit", scale_to_five)
    status = conflict_of(lambda: ssa(owned, deployment(replicas=3), manager="kubectl", now=T3))
    assert status["message"] == (
        'Apply failed with 1 conflict: conflict with "kubectl-edit" using apps/v1: .spec.replicas'
    )


# --- apply: list-maps merge by key -----------------------------------------------------


def test_containers_merge_by_name() -> None:
    first = stored(ssa(None, deployment(), manager="ci"))
    injected = edited(
        first,
        "injector",
        lambda obj: obj["spec"]["template"]["spec"]["containers"].append(
            {"name": "log", "image": "busybox:1.36"}
        ),
    )
    result = ssa(stored(injected), deployment(image="nginx:1.28"), manager="ci", now=T3)
    containers = result["spec"]["template"]["spec"]["containers"]
    assert [(c["name"], c["image"]) for c in containers] == [
        ("web", "nginx:1.28"),
        ("log", "busybox:1.36"),
    ]
    assert containers[0]["ports"] == [{"containerPort": 80}]
    injector = fields(result, "injector")["f:spec"]["f:template"]["f:spec"]["f:containers"]
    assert injector == {'k:{"name":"log"}': {".": {}, "f:image": {}, "f:name": {}}}


def test_applier_dropping_a_container_removes_it() -> None:
    first = stored(ssa(None, deployment(sidecar=True), manager="ci"))
    result = ssa(first, deployment(), manager="ci", now=T2)
    assert [c["name"] for c in result["spec"]["template"]["spec"]["containers"]] == ["web"]


# --- apply: other upstream rules -------------------------------------------------------


def test_first_apply_to_an_untracked_object_credits_what_it_holds() -> None:
    # skipNonAppliedManager: fields of an object without managedFields go to
    # "before-first-apply", and so conflict like any updater's.
    untracked = stored(deployment())
    status = conflict_of(lambda: ssa(untracked, deployment(replicas=3), manager="ci", now=T2))
    assert status["message"].startswith(
        'Apply failed with 1 conflict: conflict with "before-first-apply" using apps/v1'
    )
    result = ssa(untracked, deployment(), manager="ci", now=T2)
    assert set(entries(result)) == {"before-first-apply", "ci"}


def test_reset_fields_are_not_owned_by_the_applier() -> None:
    # A strategy's reset fields (status on the main resource) are filtered out.
    applied = {**deployment(), "status": {"replicas": 2}}
    result = ssa(None, applied, reset_fields=("status",))
    assert "f:status" not in fields(result, "kubectl")


@pytest.mark.parametrize(
    ("applied", "code", "message"),
    [
        pytest.param(
            {**deployment(), "apiVersion": "apps/v1beta1"},
            400,
            "invalid object type: apps/v1beta1, Kind=Deployment",
            id="other-version",
        ),
        pytest.param(
            {**deployment(), "metadata": {"name": "web", "managedFields": []}},
            400,
            "metadata.managedFields must be nil",
            id="managed-fields",
        ),
        pytest.param(
            {
                **deployment(),
                "spec": {"template": {"spec": {"containers": [{"name": "a"}, {"name": "a"}]}}},
            },
            500,
            "failed to create typed patch object (default/web; apps/v1, Kind=Deployment): "
            '.spec.template.spec.containers: duplicate entries for key [name="a"]',
            id="duplicate-key",
        ),
        pytest.param(
            {**deployment(), "spec": {"template": {"spec": {"containers": [{"image": "x"}]}}}},
            500,
            "failed to create typed patch object (default/web; apps/v1, Kind=Deployment): "
            ".spec.template.spec.containers: element 0: associative list with keys has an "
            'element that omits key field "name" (and doesn\'t have default value)',
            id="missing-key",
        ),
    ],
)
def test_invalid_configurations(applied: Object, code: int, message: str) -> None:
    with pytest.raises(ApiError) as raised:
        apply(
            None,
            applied,
            manager="ci",
            node=DEPLOYMENT,
            force=False,
            api_version="apps/v1",
            now=T1,
        )
    assert (raised.value.code, raised.value.message) == (code, message)


def test_custom_resource_without_schema_owns_free_maps_item_by_item() -> None:
    # Without a schema every map is granular and every key is a free key, so
    # map entries that hold fields are owned themselves too (".").
    widget = {
        "apiVersion": "example.com/v1",
        "kind": "Widget",
        "metadata": {"name": "w"},
        "spec": {"size": 3, "ports": [1, 2], "owner": {"team": "a"}},
    }
    result = apply(
        None, widget, manager="ci", node=None, force=False, api_version="example.com/v1", now=T1
    )
    assert fields(result, "ci") == {
        "f:spec": {".": {}, "f:owner": {".": {}, "f:team": {}}, "f:ports": {}, "f:size": {}}
    }


# --- updates ---------------------------------------------------------------------------


def test_create_owns_every_field() -> None:
    # `kubectl create configmap`: the creator owns what it created; "." on
    # f:data because the empty ConfigMap has no data map.
    result = write(None, configmap({"key": "value"}), "kubectl-create")
    assert result["metadata"]["managedFields"] == [
        {
            "manager": "kubectl-create",
            "operation": "Update",
            "apiVersion": "v1",
            "time": T1,
            "fieldsType": "FieldsV1",
            "fieldsV1": {"f:data": {".": {}, "f:key": {}}},
        }
    ]


def test_create_of_a_deployment_does_not_own_the_structs_that_always_exist() -> None:
    # The empty Go Deployment has spec, spec.template and its spec, and a null
    # containers list: a real `kubectl create` shows no "." on them, but "." on
    # the labels it created.
    result = write(None, deployment(), "kubectl-create")
    spec = fields(result, "kubectl-create")["f:spec"]
    assert "." not in spec
    assert "." not in spec["f:template"]
    assert "." not in spec["f:template"]["f:spec"]
    assert "." not in spec["f:template"]["f:spec"]["f:containers"]
    assert spec["f:template"]["f:metadata"]["f:labels"] == {".": {}, "f:app": {}}


def test_update_moves_changed_fields_to_the_writer() -> None:
    created = stored(write(None, stored(configmap({"a": "1", "b": "2"})), "kubectl-create"))
    result = edited(created, "kubectl-edit", lambda obj: obj["data"].update(a="10"))
    assert fields(result, "kubectl-create") == {"f:data": {".": {}, "f:b": {}}}
    assert fields(result, "kubectl-edit") == {"f:data": {"f:a": {}}}
    assert entries(result)["kubectl-create"]["time"] == T1
    assert entries(result)["kubectl-edit"]["time"] == T2


def test_updates_by_one_manager_share_one_entry() -> None:
    created = stored(write(None, stored(configmap({"a": "1", "b": "2"})), "kubectl-create"))
    once = stored(edited(created, "kubectl-edit", lambda obj: obj["data"].update(a="10")))
    new = copy.deepcopy(once)
    new["data"]["b"] = "20"
    twice = write(once, new, "kubectl-edit", now=T3)
    assert [e["manager"] for e in twice["metadata"]["managedFields"]] == [
        "kubectl-create",
        "kubectl-edit",
    ]
    # The creator keeps the data map it created; the editor owns both keys.
    assert fields(twice, "kubectl-create") == {"f:data": {}}
    assert fields(twice, "kubectl-edit") == {"f:data": {"f:a": {}, "f:b": {}}}
    assert entries(twice)["kubectl-edit"]["time"] == T3


def test_each_api_version_of_an_updater_gets_its_own_entry() -> None:
    created = stored(write(None, stored(configmap({"a": "1"})), "ctl"))
    new = copy.deepcopy(created)
    new["data"]["b"] = "2"
    result = track_update(created, new, manager="ctl", node=CONFIGMAP, api_version="v2", now=T2)
    assert [(e["manager"], e["apiVersion"]) for e in result["metadata"]["managedFields"]] == [
        ("ctl", "v1"),
        ("ctl", "v2"),
    ]


def test_update_without_changes_keeps_entries_and_time() -> None:
    created = stored(write(None, stored(configmap({"a": "1"})), "kubectl-create"))
    result = write(created, copy.deepcopy(created), "kubectl-edit", now=T2)
    assert result["metadata"]["managedFields"] == created["metadata"]["managedFields"]


def test_removed_field_leaves_every_manager() -> None:
    created = stored(write(None, stored(configmap({"a": "1", "b": "2"})), "kubectl-create"))
    result = edited(created, "kubectl-edit", lambda obj: obj["data"].pop("b"))
    assert fields(result, "kubectl-create") == {"f:data": {".": {}, "f:a": {}}}
    assert "kubectl-edit" not in entries(result)


def test_subresource_writer_is_told_apart() -> None:
    created = stored(write(None, stored(configmap({"a": "1"})), "kubectl-create"))
    new = copy.deepcopy(created)
    new["data"]["a"] = "2"
    result = write(created, new, "controller", subresource="status")
    assert entries(result)["controller"]["subresource"] == "status"


# --- updates: managedFields sent by the client -----------------------------------------


@pytest.mark.parametrize("sent", [[], [{}]], ids=["empty-list", "one-empty-entry"])
def test_client_clears_managed_fields_and_tracking_stops(sent: list[Any]) -> None:
    # Upstream's isResetManagedFields, then skipNonAppliedManager: an existing
    # object without entries is not tracked until the next apply.
    created = stored(write(None, stored(configmap({"a": "1"})), "kubectl-create"))
    cleared = copy.deepcopy(created)
    cleared["metadata"]["managedFields"] = sent
    result = write(created, cleared, "kubectl-edit", now=T2)
    assert "managedFields" not in result["metadata"]
    changed = copy.deepcopy(result)
    changed["data"]["a"] = "2"
    assert "managedFields" not in write(result, changed, "kubectl-edit", now=T3)["metadata"]


def test_client_sent_entries_are_taken_as_given() -> None:
    created = stored(write(None, stored(configmap({"a": "1", "b": "2"})), "kubectl-create"))
    given = [
        {
            "manager": "owner",
            "operation": "Apply",
            "apiVersion": "v1",
            "time": "2024-05-01T09:00:00+02:00",
            "fieldsType": "FieldsV1",
            "fieldsV1": {"f:data": {"f:b": {}, "f:a": {}}},
        }
    ]
    new = copy.deepcopy(created)
    new["metadata"]["managedFields"] = given
    result = write(created, new, "kubectl-replace", now=T2)
    assert result["metadata"]["managedFields"] == [
        {
            "manager": "owner",
            "operation": "Apply",
            "apiVersion": "v1",
            "time": "2024-05-01T07:00:00Z",
            "fieldsType": "FieldsV1",
            "fieldsV1": {"f:data": {"f:a": {}, "f:b": {}}},
        }
    ]


@pytest.mark.parametrize(
    "invalid",
    [
        {"manager": "x", "operation": "Patch", "apiVersion": "v1", "fieldsType": "FieldsV1"},
        {"manager": "x", "operation": "Update", "fieldsType": "FieldsV1"},
        {"manager": "x", "operation": "Update", "apiVersion": "v1", "fieldsType": "FieldsV2"},
        {"manager": "x", "operation": "Update", "apiVersion": "v1"},
        {
            "manager": "x",
            "operation": "Update",
            "apiVersion": "v1",
            "fieldsType": "FieldsV1",
            "fieldsV1": {"f": {}},
        },
    ],
    ids=["operation", "api-version", "fields-type", "no-fields-type", "bad-element"],
)
def test_invalid_client_entries_fall_back_to_the_stored_ones(invalid: Object) -> None:
    created = stored(write(None, stored(configmap({"a": "1"})), "kubectl-create"))
    new = copy.deepcopy(created)
    new["metadata"]["managedFields"] = [invalid]
    result = write(created, new, "kubectl-replace", now=T2)
    assert result["metadata"]["managedFields"] == created["metadata"]["managedFields"]


def test_subresource_writes_ignore_sent_entries() -> None:
    created = stored(write(None, stored(configmap({"a": "1"})), "kubectl-create"))
    new = copy.deepcopy(created)
    new["metadata"]["managedFields"] = []
    result = write(created, new, "controller", subresource="status")
    assert result["metadata"]["managedFields"] == created["metadata"]["managedFields"]


def test_more_than_ten_updaters_merge_the_oldest_into_ancient_changes() -> None:
    current = stored(write(None, stored(configmap({"k0": "v"})), "m00", now="2024-05-01T00:00:00Z"))
    for index in range(1, 12):
        new = copy.deepcopy(current)
        new["data"][f"k{index}"] = "v"
        current = write(current, new, f"m{index:02}", now=f"2024-05-01T00:{index:02}:00Z")
    managers = [entry["manager"] for entry in current["metadata"]["managedFields"]]
    assert len(managers) == 10
    assert managers[0] == "ancient-changes"
    assert fields(current, "ancient-changes") == {
        "f:data": {".": {}, "f:k0": {}, "f:k1": {}, "f:k2": {}}
    }
    assert entries(current)["ancient-changes"]["time"] == "2024-05-01T00:02:00Z"


def test_inputs_are_not_mutated() -> None:
    current = stored(ssa(None, deployment(), manager="ci"))
    applied = deployment(replicas=4, sidecar=True)
    before = copy.deepcopy((current, applied))
    result = ssa(current, applied, manager="ci", now=T2)
    result["spec"]["template"]["spec"]["containers"][0]["image"] = "changed"
    assert (current, applied) == before


# --- default manager -------------------------------------------------------------------


@pytest.mark.parametrize(
    ("user_agent", "manager"),
    [
        ("kubectl/v1.31.0 (linux/amd64) kubernetes/9edcffc", "kubectl"),
        ("kubectl-client-side-apply", "kubectl-client-side-apply"),
        ("Go-http-client/2.0", "Go-http-client"),
        ("OpenAPI-Generator/31.0.0/python", "OpenAPI-Generator"),
        (
            "kube-controller-manager/v1.31.0 (linux/amd64) kubernetes/9edcffc/"
            "system:serviceaccount:kube-system:deployment-controller",
            "kube-controller-manager",
        ),
        ("", ""),
        ("tab\tbed/1.0", "tabbed"),
        ("x" * 200, "x" * 128),
        ("é" * 65, "é" * 64),
    ],
)
def test_default_manager(user_agent: str, manager: str) -> None:
    assert default_manager(user_agent) == manager


def test_update_of_an_untracked_object_keeps_it_untracked() -> None:
    # skipNonAppliedManager: only a create or an apply starts tracking.
    untracked = stored(configmap({"a": "1"}))
    changed = copy.deepcopy(untracked)
    changed["data"]["a"] = "2"
    assert "managedFields" not in write(untracked, changed, "kubectl-edit")["metadata"]


def test_appliers_share_a_set_list_item_by_item() -> None:
    # metadata.finalizers is a set: each applier owns its own items (v:"...").
    def finalizing(*finalizers: str) -> Object:
        return {
            "apiVersion": "v1",
            "kind": "ConfigMap",
            "metadata": {"name": "settings", "finalizers": list(finalizers)},
        }

    first = stored(ssa(None, finalizing("a.example.com/x"), manager="alice"))
    both = stored(ssa(first, finalizing("b.example.com/y"), manager="bob", now=T2))
    assert both["metadata"]["finalizers"] == ["a.example.com/x", "b.example.com/y"]
    assert fields(both, "bob") == {"f:metadata": {"f:finalizers": {'v:"b.example.com/y"': {}}}}
    result = ssa(both, finalizing(), manager="alice", now=T3)
    assert result["metadata"]["finalizers"] == ["b.example.com/y"]
    assert "alice" not in entries(result)


CRONTAB = {
    "type": "object",
    "properties": {
        "spec": {
            "type": "object",
            "properties": {
                "schedule": {"type": "string"},
                "ports": {
                    "type": "array",
                    "x-kubernetes-list-type": "map",
                    "x-kubernetes-list-map-keys": ["port", "protocol"],
                    "items": {
                        "type": "object",
                        "properties": {
                            "port": {"type": "integer"},
                            "protocol": {"type": "string", "default": "TCP"},
                        },
                    },
                },
                "extra": {"type": "object", "x-kubernetes-preserve-unknown-fields": True},
            },
        }
    },
}


def test_custom_resource_with_a_schema() -> None:
    # A CRD's key defaults name items that omit the key; metadata is ObjectMeta
    # whatever the CRD says, so labels are not free keys of an unknown map.
    crontab = {
        "apiVersion": "stable.example.com/v1",
        "kind": "CronTab",
        "metadata": {"name": "nightly", "labels": {"team": "ops"}},
        "spec": {"schedule": "0 3 * * *", "ports": [{"port": 80}], "extra": {"a": {"b": 1}}},
    }
    result = apply(
        None,
        crontab,
        manager="ci",
        node=CRONTAB,
        force=False,
        api_version="stable.example.com/v1",
        now=T1,
    )
    assert fields(result, "ci") == {
        "f:metadata": {"f:labels": {"f:team": {}}},
        "f:spec": {
            "f:extra": {"f:a": {".": {}, "f:b": {}}},
            "f:ports": {'k:{"port":80,"protocol":"TCP"}': {".": {}, "f:port": {}}},
            "f:schedule": {},
        },
    }
