"""Field selectors: what kube-apiserver accepts per resource, and what it selects."""

from __future__ import annotations

import copy

import pytest
from hypothesis import given
from hypothesis import strategies as st

from pynetes.api.errors import ApiError
from pynetes.api.fields import FieldTerm, field_set, parse_field_selector

ONLY_META = 'is not a known field selector: only "metadata.name", "metadata.namespace"'


@pytest.mark.parametrize(
    ("group", "resource", "text", "canonical"),
    [
        ("", "pods", "", ""),
        ("", "pods", ",,", ""),
        # kubelet's pod watch
        ("", "pods", "spec.nodeName=node-1", "spec.nodeName=node-1"),
        ("", "pods", "spec.nodeName==node-1", "spec.nodeName=node-1"),
        # kubectl get pods --field-selector; terms come out sorted by their text
        (
            "",
            "pods",
            "status.phase!=Succeeded,status.phase!=Failed",
            "status.phase!=Failed,status.phase!=Succeeded",
        ),
        # old v1 clients' spec.host is spec.nodeName
        ("", "pods", "spec.host=node-1", "spec.nodeName=node-1"),
        # kubectl delete --wait, on any resource
        ("apps", "deployments", "metadata.name=web", "metadata.name=web"),
        ("", "configmaps", "metadata.namespace=default", "metadata.namespace=default"),
        # kubectl describe pod: events by involvedObject
        (
            "",
            "events",
            "involvedObject.name=x,involvedObject.namespace=y,involvedObject.kind=Pod,"
            "involvedObject.uid=u",
            "involvedObject.kind=Pod,involvedObject.name=x,involvedObject.namespace=y,"
            "involvedObject.uid=u",
        ),
        # events.k8s.io names map to the core names of the shared field set
        (
            "events.k8s.io",
            "events",
            "regarding.name=x,reportingController=kubelet",
            "involvedObject.name=x,reportingComponent=kubelet",
        ),
        ("", "nodes", "spec.unschedulable=false", "spec.unschedulable=false"),
        ("", "namespaces", "status.phase=Active", "status.phase=Active"),
        ("", "secrets", "type=kubernetes.io/tls", "type=kubernetes.io/tls"),
        ("", "services", "spec.type=LoadBalancer", "spec.type=LoadBalancer"),
        ("", "replicationcontrollers", "status.replicas=0", "status.replicas=0"),
        ("batch", "jobs", "status.successful=1", "status.successful=1"),
        (
            "certificates.k8s.io",
            "certificatesigningrequests",
            "spec.signerName=kubernetes.io/kubelet-serving",
            "spec.signerName=kubernetes.io/kubelet-serving",
        ),
        # escaped \ , = in values, printed escaped again
        ("", "pods", r"metadata.name=a\,b\=c\\d", r"metadata.name=a\,b\=c\\d"),
        # nothing is trimmed: the value keeps its spaces
        ("", "pods", "metadata.name= x ", "metadata.name= x "),
    ],
)
def test_parse_prints_canonical_form(group: str, resource: str, text: str, canonical: str) -> None:
    assert str(parse_field_selector(text, group=group, resource=resource)) == canonical


def test_escaped_values_are_matched_literally() -> None:
    selector = parse_field_selector(r"metadata.name=a\,b\=c\\d", group="", resource="pods")
    assert selector.terms == (FieldTerm("metadata.name", "=", "a,b=c\\d"),)
    assert selector.matches({"metadata.name": "a,b=c\\d"})


