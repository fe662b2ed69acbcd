"""Strategic merge patch as kube-apiserver applies it (apimachinery v0.31 strategicpatch).

The expected results follow upstream's strategicpatch tests and docs
(contributors/devel/sig-api-machinery/strategic-merge-patch.md) and were checked
against upstream's own code, driven by the same schema.
"""

import copy

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from pynetes.api import schema
from pynetes.api.errors import ApiError
from pynetes.api.patch import apply_strategic_merge_patch

INVALID = "the server rejected our request due to an error in our request"


def node_of(group: str, version: str, kind: str) -> schema.Node:
    name = schema.definition_name(group, version, kind)
    assert name is not None
    return schema.definition(name)


POD = node_of("", "v1", "Pod")
DEPLOYMENT = node_of("apps", "v1", "Deployment")
SERVICE = node_of("", "v1", "Service")
NODE = node_of("", "v1", "Node")
PDB = node_of("policy", "v1", "PodDisruptionBudget")


def pod() -> dict:
    return {
        "apiVersion": "v1",
        "kind": "Pod",
        "metadata": {
            "name": "web",
            "labels": {"app": "web"},
            "finalizers": ["example.com/a", "example.com/b"],
            "ownerReferences": [
                {"apiVersion": "apps/v1", "kind": "ReplicaSet", "name": "web-1", "uid": "u1"}
            ],
        },
        "spec": {
            "containers": [
                {
                    "name": "web",
                    "image": "nginx:1.25",
                    "ports": [{"containerPort": 80, "name": "http"}, {"containerPort": 443}],
                    "env": [{"name": "A", "value": "1"}, {"name": "B", "value": "2"}],
                    "volumeMounts": [
                        {"name": "data", "mountPath": "/data"},
                        {"name": "cfg", "mountPath": "/etc/cfg"},
                    ],
                    "args": ["--port", "80"],
                },
                {"name": "log", "image": "fluentd"},
            ],
            "volumes": [
                {"name": "data", "emptyDir": {}},
                {"name": "cfg", "configMap": {"name": "c"}},
            ],
            "tolerations": [{"key": "a", "operator": "Exists"}],
        },
        "status": {
            "conditions": [
                {"type": "Ready", "status": "False"},
                {"type": "PodScheduled", "status": "True"},
            ]
        },
    }


def deployment() -> dict:
    return {
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "metadata": {"name": "web", "annotations": {"deployment.kubernetes.io/revision": "1"}},
        "spec": {
            "replicas": 2,
            "strategy": {
                "type": "RollingUpdate",
                "rollingUpdate": {"maxSurge": "25%", "maxUnavailable": "25%"},
            },
            "template": {
                "metadata": {"labels": {"app": "web"}},
                "spec": {
                    "containers": [
                        {"name": "web", "image": "nginx:1.25"},
                        {"name": "log", "image": "fluentd"},
                    ]
                },
            },
        },
    }


def service() -> dict:
    return {
        "apiVersion": "v1",
        "kind": "Service",
        "metadata": {"name": "web"},
        "spec": {
            "selector": {"app": "web"},
            "ports": [
                {"name": "http", "port": 80, "targetPort": 8080},
                {"name": "https", "port": 443, "targetPort": 8443},
            ],
        },
    }


def node() -> dict:
    return {
        "apiVersion": "v1",
        "kind": "Node",
        "metadata": {"name": "n1"},
        "spec": {"taints": [{"key": "dedicated", "value": "db", "effect": "NoSchedule"}]},
        "status": {
            "conditions": [{"type": "Ready", "status": "True"}],
            "addresses": [{"type": "InternalIP", "address": "10.0.0.1"}],
        },
    }


def with_changes(document: dict, change) -> dict:
    changed = copy.deepcopy(document)
    change(changed)
    return changed


def pod_containers(document: dict) -> list:
    return document["spec"]["containers"]


