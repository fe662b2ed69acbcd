"""Protobuf request bodies: the wire bytes written here by hand, field numbers as
upstream's generated.proto gives them, so the decoder is checked against the
wire format rather than against its own schema."""

from __future__ import annotations

import base64

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from pynetes.api.errors import ApiError
from pynetes.apiserver import protobuf
from pynetes.apiserver.negotiation import PROTOBUF, decode_body


def varint(value: int) -> bytes:
    value &= (1 << 64) - 1  # negative numbers as Go writes them: ten bytes
    out = bytearray()
    while True:
        byte, value = value & 0x7F, value >> 7
        out.append(byte | (0x80 if value else 0))
        if not value:
            return bytes(out)


def field(number: int, value: int | bool | bytes | str) -> bytes:
    """One field: a varint for numbers and booleans, length-delimited otherwise."""
    if isinstance(value, bool | int):
        return varint(number << 3) + varint(int(value))
    data = value.encode() if isinstance(value, str) else value
    return varint(number << 3 | 2) + varint(len(data)) + data


def message(*fields: bytes) -> bytes:
    return b"".join(fields)


def envelope(api_version: str, kind: str, raw: bytes) -> bytes:
    """k8s\\0 + runtime.Unknown{typeMeta{apiVersion=1, kind=2}=1, raw=2}."""
    type_meta = message(field(1, api_version), field(2, kind))
    return b"k8s\x00" + message(field(1, type_meta), field(2, raw))


def metadata(name: str, **more: bytes) -> bytes:
    """ObjectMeta as Go writes it: name=1, then its by-value fields even when empty
    (generateName=2, namespace=3 ... creationTimestamp=8 as an empty Time)."""
    return message(field(1, name), field(2, ""), field(3, ""), field(8, b""), *more.values())


def test_a_deployment_decodes_as_a_go_client_would_encode_it_to_json() -> None:
    # name=1, image=2, resources=8 (a struct by value), imagePullPolicy=14 (omitempty)
    container = message(field(1, "web"), field(2, "nginx"), field(8, b""), field(14, ""))
    # containers=2, restartPolicy=3, dnsPolicy=6, nodeName=10, hostNetwork=11: all zero
    pod_spec = message(
        field(2, container), field(3, ""), field(6, ""), field(10, ""), field(11, False)
    )
    labels = field(11, message(field(1, "app"), field(2, "web")))
    template = message(field(1, metadata("", labels=labels)), field(2, pod_spec))
    spec = message(
        field(1, 0),  # replicas: *int32 set to 0
        field(3, template),
        field(4, b""),  # strategy: a struct held by value, empty
        field(5, 0),  # minReadySeconds: int32 by value, zero, omitempty
    )
    body = envelope(
        "apps/v1", "Deployment", message(field(1, metadata("web")), field(2, spec), field(3, b""))
    )

    assert protobuf.decode(body) == {
        "kind": "Deployment",
        "apiVersion": "apps/v1",
        "metadata": {"name": "web", "creationTimestamp": None},
        "spec": {
            "replicas": 0,
            "template": {
                "metadata": {"creationTimestamp": None, "labels": {"app": "web"}},
                "spec": {
                    "containers": [{"name": "web", "image": "nginx", "resources": {}}],
                },
            },
            "strategy": {},
        },
        "status": {},
    }


def test_fields_without_omitempty_keep_their_zero() -> None:
    body = envelope(
        "scheduling.k8s.io/v1",
        "PriorityClass",
        message(field(1, metadata("low")), field(2, 0), field(3, False)),
    )
    decoded = protobuf.decode(body)
    assert decoded["value"] == 0  # `json:"value"`
    assert "globalDefault" not in decoded  # `json:"globalDefault,omitempty"`


def test_negative_numbers_as_go_writes_them() -> None:
    body = envelope(
        "scheduling.k8s.io/v1", "PriorityClass", message(field(1, metadata("p")), field(2, -5))
    )
    assert protobuf.decode(body)["value"] == -5


def test_an_inline_struct_joins_its_parent() -> None:
    """Volume's VolumeSource is field 2 on the wire and inline in JSON."""
    empty_dir = message(field(2, message(field(1, "1Gi"))))  # sizeLimit: a Quantity
    volume = message(field(1, "scratch"), field(2, message(field(2, empty_dir))))
    pod_spec = message(field(1, volume))
    body = envelope("v1", "Pod", message(field(1, metadata("p")), field(2, pod_spec)))
    assert protobuf.decode(body)["spec"]["volumes"] == [
        {"name": "scratch", "emptyDir": {"sizeLimit": "1Gi"}}
    ]