# Exact text of the 400 Status kube-apiserver answers.
@pytest.mark.parametrize(
    ("group", "resource", "text", "message"),
    [
        ("", "pods", "spec.foo=x", "field label not supported: spec.foo"),
        ("", "pods", "spec.nodeName=a,spec.foo=x", "field label not supported: spec.foo"),
        # a field upstream knows but the resource does not: not the pods wording
        ("apps", "deployments", "spec.nodeName=n", f'"spec.nodeName" {ONLY_META}'),
        # upstream lists status.replicas for ReplicaSets in its field set, but
        # apps/v1 registers no conversion for it, so kube-apiserver refuses it
        ("apps", "replicasets", "status.replicas=0", f'"status.replicas" {ONLY_META}'),
        ("", "nodes", "metadata.namespace=x", "field label not supported: metadata.namespace"),
        ("", "events", "regarding.name=x", "field label not supported: regarding.name"),
        (
            "events.k8s.io",
            "events",
            "involvedObject.name=x",
            "field label not supported: involvedObject.name",
        ),
        (
            "batch",
            "jobs",
            "status.succeeded=1",
            'field label "status.succeeded" not supported for batchv1.Job',
        ),
        ("", "pods", "foo", "invalid selector: 'foo'; can't understand 'foo'"),
        ("", "pods", "b=1,foo", "invalid selector: 'b=1,foo'; can't understand 'foo'"),
        (
            "",
            "pods",
            "metadata.name=a=b",
            "invalid field selector: unescaped character in value: 61",
        ),
        ("", "pods", r"metadata.name=a\x", r"invalid field selector: invalid escape sequence: \x"),
        ("", "pods", "metadata.name=a\\", "invalid field selector: invalid escape sequence: \\"),
        # syntax is checked before fields
        (
            "",
            "pods",
            "spec.foo=x,bar",
            "invalid selector: 'spec.foo=x,bar'; can't understand 'bar'",
        ),
    ],
)
def test_invalid_selector_is_bad_request_with_upstream_text(
    group: str, resource: str, text: str, message: str
) -> None:
    with pytest.raises(ApiError) as caught:
        parse_field_selector(text, group=group, resource=resource)
    assert (caught.value.code, caught.value.reason) == (400, "BadRequest")
    assert caught.value.message == message


POD = {
    "metadata": {"name": "web-1", "namespace": "default"},
    "spec": {
        "nodeName": "node-1",
        "restartPolicy": "Always",
        "schedulerName": "default-scheduler",
        "serviceAccountName": "default",
    },
    "status": {"phase": "Running", "podIPs": [{"ip": "10.0.0.5"}, {"ip": "fd00::5"}]},
}