def template_containers(document: dict) -> list:
    return document["spec"]["template"]["spec"]["containers"]


def names(items: list, key: str = "name") -> list:
    return [item[key] for item in items]


# Requests kubectl sends, and what the apiserver stores.


def test_kubectl_apply_changes_an_image_with_set_element_order():
    patch = {
        "spec": {
            "template": {
                "spec": {
                    "$setElementOrder/containers": [{"name": "web"}, {"name": "log"}],
                    "containers": [{"image": "nginx:1.26", "name": "web"}],
                }
            }
        }
    }
    expected = with_changes(
        deployment(), lambda d: template_containers(d)[0].update(image="nginx:1.26")
    )
    assert apply_strategic_merge_patch(deployment(), patch, DEPLOYMENT) == expected


def test_kubectl_apply_removes_and_adds_containers_in_the_applied_order():
    patch = {
        "spec": {
            "template": {
                "spec": {
                    "$setElementOrder/containers": [{"name": "sidecar"}, {"name": "web"}],
                    "containers": [
                        {"name": "sidecar", "image": "envoy"},
                        {"$patch": "delete", "name": "log"},
                    ],
                }
            }
        }
    }
    result = apply_strategic_merge_patch(deployment(), patch, DEPLOYMENT)
    assert template_containers(result) == [
        {"name": "sidecar", "image": "envoy"},
        {"name": "web", "image": "nginx:1.25"},
    ]


def test_kubectl_cordon():
    result = apply_strategic_merge_patch(node(), {"spec": {"unschedulable": True}}, NODE)
    assert result == with_changes(node(), lambda n: n["spec"].update(unschedulable=True))


def test_kubectl_apply_records_the_last_applied_configuration():
    annotation = "kubectl.kubernetes.io/last-applied-configuration"
    patch = {"metadata": {"annotations": {annotation: '{"kind":"Deployment"}\n'}}}
    result = apply_strategic_merge_patch(deployment(), patch, DEPLOYMENT)
    assert result["metadata"]["annotations"] == {
        "deployment.kubernetes.io/revision": "1",
        annotation: '{"kind":"Deployment"}\n',
    }


def test_kubectl_rollout_restart():
    restarted = "kubectl.kubernetes.io/restartedAt"
    patch = {
        "spec": {"template": {"metadata": {"annotations": {restarted: "2024-05-01T10:00:00Z"}}}}
    }
    result = apply_strategic_merge_patch(deployment(), patch, DEPLOYMENT)
    assert result["spec"]["template"]["metadata"] == {
        "labels": {"app": "web"},
        "annotations": {restarted: "2024-05-01T10:00:00Z"},
    }


def test_kubectl_taint_replaces_the_taints():
    # Node.spec.taints has no patch strategy: the list is atomic.
    taints = [
        {"key": "dedicated", "value": "db", "effect": "NoSchedule"},
        {"key": "gpu", "effect": "NoExecute"},
    ]
    result = apply_strategic_merge_patch(node(), {"spec": {"taints": taints}}, NODE)
    assert result["spec"]["taints"] == taints
    result = apply_strategic_merge_patch(node(), {"spec": {"taints": [taints[1]]}}, NODE)
    assert result["spec"]["taints"] == [taints[1]]


def test_kubectl_set_image_on_a_pod():
    patch = {"spec": {"containers": [{"name": "log", "image": "fluent-bit"}]}}
    result = apply_strategic_merge_patch(pod(), patch, POD)
    assert pod_containers(result)[1] == {"name": "log", "image": "fluent-bit"}
    assert pod_containers(result)[0] == pod_containers(pod())[0]


# Lists merged by their merge key.


