"""Structural validation: what kube-apiserver's decoder and validation say
about a body's types, unknown fields and required fields.

Upstream messages quoted in comments were seen from real 1.2x-1.31 servers.
"""

import copy

import orjson
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from pynetes.api.errors import FieldErrorType
from pynetes.api.validation.structural import (
    check_structure,
    decode_error,
    find_duplicate_fields,
    kind_node,
    missing_required,
    prune_unknown,
    quantity_problem,
    strict_decoding_error,
    strict_errors,
    time_problem,
    validate_structure,
)

POD = kind_node("", "v1", "Pod")
DEPLOYMENT = kind_node("apps", "v1", "Deployment")
SERVICE = kind_node("", "v1", "Service")


def pod(**container):
    return {
        "apiVersion": "v1",
        "kind": "Pod",
        "metadata": {"name": "web", "labels": {"app": "web"}},
        "spec": {"containers": [{"name": "web", "image": "nginx", **container}]},
    }


def type_errors(obj, node=POD):
    errors, _ = validate_structure(obj, node)
    return [error for error in errors if error.type is FieldErrorType.TYPE_INVALID]


def test_a_valid_pod_has_nothing_to_report():
    obj = pod(
        ports=[{"containerPort": 80, "protocol": "TCP"}],
        resources={"limits": {"cpu": "500m", "memory": 1073741824}},
        livenessProbe={"httpGet": {"port": "http", "path": "/"}, "periodSeconds": 5},
    )
    obj["status"] = {"startTime": "2024-05-01T10:00:00Z", "phase": "Running"}
    assert validate_structure(obj, POD) == ([], [])


@pytest.mark.parametrize(
    ("mutate", "path", "message"),
    [
        (
            lambda o: o["spec"].update(containers="web"),
            "spec.containers",
            "json: cannot unmarshal string into Go struct field PodSpec.spec.containers"
            " of type []v1.Container",
        ),
        (
            # Seen upstream: "... Go struct field EnvVar.spec.template.spec.containers.env.value
            # of type string": the field path has no list indices.
            lambda o: o["spec"]["containers"][0].update(env=[{"name": "A", "value": 1}]),
            "spec.containers[0].env[0].value",
            "json: cannot unmarshal number into Go struct field EnvVar.spec.containers.env.value"
            " of type string",
        ),
        (
            lambda o: o["spec"]["containers"][0].update(ports=[{"containerPort": "80"}]),
            "spec.containers[0].ports[0].containerPort",
            "json: cannot unmarshal string into Go struct field"
            " ContainerPort.spec.containers.ports.containerPort of type int32",
        ),
        (
            lambda o: o["spec"]["containers"][0].update(ports=[{"containerPort": 1.5}]),
            "spec.containers[0].ports[0].containerPort",
            "json: cannot unmarshal number 1.5 into Go struct field"
            " ContainerPort.spec.containers.ports.containerPort of type int32",
        ),
        (
            lambda o: o["spec"]["containers"][0].update(ports=[{"containerPort": 2**31}]),
            "spec.containers[0].ports[0].containerPort",
            "json: cannot unmarshal number 2147483648 into Go struct field"
            " ContainerPort.spec.containers.ports.containerPort of type int32",
        ),
        (
            lambda o: o["metadata"]["labels"].update(tier=3),
            "metadata.labels.tier",
            "json: cannot unmarshal number into Go struct field ObjectMeta.metadata.labels"
            " of type string",
        ),
        (
            lambda o: o.update(spec=[]),
            "spec",
            "json: cannot unmarshal array into Go struct field Pod.spec of type v1.PodSpec",
        ),
        (
            lambda o: o["spec"].update(hostNetwork="yes"),
            "spec.hostNetwork",
            "json: cannot unmarshal string into Go struct field PodSpec.spec.hostNetwork"
            " of type bool",
        ),
        (
            lambda o: o["spec"].update(nodeSelector=["a"]),
            "spec.nodeSelector",
            "json: cannot unmarshal array into Go struct field PodSpec.spec.nodeSelector"
            " of type map[string]string",
        ),
        (
            lambda o: o["spec"]["containers"][0].update(resources={"limits": []}),
            "spec.containers[0].resources.limits",
            "json: cannot unmarshal array into Go struct field"
            " ResourceRequirements.spec.containers.resources.limits of type v1.ResourceList",
        ),
        (
            lambda o: o["spec"]["containers"][0].update(args=["sleep", 10]),
            "spec.containers[0].args[1]",
            "json: cannot unmarshal number into Go struct field Container.spec.containers.args"
            " of type string",
        ),
    ],
)
def test_type_errors_are_worded_as_go_decoder_words_them(mutate, path, message):
    obj = pod()
    mutate(obj)
    errors = type_errors(obj)
    assert [(error.field, error.detail) for error in errors] == [(path, message)]