@pytest.mark.parametrize(
    ("group", "resource", "obj", "expected"),
    [
        (
            "",
            "pods",
            POD,
            {
                "metadata.name": "web-1",
                "metadata.namespace": "default",
                "spec.nodeName": "node-1",
                "spec.restartPolicy": "Always",
                "spec.schedulerName": "default-scheduler",
                "spec.serviceAccountName": "default",
                "spec.hostNetwork": "false",
                "status.phase": "Running",
                "status.podIP": "10.0.0.5",
                "status.nominatedNodeName": "",
            },
        ),
        (
            "",
            "pods",
            {
                "spec": {"hostNetwork": True, "serviceAccount": "old"},
                "status": {"podIP": "1.2.3.4"},
            },
            {
                "metadata.name": "",
                "metadata.namespace": "",
                "spec.nodeName": "",
                "spec.restartPolicy": "",
                "spec.schedulerName": "",
                "spec.serviceAccountName": "old",
                "spec.hostNetwork": "true",
                "status.phase": "",
                "status.podIP": "1.2.3.4",
                "status.nominatedNodeName": "",
            },
        ),
        (
            "",
            "nodes",
            {"metadata": {"name": "node-1"}, "spec": {"unschedulable": True}},
            {"metadata.name": "node-1", "metadata.namespace": "", "spec.unschedulable": "true"},
        ),
        (
            "",
            "nodes",
            {"metadata": {"name": "node-1"}},
            {"metadata.name": "node-1", "metadata.namespace": "", "spec.unschedulable": "false"},
        ),
        (
            "",
            "replicationcontrollers",
            {"metadata": {"name": "rc", "namespace": "ns"}, "status": {}},
            {"metadata.name": "rc", "metadata.namespace": "ns", "status.replicas": "0"},
        ),
        (
            "batch",
            "jobs",
            {"metadata": {"name": "j", "namespace": "ns"}, "status": {"succeeded": 2}},
            {"metadata.name": "j", "metadata.namespace": "ns", "status.successful": "2"},
        ),
        (
            "",
            "namespaces",
            {"metadata": {"name": "kube-system"}, "status": {"phase": "Active"}},
            {"metadata.name": "kube-system", "metadata.namespace": "", "status.phase": "Active"},
        ),
        (
            "",
            "secrets",
            {"metadata": {"name": "s", "namespace": "ns"}, "type": "Opaque"},
            {"metadata.name": "s", "metadata.namespace": "ns", "type": "Opaque"},
        ),
        (
            "",
            "services",
            {
                "metadata": {"name": "s", "namespace": "ns"},
                "spec": {"clusterIP": "None", "type": "ClusterIP"},
            },
            {
                "metadata.name": "s",
                "metadata.namespace": "ns",
                "spec.clusterIP": "None",
                "spec.type": "ClusterIP",
            },
        ),
        (
            "certificates.k8s.io",
            "certificatesigningrequests",
            {"metadata": {"name": "csr"}, "spec": {"signerName": "kubernetes.io/kubelet-serving"}},
            {
                "metadata.name": "csr",
                "metadata.namespace": "",
                "spec.signerName": "kubernetes.io/kubelet-serving",
            },
        ),
        (
            "apps",
            "deployments",
            {"metadata": {"name": "web", "namespace": "ns"}, "spec": {"replicas": 3}},
            {"metadata.name": "web", "metadata.namespace": "ns"},
        ),
    ],
)
def test_field_set(group: str, resource: str, obj: dict, expected: dict[str, str]) -> None:
    before = copy.deepcopy(obj)
    assert field_set(group, resource, obj) == expected
    assert obj == before


CORE_EVENT = {
    "metadata": {"name": "web-1.17", "namespace": "default"},
    "involvedObject": {
        "kind": "Pod",
        "namespace": "default",
        "name": "web-1",
        "uid": "u-1",
        "apiVersion": "v1",
        "resourceVersion": "42",
        "fieldPath": "spec.containers{web}",
    },
    "reason": "Pulled",
    "type": "Normal",
    "reportingComponent": "kubelet",
    "source": {"component": "kubelet", "host": "node-1"},
}
EVENTS_V1_EVENT = {
    "metadata": {"name": "web-1.18", "namespace": "default"},
    "regarding": {"kind": "Pod", "namespace": "default", "name": "web-1", "uid": "u-1"},
    "reason": "Scheduled",
    "type": "Normal",
    "reportingController": "default-scheduler",
}


def test_core_event_field_set() -> None:
    assert field_set("", "events", CORE_EVENT) == {
        "metadata.name": "web-1.17",
        "metadata.namespace": "default",
        "involvedObject.kind": "Pod",
        "involvedObject.namespace": "default",
        "involvedObject.name": "web-1",
        "involvedObject.uid": "u-1",
        "involvedObject.apiVersion": "v1",
        "involvedObject.resourceVersion": "42",
        "involvedObject.fieldPath": "spec.containers{web}",
        "reason": "Pulled",
        "reportingComponent": "kubelet",
        "source": "kubelet",
        "type": "Normal",
    }


def test_events_v1_event_source_falls_back_to_reporting_controller() -> None:
    fields = field_set("events.k8s.io", "events", EVENTS_V1_EVENT)
    assert fields["involvedObject.name"] == "web-1"
    assert fields["reportingComponent"] == "default-scheduler"
    # upstream: source is source.component, else reportingController
    assert fields["source"] == "default-scheduler"