@pytest.mark.parametrize(
    ("document", "kind", "patch", "read", "expected"),
    [
        # A new element the original lacks comes first: upstream's mergeSortedSlice
        # takes a patch item before a server item unless both are in the original.
        (
            pod(),
            POD,
            {"spec": {"containers": [{"name": "debug", "image": "busybox"}]}},
            lambda d: names(pod_containers(d)),
            ["debug", "web", "log"],
        ),
        # ...but after an original element the patch lists before it.
        (
            pod(),
            POD,
            {"spec": {"containers": [{"name": "log"}, {"name": "debug", "image": "busybox"}]}},
            lambda d: names(pod_containers(d)),
            ["web", "log", "debug"],
        ),
        (
            pod(),
            POD,
            {
                "spec": {
                    "containers": [
                        {"name": "web", "ports": [{"containerPort": 80, "protocol": "TCP"}]}
                    ]
                }
            },
            lambda d: pod_containers(d)[0]["ports"],
            [{"containerPort": 80, "name": "http", "protocol": "TCP"}, {"containerPort": 443}],
        ),
        (
            pod(),
            POD,
            {"spec": {"containers": [{"name": "web", "env": [{"name": "B", "value": "3"}]}]}},
            lambda d: pod_containers(d)[0]["env"],
            [{"name": "A", "value": "1"}, {"name": "B", "value": "3"}],
        ),
        (
            pod(),
            POD,
            {
                "spec": {
                    "containers": [
                        {"name": "web", "volumeMounts": [{"mountPath": "/data", "readOnly": True}]}
                    ]
                }
            },
            lambda d: pod_containers(d)[0]["volumeMounts"],
            [
                {"name": "data", "mountPath": "/data", "readOnly": True},
                {"name": "cfg", "mountPath": "/etc/cfg"},
            ],
        ),
        # Volumes merge by name and carry $retainKeys: the volume source is a union.
        (
            pod(),
            POD,
            {
                "spec": {
                    "volumes": [
                        {
                            "$retainKeys": ["name", "secret"],
                            "name": "cfg",
                            "secret": {"secretName": "s"},
                        }
                    ]
                }
            },
            lambda d: d["spec"]["volumes"],
            [{"name": "data", "emptyDir": {}}, {"name": "cfg", "secret": {"secretName": "s"}}],
        ),
        (
            service(),
            SERVICE,
            {"spec": {"ports": [{"port": 443, "targetPort": 9443}]}},
            lambda d: d["spec"]["ports"],
            [
                {"name": "http", "port": 80, "targetPort": 8080},
                {"name": "https", "port": 443, "targetPort": 9443},
            ],
        ),
        (
            pod(),
            POD,
            {"status": {"conditions": [{"type": "Ready", "status": "True"}]}},
            lambda d: d["status"]["conditions"],
            [{"type": "Ready", "status": "True"}, {"type": "PodScheduled", "status": "True"}],
        ),
        (
            node(),
            NODE,
            {
                "status": {
                    "conditions": [{"type": "Ready", "status": "False", "reason": "KubeletDown"}]
                }
            },
            lambda d: d["status"]["conditions"],
            [{"type": "Ready", "status": "False", "reason": "KubeletDown"}],
        ),
        (
            pod(),
            POD,
            {"metadata": {"ownerReferences": [{"uid": "u1", "controller": True}]}},
            lambda d: d["metadata"]["ownerReferences"],
            [
                {
                    "apiVersion": "apps/v1",
                    "kind": "ReplicaSet",
                    "name": "web-1",
                    "uid": "u1",
                    "controller": True,
                }
            ],
        ),
        # A list of scalars with strategy merge is a set.
        (
            pod(),
            POD,
            {"metadata": {"finalizers": ["example.com/b", "example.com/c"]}},
            lambda d: d["metadata"]["finalizers"],
            ["example.com/a", "example.com/b", "example.com/c"],
        ),
        # A list without a strategy is replaced.
        (
            pod(),
            POD,
            {"spec": {"containers": [{"name": "web", "args": ["--port", "8080"]}]}},
            lambda d: pod_containers(d)[0]["args"],
            ["--port", "8080"],
        ),
        (
            pod(),
            POD,
            {"spec": {"tolerations": [{"key": "b", "operator": "Exists"}]}},
            lambda d: d["spec"]["tolerations"],
            [{"key": "b", "operator": "Exists"}],
        ),
    ],
)
def test_merge_key_lists(document, kind, patch, read, expected):
    assert read(apply_strategic_merge_patch(document, patch, kind)) == expected