def test_times_int_or_strings_quantities_and_bytes() -> None:
    port = message(field(1, "http"), field(3, 80), field(4, message(field(1, 1), field(3, "web"))))
    service = envelope(
        "v1", "Service", message(field(1, metadata("s")), field(2, message(field(1, port))))
    )
    assert protobuf.decode(service)["spec"]["ports"] == [
        {"name": "http", "port": 80, "targetPort": "web"}
    ]
    by_number = message(field(3, 80), field(4, message(field(1, 0), field(2, 8080))))
    service = envelope(
        "v1", "Service", message(field(1, metadata("s")), field(2, message(field(1, by_number))))
    )
    assert protobuf.decode(service)["spec"]["ports"] == [{"port": 80, "targetPort": 8080}]

    stamp = message(field(1, 1_700_000_000), field(2, 0))
    deleting = metadata("x", deletion=field(9, stamp))
    secret = envelope(
        "v1",
        "Secret",
        message(field(1, deleting), field(2, message(field(1, "k"), field(2, b"\x00\xff")))),
    )
    decoded = protobuf.decode(secret)
    assert decoded["metadata"]["deletionTimestamp"] == "2023-11-14T22:13:20Z"
    assert decoded["data"] == {"k": base64.b64encode(b"\x00\xff").decode()}

    hard = field(1, message(field(1, "pods"), field(2, message(field(1, "10")))))
    quota = envelope("v1", "ResourceQuota", message(field(1, metadata("q")), field(2, hard)))
    assert protobuf.decode(quota)["spec"] == {"hard": {"pods": "10"}}


def test_micro_time_keeps_microseconds() -> None:
    event_time = message(field(1, 1_700_000_000), field(2, 123_456_789))
    body = envelope(
        "events.k8s.io/v1",
        "Event",
        message(field(1, metadata("e")), field(2, event_time), field(4, "me")),
    )
    decoded = protobuf.decode(body)
    assert decoded["eventTime"] == "2023-11-14T22:13:20.123456Z"
    assert decoded["reportingController"] == "me"


def test_delete_options_are_read_in_any_group_version() -> None:
    options = message(field(1, 0), field(4, "Foreground"))  # gracePeriodSeconds: *int64
    decoded = protobuf.decode(envelope("apps/v1", "DeleteOptions", options))
    assert decoded["gracePeriodSeconds"] == 0
    assert decoded["propagationPolicy"] == "Foreground"


def test_invalid_utf8_becomes_the_replacement_character() -> None:
    body = envelope(
        "v1",
        "ConfigMap",
        message(field(1, metadata("c")), field(2, message(field(1, "k"), field(2, b"a\xffb")))),
    )
    assert protobuf.decode(body)["data"] == {"k": "a\ufffdb"}


def test_a_custom_resource_in_protobuf_is_415() -> None:
    body = envelope("example.com/v1", "Widget", message(field(1, metadata("w"))))
    with pytest.raises(ApiError) as refused:
        decode_body(body, PROTOBUF)
    assert refused.value.code == 415
    assert refused.value.reason == "UnsupportedMediaType"


@pytest.mark.parametrize(
    ("body", "words"),
    [
        (
            b'{"kind": "ConfigMap"}',
            "does not appear to be a protobuf message, expected prefix [107 56 115 0]",
        ),
        (b"", "expected prefix"),
        (b"k8s\x00\x0a\xff", "error decoding request body"),  # a length past the end
        (envelope("v1", "ConfigMap", b"\x0a\x05ab"), "error decoding request body"),
        (envelope("v1", "ConfigMap", b"\x07"), "error decoding request body"),  # wire type 7
        (
            envelope(
                "v1",
                "Pod",
                message(field(1, metadata("p", deletion=field(9, message(field(1, 2**62)))))),
            ),
            "time out of range",
        ),
    ],
)
def test_malformed_bodies_are_400(body: bytes, words: str) -> None:
    with pytest.raises(ApiError) as refused:
        decode_body(body, PROTOBUF)
    assert refused.value.code == 400
    assert refused.value.reason == "BadRequest"
    assert words in refused.value.message


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    kind=st.sampled_from(["Pod", "Deployment", "Service", "Secret", "Event", "Widget"]),
    api_version=st.sampled_from(["v1", "apps/v1", "events.k8s.io/v1", "example.com/v1"]),
    raw=st.binary(max_size=200),
)
def test_random_bytes_never_crash_the_decoder(kind: str, api_version: str, raw: bytes) -> None:
    """Whatever follows a valid envelope header: an object, or a 400 or 415 Status."""
    for body, expected_kind in ((envelope(api_version, kind, raw), kind), (b"k8s\x00" + raw, None)):
        try:
            decoded = decode_body(body, PROTOBUF)
        except ApiError as error:
            assert error.code in (400, 415)
        else:
            assert expected_kind in (None, decoded["kind"])