def test_the_400_carries_the_first_decode_error():
    obj = pod(ports=[{"containerPort": "80"}], args=[1])
    errors, _ = validate_structure(obj, POD)
    status = decode_error("Pod", "v1", errors).status()
    assert status["code"] == 400
    assert status["reason"] == "BadRequest"
    assert status["message"] == (
        'Pod in version "v1" cannot be handled as a Pod: json: cannot unmarshal string into'
        " Go struct field ContainerPort.spec.containers.ports.containerPort of type int32"
    )


def test_no_decode_error_without_type_errors():
    errors, _ = validate_structure({"spec": {"containers": []}}, POD)
    assert errors  # spec.containers: Required value
    assert decode_error("Pod", "v1", errors) is None


def test_an_unmarshaller_error_wins_over_an_earlier_type_error():
    # Go keeps the first type error but stops at once on an error returned by
    # a type's own UnmarshalJSON (here intstr.IntOrString, decoding an int32).
    service = {"spec": {"clusterIP": 1, "ports": [{"port": 80, "targetPort": True}]}}
    errors = type_errors(service, SERVICE)
    assert errors[0].detail == (
        "json: cannot unmarshal bool into Go struct field ServicePort.spec.ports.targetPort"
        " of type int32"
    )


@pytest.mark.parametrize("target", [8080, "http", "8080", None, 0])
def test_int_or_string_accepts_ints_and_strings(target):
    service = {"spec": {"ports": [{"port": 80, "targetPort": target}]}}
    assert type_errors(service, SERVICE) == []


@pytest.mark.parametrize("target", [1.5, [], {}, 2**40])
def test_int_or_string_rejects_anything_else(target):
    service = {"spec": {"ports": [{"port": 80, "targetPort": target}]}}
    assert [error.field for error in type_errors(service, SERVICE)] == ["spec.ports[0].targetPort"]


@pytest.mark.parametrize("quantity", ["500m", "1Gi", "1e3", "0.5", 2, 0.25, "+1.5Ki", " 1 "])
def test_quantities_accept_strings_and_numbers(quantity):
    assert type_errors(pod(resources={"requests": {"cpu": quantity}})) == []


@pytest.mark.parametrize(
    ("quantity", "message"),
    [
        (
            "lots",
            "quantities must match the regular expression"
            " '^([+-]?[0-9.]+)([eEinumkKMGTP]*[-+]?[0-9]*)$'",
        ),
        (True, "quantities must match the regular expression"),
        ("1.2.3", "unable to parse numeric part of quantity"),
        ("1iG", "unable to parse quantity's suffix"),
    ],
)
def test_bad_quantities_fail_the_decode(quantity, message):
    errors = type_errors(pod(resources={"requests": {"cpu": quantity}}))
    assert [error.field for error in errors] == ["spec.containers[0].resources.requests.cpu"]
    assert errors[0].detail.startswith(message)


def test_quantity_problem_accepts_valid_forms():
    assert quantity_problem("128Mi") is None
    assert quantity_problem("12E") is None


@pytest.mark.parametrize(
    ("value", "problem"),
    [
        ("2024-05-01T10:00:00Z", None),
        ("2024-05-01T10:00:00.123456789+02:00", None),
        (
            "2024-05-01",
            'parsing time "2024-05-01" as "2006-01-02T15:04:05Z07:00": cannot parse "" as "T"',
        ),
        (
            "yesterday",
            'parsing time "yesterday" as "2006-01-02T15:04:05Z07:00":'
            ' cannot parse "yesterday" as "2006"',
        ),
        ("2024-13-01T10:00:00Z", 'parsing time "2024-13-01T10:00:00Z": month out of range'),
        ("2023-02-29T10:00:00Z", 'parsing time "2023-02-29T10:00:00Z": day out of range'),
        ("2024-05-01T10:00:00Zjunk", 'parsing time "2024-05-01T10:00:00Zjunk": extra text: "junk"'),
    ],
)
def test_times_are_rfc3339(value, problem):
    assert time_problem(value, "2006-01-02T15:04:05Z07:00") == problem
    obj = pod()
    obj["metadata"]["creationTimestamp"] = value
    errors = type_errors(obj)
    assert [error.detail for error in errors] == ([] if problem is None else [problem])