# Directives.


@pytest.mark.parametrize(
    ("document", "kind", "patch", "read", "expected"),
    [
        (
            pod(),
            POD,
            {"spec": {"containers": [{"name": "log", "$patch": "delete"}]}},
            lambda d: names(pod_containers(d)),
            ["web"],
        ),
        (
            pod(),
            POD,
            {"spec": {"containers": [{"name": "solo", "image": "x"}, {"$patch": "replace"}]}},
            lambda d: pod_containers(d),
            [{"name": "solo", "image": "x"}],
        ),
        # $patch: replace in a map takes the map as given.
        (
            deployment(),
            DEPLOYMENT,
            {"spec": {"template": {"metadata": {"$patch": "replace", "labels": {"v": "2"}}}}},
            lambda d: d["spec"]["template"]["metadata"],
            {"labels": {"v": "2"}},
        ),
        # $patch: delete in a map empties it (null removes the key instead).
        (
            deployment(),
            DEPLOYMENT,
            {"spec": {"strategy": {"rollingUpdate": {"$patch": "delete"}}}},
            lambda d: d["spec"]["strategy"],
            {"type": "RollingUpdate", "rollingUpdate": {}},
        ),
        (
            deployment(),
            DEPLOYMENT,
            {"spec": {"strategy": {"rollingUpdate": None}}},
            lambda d: d["spec"]["strategy"],
            {"type": "RollingUpdate"},
        ),
        # What kubectl apply sends to switch a Deployment to Recreate.
        (
            deployment(),
            DEPLOYMENT,
            {"spec": {"strategy": {"$retainKeys": ["type"], "type": "Recreate"}}},
            lambda d: d["spec"]["strategy"],
            {"type": "Recreate"},
        ),
        (
            pod(),
            POD,
            {"metadata": {"$deleteFromPrimitiveList/finalizers": ["example.com/a", "nope"]}},
            lambda d: d["metadata"]["finalizers"],
            ["example.com/b"],
        ),
        # Reorder only: the list is not in the patch.
        (
            pod(),
            POD,
            {"spec": {"$setElementOrder/containers": [{"name": "log"}, {"name": "web"}]}},
            lambda d: names(pod_containers(d)),
            ["log", "web"],
        ),
        (
            pod(),
            POD,
            {
                "metadata": {
                    "$setElementOrder/finalizers": [
                        "example.com/c",
                        "example.com/b",
                        "example.com/a",
                    ],
                    "finalizers": ["example.com/c"],
                }
            },
            lambda d: d["metadata"]["finalizers"],
            ["example.com/c", "example.com/b", "example.com/a"],
        ),
        # An element the order does not name stays after the live ones before it,
        # and new elements take their place first.
        (
            pod(),
            POD,
            {
                "spec": {
                    "containers": [{"name": "web", "image": "nginx:1.26"}, {"name": "new"}],
                    "$setElementOrder/containers": [{"name": "web"}, {"name": "new"}],
                }
            },
            lambda d: names(pod_containers(d)),
            ["web", "new", "log"],
        ),
        # The replace strategy of PodDisruptionBudget.spec.selector.
        (
            {"spec": {"selector": {"matchLabels": {"a": "1"}}, "minAvailable": 1}},
            PDB,
            {"spec": {"selector": {"matchLabels": {"b": "2"}}}},
            lambda d: d["spec"],
            {"selector": {"matchLabels": {"b": "2"}}, "minAvailable": 1},
        ),
        (
            pod(),
            POD,
            {"metadata": {"labels": {"app": None, "tier": "fe"}}},
            lambda d: d["metadata"]["labels"],
            {"tier": "fe"},
        ),
        # A $patch in a value the original lacks is dropped with it.
        (
            pod(),
            POD,
            {"spec": {"securityContext": {"$patch": "replace", "runAsUser": 1}}},
            lambda d: "securityContext" in d["spec"],
            False,
        ),
        (
            pod(),
            POD,
            {"spec": {"affinity": {"nodeAffinity": None, "podAffinity": {"x": None}}}},
            lambda d: d["spec"]["affinity"],
            {"podAffinity": {}},
        ),
    ],
)
def test_directives(document, kind, patch, read, expected):
    assert read(apply_strategic_merge_patch(document, patch, kind)) == expected