@pytest.mark.parametrize(
    ("group", "resource", "text", "obj", "expected"),
    [
        ("", "pods", "spec.nodeName=node-1", POD, True),
        ("", "pods", "spec.nodeName=node-2", POD, False),
        ("", "pods", "spec.nodeName=", POD, False),
        ("", "pods", "spec.nodeName=", {"spec": {}}, True),  # unscheduled pods
        ("", "pods", "status.phase!=Succeeded,status.phase!=Failed", POD, True),
        ("", "pods", "status.phase!=Running", POD, False),
        ("", "pods", "metadata.name=web-1,metadata.namespace=default", POD, True),
        ("", "pods", "status.podIP=10.0.0.5", POD, True),
        ("", "pods", "spec.hostNetwork=false", POD, True),
        # upstream accepts status.podIPs but its field set lacks it: only "" matches
        ("", "pods", "status.podIPs=", POD, True),
        ("", "pods", "status.podIPs=10.0.0.5", POD, False),
        (
            "",
            "events",
            "involvedObject.name=web-1,involvedObject.namespace=default",
            CORE_EVENT,
            True,
        ),
        ("", "events", "involvedObject.uid=other", CORE_EVENT, False),
        (
            "events.k8s.io",
            "events",
            "regarding.name=web-1,regarding.kind=Pod",
            EVENTS_V1_EVENT,
            True,
        ),
        ("events.k8s.io", "events", "reportingController=kubelet", EVENTS_V1_EVENT, False),
        ("", "nodes", "spec.unschedulable=true", {"spec": {"unschedulable": True}}, True),
        ("", "nodes", "spec.unschedulable=true", {"spec": {}}, False),
        ("batch", "jobs", "status.successful=0", {"status": {}}, True),
        ("", "pods", "", POD, True),
    ],
)
def test_matches_objects(group: str, resource: str, text: str, obj: dict, expected: bool) -> None:
    selector = parse_field_selector(text, group=group, resource=resource)
    assert selector.matches(field_set(group, resource, obj)) is expected


@pytest.mark.parametrize(
    ("text", "field", "value"),
    [
        ("spec.nodeName=node-1", "spec.nodeName", "node-1"),
        ("spec.host=node-1", "spec.nodeName", "node-1"),
        ("status.phase!=Failed,spec.nodeName=node-1", "spec.nodeName", "node-1"),
        ("spec.nodeName!=node-1", "spec.nodeName", None),
        ("status.phase=Running", "spec.nodeName", None),
        ("", "spec.nodeName", None),
    ],
)
def test_exact_value_for_indexing(text: str, field: str, value: str | None) -> None:
    assert parse_field_selector(text, group="", resource="pods").exact_value(field) == value


def test_empty() -> None:
    assert parse_field_selector("", group="", resource="pods").empty
    assert not parse_field_selector("metadata.name=x", group="", resource="pods").empty


def test_selectors_compare_and_hash_by_terms() -> None:
    first = parse_field_selector("spec.host=n,status.phase=Running", group="", resource="pods")
    second = parse_field_selector("status.phase=Running,spec.nodeName=n", group="", resource="pods")
    assert first == second
    assert hash(first) == hash(second)


# --- Properties --------------------------------------------------------------

_RESOURCES = st.sampled_from(
    [
        ("", "pods"),
        ("", "events"),
        ("events.k8s.io", "events"),
        ("batch", "jobs"),
        ("apps", "deployments"),
    ]
)
_FIELD_ALPHABET = st.sampled_from([*"ab=!,\\ é", "metadata.name", "spec.nodeName", "=="])


@given(st.text(), _RESOURCES)
def test_random_text_only_ever_raises_api_error(text: str, resource: tuple[str, str]) -> None:
    group, plural = resource
    try:
        parse_field_selector(text, group=group, resource=plural)
    except ApiError as error:
        assert error.code == 400


@given(st.lists(_FIELD_ALPHABET).map("".join), _RESOURCES)
def test_canonical_form_parses_to_the_same_selector(text: str, resource: tuple[str, str]) -> None:
    group, plural = resource
    try:
        selector = parse_field_selector(text, group=group, resource=plural)
    except ApiError:
        return
    assert parse_field_selector(str(selector), group=group, resource=plural) == selector