def test_micro_time_wants_six_fraction_digits():
    lease = kind_node("coordination.k8s.io", "v1", "Lease")
    good = {"spec": {"renewTime": "2024-05-01T10:00:00.000001Z"}}
    bad = {"spec": {"renewTime": "2024-05-01T10:00:00Z"}}
    assert type_errors(good, lease) == []
    assert type_errors(bad, lease)[0].detail == (
        'parsing time "2024-05-01T10:00:00Z" as "2006-01-02T15:04:05.000000Z07:00":'
        ' cannot parse "Z" as ".000000"'
    )


def test_a_time_that_is_not_a_string():
    obj = pod()
    obj["metadata"]["creationTimestamp"] = 12
    assert type_errors(obj)[0].detail == (
        "json: cannot unmarshal number into Go struct field ObjectMeta.metadata.creationTimestamp"
        " of type string"
    )


def test_secret_data_must_be_base64():
    secret = kind_node("", "v1", "Secret")
    assert type_errors({"data": {"a": "aGVsbG8="}}, secret) == []
    errors = type_errors({"data": {"a": "hello!"}}, secret)
    assert errors[0].detail == "illegal base64 data at input byte 5"


def test_nulls_are_absent_values():
    obj = pod(ports=None, env=[{"name": "A", "value": None}])
    obj["spec"]["nodeSelector"] = None
    obj["metadata"]["creationTimestamp"] = None
    obj["status"] = None
    assert validate_structure(obj, POD) == ([], [])


def test_unknown_fields_at_every_depth():
    obj = pod(imagePullPolcy="Always", ports=[{"containerPort": 80, "hostport": 8080}])
    obj["spec"]["foo"] = 1
    obj["spec"]["volumes"] = [{"name": "v", "emptyDir": {"medium": "", "sizeLimt": "1Gi"}}]
    obj["metadata"]["lables"] = {}
    obj["Spec"] = {}  # field names are case-sensitive
    _, unknown = validate_structure(obj, POD)
    assert unknown == [
        "metadata.lables",
        "spec.containers[0].imagePullPolcy",
        "spec.containers[0].ports[0].hostport",
        "spec.foo",
        "spec.volumes[0].emptyDir.sizeLimt",
        "Spec",
    ]


def test_maps_take_any_key():
    obj = pod()
    obj["metadata"]["annotations"] = {"example.com/anything": "x"}
    obj["spec"]["nodeSelector"] = {"disk": "ssd"}
    assert validate_structure(obj, POD) == ([], [])


def test_unknown_fields_in_a_deployment_template():
    deployment = {
        "spec": {
            "selector": {"matchLabels": {"a": "b"}},
            "template": {"metadata": {"containers": []}, "spec": {"containers": []}},
        }
    }
    _, unknown = validate_structure(deployment, DEPLOYMENT)
    assert unknown == ["spec.template.metadata.containers"]


def test_strict_decoding_error_lists_every_field():
    # Seen upstream: Deployment in version "v1" cannot be handled as a Deployment:
    # strict decoding error: unknown field "spec.template.metadata.containers",
    # unknown field "spec.template.metadata.volumes"
    error = strict_decoding_error(
        "Deployment",
        "v1",
        ["spec.template.metadata.containers", "spec.template.metadata.volumes"],
    )
    assert error.status()["code"] == 400
    assert error.message == (
        'Deployment in version "v1" cannot be handled as a Deployment: strict decoding error:'
        ' unknown field "spec.template.metadata.containers",'
        ' unknown field "spec.template.metadata.volumes"'
    )


def test_strict_errors_are_the_warning_texts():
    assert strict_errors(["spec.foo", "spec.foo"], ["metadata.name"]) == [
        'duplicate field "metadata.name"',
        'unknown field "spec.foo"',
    ]
    assert len(strict_errors([f"f{index}" for index in range(150)])) == 100


def test_duplicate_fields_are_found_in_the_raw_body():
    body = b'{"metadata":{"name":"a","name":"b"},"spec":{"containers":[{"name":"x","name":"y"}]}}'
    decoded = orjson.loads(body)
    assert find_duplicate_fields(body, decoded) == ["metadata.name", "spec.containers[0].name"]


@pytest.mark.parametrize(
    "body",
    [
        b'{"metadata":{"name":"a"},"spec":{}}',
        b'{\n  "a": "x\\":y",\n  "b": {"c": ["\\":", "d"]}\n}',
        b'{"annotations":{"last-applied":"{\\"a\\":1,\\"a\\":2}"}}',
    ],
)
def test_no_duplicates_in_bodies_without_them(body):
    # The last one has a repeated key inside a string value: not a field.
    assert find_duplicate_fields(body, orjson.loads(body)) == []