def test_patch_delete_at_the_top_empties_the_object():
    assert apply_strategic_merge_patch(pod(), {"$patch": "delete"}, POD) == {}


def test_fields_unknown_to_the_schema_merge_maps_and_replace_lists():
    document = {"spec": {"extra": {"a": 1, "list": [{"name": "x"}]}}}
    patch = {"spec": {"extra": {"b": 2, "list": [{"name": "y"}]}}}
    expected = {"spec": {"extra": {"a": 1, "b": 2, "list": [{"name": "y"}]}}}
    assert apply_strategic_merge_patch(document, patch, POD) == expected
    assert apply_strategic_merge_patch(document, patch, None) == expected


def test_list_type_map_without_a_patch_strategy_is_replaced():
    # Upstream reads only x-kubernetes-patch-strategy: CSR conditions (listType=map,
    # no patchStrategy) are replaced, as kubectl's own patches expect.
    csr = node_of("certificates.k8s.io", "v1", "CertificateSigningRequest")
    document = {"status": {"conditions": [{"type": "Approved", "status": "True"}]}}
    patch = {"status": {"conditions": [{"type": "Failed", "status": "True"}]}}
    result = apply_strategic_merge_patch(document, patch, csr)
    assert result["status"]["conditions"] == [{"type": "Failed", "status": "True"}]


def test_inputs_are_untouched_and_the_result_is_not_shared():
    document, patch = (
        pod(),
        {
            "metadata": {"labels": {"x": "1"}},
            "spec": {"containers": [{"name": "new", "env": [{"name": "A"}]}]},
        },
    )
    before = copy.deepcopy(patch)
    result = apply_strategic_merge_patch(document, patch, POD)
    pod_containers(result)[0]["env"].append({"name": "B"})
    assert (document, patch) == (pod(), before)


def test_null_patch_changes_nothing():
    assert apply_strategic_merge_patch(pod(), None, POD) == pod()


# Errors, as kube-apiserver answers them.


