"""The OpenAPI v2 document in gnostic's protobuf form reads back as the JSON one
(kubectl 1.27 and 1.28 read only this form; tests/integration/test_kubectl.py runs them)."""

from __future__ import annotations

from typing import Any

import yaml

from pynetes.apiserver.openapiv2proto import _class, encode_document

DOCUMENT: dict[str, Any] = {
    "swagger": "2.0",
    "info": {"title": "Kubernetes", "version": "v1.31.0"},
    "paths": {},
    "definitions": {
        "io.k8s.api.apps.v1.Deployment": {
            "description": "Deployment enables declarative updates.",
            "type": "object",
            "required": ["spec"],
            "properties": {
                "metadata": {"$ref": "#/definitions/io.k8s.ObjectMeta"},
                "replicas": {"type": "integer", "format": "int32", "minimum": 0},
                "labels": {"type": "object", "additionalProperties": {"type": "string"}},
                "open": {"type": "object", "additionalProperties": True},
                "phase": {"type": "string", "enum": ["A", "B"], "default": "A"},
                "ports": {
                    "type": "array",
                    "items": {"type": "integer"},
                    "x-kubernetes-list-type": "map",
                    "x-kubernetes-list-map-keys": ["port", "protocol"],
                },
            },
            "x-kubernetes-group-version-kind": [
                {"group": "apps", "kind": "Deployment", "version": "v1"}
            ],
        }
    },
}


def decoded() -> Any:
    message = _class("Document")()
    message.ParseFromString(encode_document(DOCUMENT))
    return message


def test_the_document_and_a_schemas_keywords_read_back() -> None:
    document = decoded()
    assert (document.swagger, document.info.title, document.info.version) == (
        "2.0",
        "Kubernetes",
        "v1.31.0",
    )
    [named] = document.definitions.additional_properties
    assert named.name == "io.k8s.api.apps.v1.Deployment"
    deployment = named.value
    assert list(deployment.type.value) == ["object"] and list(deployment.required) == ["spec"]
    properties = {p.name: p.value for p in deployment.properties.additional_properties}
    assert properties["metadata"]._ref == "#/definitions/io.k8s.ObjectMeta"
    replicas = properties["replicas"]
    assert (replicas.format, replicas.minimum, list(replicas.type.value)) == (
        "int32",
        0,
        ["integer"],
    )
    assert list(properties["labels"].additional_properties.schema.type.value) == ["string"]
    assert properties["open"].additional_properties.boolean is True
    assert properties["open"].additional_properties.WhichOneof("oneof") == "boolean"
    assert [list(s.type.value) for s in properties["ports"].items.schema] == [["integer"]]


def test_extensions_defaults_and_enums_are_yaml_that_reads_as_the_json_values() -> None:
    deployment = decoded().definitions.additional_properties[0].value
    extensions = {e.name: yaml.safe_load(e.value.yaml) for e in deployment.vendor_extension}
    assert extensions == {
        "x-kubernetes-group-version-kind": [
            {"group": "apps", "kind": "Deployment", "version": "v1"}
        ]
    }
    ports = next(p.value for p in deployment.properties.additional_properties if p.name == "ports")
    assert {e.name: yaml.safe_load(e.value.yaml) for e in ports.vendor_extension} == {
        "x-kubernetes-list-type": "map",
        "x-kubernetes-list-map-keys": ["port", "protocol"],
    }
    phase = next(p.value for p in deployment.properties.additional_properties if p.name == "phase")
    assert [yaml.safe_load(e.yaml) for e in phase.enum] == ["A", "B"]
    assert yaml.safe_load(phase.default.yaml) == "A"