def test_required_values_as_upstream_validation_reports_them():
    obj = {
        "spec": {
            "containers": [{"name": "", "ports": [{"containerPort": 0}], "env": [{"value": "x"}]}],
            "volumes": [{"configMap": {"items": [{"key": "a"}]}}],
        }
    }
    errors, unknown = validate_structure(obj, POD)
    assert unknown == []
    assert [str(error) for error in errors] == [
        "spec.containers[0].ports[0].containerPort: Required value",
        "spec.containers[0].env[0].name: Required value",
        "spec.containers[0].name: Required value",
        "spec.containers[0].image: Required value",
        "spec.volumes[0].configMap.items[0].path: Required value",
        "spec.volumes[0].configMap.name: Required value",
        "spec.volumes[0].name: Required value",
    ]
    assert errors[0].cause()["reason"] == "FieldValueRequired"


def test_an_empty_container_list_is_required_value():
    errors, _ = validate_structure({"spec": {"containers": []}}, POD)
    assert [str(error) for error in errors] == ["spec.containers: Required value"]


def test_a_deployment_without_selector():
    deployment = {"spec": {"template": {"spec": {"containers": [{"name": "a", "image": "b"}]}}}}
    errors, _ = validate_structure(deployment, DEPLOYMENT)
    assert [str(error) for error in errors] == ["spec.selector: Required value"]


def test_required_values_in_other_groups():
    role = kind_node("rbac.authorization.k8s.io", "v1", "Role")
    errors, _ = validate_structure({"rules": [{"resources": ["pods"]}]}, role)
    assert [str(error) for error in errors] == [
        "rules[0].verbs: Required value: verbs must contain at least one value"
    ]
    cron_job = kind_node("batch", "v1", "CronJob")
    errors, _ = validate_structure({"spec": {"jobTemplate": {}}}, cron_job)
    assert [str(error) for error in errors] == ["spec.schedule: Required value"]


def test_path_prefixes_reports():
    errors, unknown = validate_structure(
        {"name": "c", "bogus": 1}, {"$ref": "#/$defs/io.k8s.api.core.v1.Container"}, path="x[0]"
    )
    assert unknown == ["x[0].bogus"]
    assert [str(error) for error in errors] == ["x[0].image: Required value"]


def test_raw_extensions_and_managed_fields_take_anything():
    event = kind_node("events.k8s.io", "v1", "Event")
    obj = {"metadata": {"managedFields": [{"fieldsV1": {"f:spec": {"f:anything": {}}}}]}}
    assert validate_structure(obj, event) == ([], [])
    # A ControllerRevision's data is a runtime.RawExtension.
    revision = kind_node("apps", "v1", "ControllerRevision")
    for data in ({"spec": {"template": {"x": [1, 2]}}}, "raw", [1]):
        assert validate_structure({"revision": 1, "data": data}, revision) == ([], [])


CRD_SCHEMA = {
    "type": "object",
    "properties": {
        "spec": {
            "type": "object",
            "properties": {
                "replicas": {"type": "integer"},
                "port": {"x-kubernetes-int-or-string": True},
                "config": {"type": "object", "x-kubernetes-preserve-unknown-fields": True},
                "extra": {
                    "type": "object",
                    "x-kubernetes-preserve-unknown-fields": True,
                    "properties": {"size": {"type": "string"}},
                },
                "tags": {"type": "object", "additionalProperties": {"type": "string"}},
            },
        }
    },
}


def test_preserve_unknown_fields():
    obj = {
        "spec": {
            "replicas": 2,
            "port": "http",
            "config": {"anything": {"goes": [1, "two"]}},
            "extra": {"size": "big", "color": "red"},
            "tags": {"a": "b"},
            "unknown": True,
        }
    }
    assert validate_structure(obj, CRD_SCHEMA) == ([], ["spec.unknown"])
    obj["spec"]["extra"]["size"] = 3
    obj["spec"]["port"] = []
    assert [error.field for error in type_errors(obj, CRD_SCHEMA)] == ["spec.port"]