@pytest.mark.parametrize(
    ("patch", "code", "reason", "message"),
    [
        # Merge-key list element without its key: a plain Go error, a 500 without reason.
        (
            {"spec": {"containers": [{"image": "nginx"}]}},
            500,
            "",
            "map: map[image:nginx] does not contain declared merge key: name",
        ),
        (
            {"spec": {"containers": [{"$patch": "delete", "image": "nginx"}]}},
            500,
            "",
            "map: map[$patch:delete image:nginx] does not contain declared merge key: name",
        ),
        (
            {"spec": {"containers": [{"name": "web", "$patch": "merge"}]}},
            500,
            "",
            "merging lists cannot yet be specified in the patch",
        ),
        (
            {"spec": {"containers": [{"name": "web", "$patch": "bogus"}]}},
            500,
            "",
            "unknown patch type: bogus in map: map[$patch:bogus name:web]",
        ),
        (
            {"metadata": {"$patch": "merge", "labels": {"a": "b"}}},
            500,
            "",
            "unknown patch type: merge in map: map[$patch:merge labels:map[a:b]]",
        ),
        (
            {"spec": {"$patch": 5}},
            500,
            "",
            "unknown patch type: %!s(int64=5) in map: map[$patch:5]",
        ),
        (
            {"metadata": {"finalizers": [1]}},
            500,
            "",
            "list element types are not identical: [[example.com/a example.com/b] [1]]",
        ),
        (
            {
                "spec": {
                    "$setElementOrder/containers": [{"name": "log"}, {"name": "web"}],
                    "containers": [{"name": "web"}, {"name": "log"}],
                }
            },
            500,
            "",
            "The order in patch list:\n[map[name:web] map[name:log]]\n doesn't match "
            "$setElementOrder list:\n[map[name:log] map[name:web]]\n",
        ),
        (
            {"spec": {"$setElementOrder/containers": {"name": "web"}}},
            500,
            "",
            "expected a []interface {}, but received a map[string]interface {}",
        ),
        (
            {"spec": {"$retainKeys": "volumes"}},
            400,
            "BadRequest",
            "invalid patch format of retainKeys",
        ),
        (
            {"spec": {"$retainKeys": ["volumes"], "containers": []}},
            400,
            "BadRequest",
            "invalid patch format of retainKeys",
        ),
        (
            {"spec": {"$setElementOrderContainers": []}},
            400,
            "BadRequest",
            "invalid patch format of setElementOrder list",
        ),
        (
            {"metadata": {"$deleteFromPrimitiveList": ["a"]}},
            400,
            "BadRequest",
            "invalid patch format of primitive list",
        ),
    ],
)
def test_patches_that_cannot_apply(patch, code, reason, message):
    with pytest.raises(ApiError) as caught:
        apply_strategic_merge_patch(pod(), patch, POD)
    error = caught.value
    assert (error.code, error.reason, error.message) == (code, reason, message)


def test_a_list_of_lists_is_a_422():
    # mergepatch.ErrNoListOfLists: kube-apiserver answers a generic 422.
    document = {"metadata": {"finalizers": []}}
    with pytest.raises(ApiError) as caught:
        apply_strategic_merge_patch(document, {"metadata": {"finalizers": [["a"]]}}, POD)
    error = caught.value
    assert (error.code, error.reason, error.message) == (422, "Invalid", INVALID)


@pytest.mark.parametrize(
    ("body", "kind"), [([{"op": "add"}], "array"), ("x", "string"), (5, "number"), (True, "bool")]
)
def test_a_body_that_is_not_an_object_is_a_400(body, kind):
    with pytest.raises(ApiError) as caught:
        apply_strategic_merge_patch(pod(), body, POD)
    error = caught.value
    assert (error.code, error.reason) == (400, "BadRequest")
    assert error.message == (
        f"json: cannot unmarshal {kind} into Go value of type map[string]interface {{}}"
    )


scalars = st.none() | st.booleans() | st.integers(-3, 3) | st.sampled_from(["web", "log", "x"])
keys = st.sampled_from(
    [
        "spec",
        "metadata",
        "containers",
        "name",
        "image",
        "env",
        "ports",
        "containerPort",
        "finalizers",
        "labels",
        "$patch",
        "$retainKeys",
        "$setElementOrder/containers",
        "$setElementOrder/finalizers",
        "$deleteFromPrimitiveList/finalizers",
        "$setElementOrder/env",
    ]
)
values = st.recursive(
    scalars | st.sampled_from(["delete", "replace", "merge"]),
    lambda children: st.lists(children, max_size=3) | st.dictionaries(keys, children, max_size=4),
    max_leaves=12,
)


@settings(max_examples=400, deadline=None)
@given(st.dictionaries(keys, values, max_size=4) | values)
def test_any_patch_either_applies_or_raises_an_api_error(patch):
    document = pod()
    try:
        apply_strategic_merge_patch(document, patch, POD)
    except ApiError as error:
        assert error.code in (400, 422, 500)
    assert document == pod()