def test_prune_unknown_keeps_what_the_schema_knows():
    obj = pod(imagePullPolcy="Always", env=[{"name": "A", "value": None}])
    obj["spec"]["foo"] = {"bar": 1}
    obj["metadata"]["annotations"] = {"any": "key"}
    kept = copy.deepcopy(obj)
    pruned = prune_unknown(obj, POD)
    assert obj == kept
    assert pruned == {
        "apiVersion": "v1",
        "kind": "Pod",
        "metadata": {"name": "web", "labels": {"app": "web"}, "annotations": {"any": "key"}},
        # A null field comes back absent, as a Go round trip has it.
        "spec": {"containers": [{"name": "web", "image": "nginx", "env": [{"name": "A"}]}]},
    }
    assert prune_unknown(obj, POD, drop_nulls=False)["spec"]["containers"][0]["env"] == [
        {"name": "A", "value": None}
    ]


def test_prune_unknown_keeps_preserved_fields():
    obj = {"spec": {"config": {"x": {"y": 1}}, "extra": {"size": "s", "color": "red"}, "z": 1}}
    assert prune_unknown(obj, CRD_SCHEMA) == {
        "spec": {"config": {"x": {"y": 1}}, "extra": {"size": "s", "color": "red"}}
    }


def test_kind_node_refuses_unknown_kinds():
    with pytest.raises(KeyError):
        kind_node("example.com", "v1", "Widget")


def test_int64_fields_overflow_like_go():
    obj = pod()
    obj["spec"]["terminationGracePeriodSeconds"] = 2**63
    assert type_errors(obj)[0].detail == (
        "json: cannot unmarshal number 9223372036854775808 into Go struct field"
        " PodSpec.spec.terminationGracePeriodSeconds of type int64"
    )


# -- the required-only walk ----------------------------------------------------

REQUIRED_KINDS = {
    "Pod": POD,
    "Deployment": DEPLOYMENT,
    "CronJob": kind_node("batch", "v1", "CronJob"),
    "PersistentVolumeClaim": kind_node("", "v1", "PersistentVolumeClaim"),
    "Role": kind_node("rbac.authorization.k8s.io", "v1", "Role"),
    "CRD": kind_node("apiextensions.k8s.io", "v1", "CustomResourceDefinition"),
}
FIELD_NAMES = [
    "spec", "template", "containers", "initContainers", "name", "image", "ports",
    "containerPort", "env", "valueFrom", "configMapKeyRef", "fieldRef", "fieldPath", "key",
    "volumes", "volumeMounts", "mountPath", "configMap", "items", "path", "projected",
    "sources", "selector", "jobTemplate", "schedule", "rules", "verbs", "accessModes",
    "metadata", "labels", "x", "versions", "schema", "openAPIV3Schema", "properties",
]  # fmt: skip
random_values = st.recursive(
    st.one_of(st.none(), st.booleans(), st.integers(0, 2), st.sampled_from(["", "a"])),
    lambda inner: st.one_of(
        st.lists(inner, max_size=3), st.dictionaries(st.sampled_from(FIELD_NAMES), inner)
    ),
    max_leaves=30,
)


@settings(max_examples=300, deadline=None)
@given(kind=st.sampled_from(sorted(REQUIRED_KINDS)), obj=random_values)
def test_the_required_walk_finds_what_the_full_walk_finds(kind, obj):
    node = REQUIRED_KINDS[kind]
    found, _unknown = validate_structure(obj, node)
    required = [problem for problem in found if problem.type is FieldErrorType.REQUIRED]
    assert missing_required(obj, node) == required


def test_the_required_walk_names_missing_fields_deep_in_a_pod():
    body = pod(ports=[{"name": "http"}], env=[{"valueFrom": {"fieldRef": {}}}])
    body["spec"]["volumes"] = [{"name": "v", "configMap": {"items": [{"key": "k"}]}}]
    assert [problem.field for problem in missing_required(body, POD)] == [
        "spec.containers[0].ports[0].containerPort",
        "spec.containers[0].env[0].valueFrom.fieldRef.fieldPath",
        "spec.containers[0].env[0].name",
        "spec.volumes[0].configMap.items[0].path",
        "spec.volumes[0].configMap.name",
    ]


def test_the_check_tells_whether_some_list_holds_a_null_item() -> None:
    template = {"spec": {"containers": [{"name": "a", "image": "i"}, None]}}
    deployment = {"spec": {"template": template, "selector": {"matchLabels": {"a": "b"}}}}
    assert check_structure(deployment, DEPLOYMENT).null_items
    assert check_structure({"spec": {"containers": [None]}}, POD).null_items
    assert not check_structure(pod(name="a", image="i", args=["x", ""]), POD).null_items
    assert not check_structure({"spec": {"containers": None}}, POD).null_items
