"""Names, labels, ports, addresses and object metadata, with upstream's exact messages.

kubectl prints these texts verbatim (``The Pod "x" is invalid: metadata.name:
Invalid value: ...``), so each test compares the whole string.
"""

import pytest

from pynetes.api.errors import too_long
from pynetes.api.validation import syntax
from pynetes.api.validation.metadata import (
    name_is_dns1035_label,
    name_is_dns_label,
    name_is_dns_subdomain,
    name_is_path_segment,
    validate_annotations,
    validate_label_selector,
    validate_labels,
    validate_object_meta,
    validate_object_meta_update,
)

SUBDOMAIN = (
    "a lowercase RFC 1123 subdomain must consist of lower case alphanumeric characters, '-' or "
    "'.', and must start and end with an alphanumeric character (e.g. 'example.com', regex used "
    "for validation is '[a-z0-9]([-a-z0-9]*[a-z0-9])?(\\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*')"
)
LABEL = (
    "a lowercase RFC 1123 label must consist of lower case alphanumeric characters or '-', and "
    "must start and end with an alphanumeric character (e.g. 'my-name',  or '123-abc', regex "
    "used for validation is '[a-z0-9]([-a-z0-9]*[a-z0-9])?')"
)
DNS1035 = (
    "a DNS-1035 label must consist of lower case alphanumeric characters or '-', start with an "
    "alphabetic character, and end with an alphanumeric character (e.g. 'my-name',  or "
    "'abc-123', regex used for validation is '[a-z]([-a-z0-9]*[a-z0-9])?')"
)
QUALIFIED_NAME = (
    "must consist of alphanumeric characters, '-', '_' or '.', and must start and end with an "
    "alphanumeric character (e.g. 'MyName',  or 'my.name',  or '123-abc', regex used for "
    "validation is '([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9]')"
)
LABEL_VALUE = (
    "a valid label must be an empty string or consist of alphanumeric characters, '-', '_' or "
    "'.', and must start and end with an alphanumeric character (e.g. 'MyValue',  or "
    "'my_value',  or '12345', regex used for validation is "
    "'(([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9])?')"
)


@pytest.mark.parametrize(
    ("check", "value", "messages"),
    [
        (syntax.is_dns1123_subdomain, "example.com", []),
        (syntax.is_dns1123_subdomain, "Web_1", [SUBDOMAIN]),
        (syntax.is_dns1123_subdomain, "a" * 254, ["must be no more than 253 characters"]),
        (syntax.is_dns1123_label, "my-name", []),
        (syntax.is_dns1123_label, "a.b", ["must not contain dots"]),
        (syntax.is_dns1123_label, "-a", [LABEL]),
        (syntax.is_dns1035_label, "web", []),
        (syntax.is_dns1035_label, "1web", [DNS1035]),
        (syntax.is_qualified_name, "example.com/MyName", []),
        (syntax.is_qualified_name, "bad key", ["name part " + QUALIFIED_NAME]),
        (syntax.is_qualified_name, "/x", ["prefix part must be non-empty"]),
        (syntax.is_qualified_name, "Ex/x", ["prefix part " + SUBDOMAIN]),
        (syntax.is_qualified_name, "x" * 64, ["name part must be no more than 63 characters"]),
        (
            syntax.is_qualified_name,
            "a/b/c",
            [
                "a qualified name "
                + QUALIFIED_NAME
                + " with an optional DNS subdomain prefix and '/' (e.g. 'example.com/MyName')"
            ],
        ),
        (syntax.is_valid_label_value, "", []),
        (syntax.is_valid_label_value, "-x", [LABEL_VALUE]),
        (syntax.is_env_var_name, "MY_VAR.1", []),
        (
            syntax.is_env_var_name,
            "1BAD",
            [
                "a valid environment variable name must consist of alphabetic characters, "
                "digits, '_', '-', or '.', and must not start with a digit (e.g. 'my.env-name',"
                "  or 'MY_ENV.NAME',  or 'MyEnvName1', regex used for validation is "
                "'[-._a-zA-Z][-._a-zA-Z0-9]*')"
            ],
        ),
        (syntax.is_config_map_key, "..", ["must not be '..'"]),
        (syntax.is_valid_port_name, "http", []),
        (
            syntax.is_valid_port_name,
            "-http--a-very-long",
            [
                "must be no more than 15 characters",
                "must not contain consecutive hyphens",
                "must not begin or end with a hyphen",
            ],
        ),
        (syntax.is_valid_port_name, "80", ["must contain at least one letter (a-z)"]),
        (syntax.is_valid_port_num, 0, ["must be between 1 and 65535, inclusive"]),
        (syntax.is_valid_port_num, 65535, []),
        (
            syntax.is_valid_percent,
            "5",
            [
                "a valid percent string must be a numeric string followed by an ending '%' "
                "(e.g. '1%',  or '93%', regex used for validation is '[0-9]+%')"
            ],
        ),
        (syntax.is_valid_path_segment_name, "..", ["may not be '..'"]),
        (syntax.is_valid_path_segment_name, "a/b%", ["may not contain '/'", "may not contain '%'"]),
    ],
)
def test_syntax_messages(check, value, messages):
    assert check(value) == messages


@pytest.mark.parametrize(
    ("address", "valid"),
    [
        ("10.9.8.7", True),
        ("010.009.008.007", True),  # ParseIPSloppy tolerates leading zeros
        ("2001:db8::ffff", True),
        ("::ffff:1.2.3.4", True),
        ("fe80::1%eth0", False),  # Go rejects zones
        ("256.1.1.1", False),
        ("1.2.3", False),
        ("", False),
    ],
)
def test_ip_addresses(address, valid):
    errors = syntax.is_valid_ip("spec.ip", address)
    expected = (
        f'spec.ip: Invalid value: "{address}": '
        "must be a valid IP address, (e.g. 10.9.8.7 or 2001:db8::ffff)"
    )
    assert [str(error) for error in errors] == ([] if valid else [expected])


def test_ipv4_mapped_addresses_count_as_ipv4():
    assert syntax.is_valid_ipv4_address("a", "::ffff:1.2.3.4") == []
    assert [str(e) for e in syntax.is_valid_ipv6_address("a", "::ffff:1.2.3.4")] == [
        'a: Invalid value: "::ffff:1.2.3.4": must be a valid IPv6 address'
    ]


@pytest.mark.parametrize(
    ("cidr", "valid"),
    [("10.0.0.0/8", True), ("10.0.0.1/8", True), ("10.0.0.0/33", False), ("10.0.0.0", False)],
)
def test_cidrs(cidr, valid):
    errors = [str(error) for error in syntax.is_valid_cidr("spec.podCIDRs[0]", cidr)]
    expected = (
        f'spec.podCIDRs[0]: Invalid value: "{cidr}": '
        "must be a valid CIDR value, (e.g. 10.9.8.0/24 or 2001:db8::/64)"
    )
    assert errors == ([] if valid else [expected])


def meta_errors(meta, *, namespaced=True, name=name_is_dns_subdomain):
    return [str(e) for e in validate_object_meta(meta, namespaced=namespaced, validate_name=name)]


@pytest.mark.parametrize(
    ("meta", "namespaced", "name", "expected"),
    [
        ({"name": "web", "namespace": "default"}, True, name_is_dns_subdomain, []),
        (
            {"name": "Web_1", "namespace": "default"},
            True,
            name_is_dns_subdomain,
            [f'metadata.name: Invalid value: "Web_1": {SUBDOMAIN}'],
        ),
        (
            {"namespace": "default"},
            True,
            name_is_dns_subdomain,
            ["metadata.name: Required value: name or generateName is required"],
        ),
        ({"name": "web"}, True, name_is_dns_subdomain, ["metadata.namespace: Required value"]),
        (
            {"name": "web", "namespace": "Bad"},
            True,
            name_is_dns_subdomain,
            [f'metadata.namespace: Invalid value: "Bad": {LABEL}'],
        ),
        (
            {"name": "n", "namespace": "default"},
            False,
            name_is_dns_label,
            ["metadata.namespace: Forbidden: not allowed on this type"],
        ),
        # Services are DNS-1035 labels, namespaces DNS-1123 labels.
        (
            {"name": "1web", "namespace": "default"},
            True,
            name_is_dns1035_label,
            [f'metadata.name: Invalid value: "1web": {DNS1035}'],
        ),
        (
            {"name": "a.b"},
            False,
            name_is_dns_label,
            ['metadata.name: Invalid value: "a.b": must not contain dots'],
        ),
        # a generateName prefix may end in '-'
        (
            {"name": "web-x7k2p", "generateName": "web-", "namespace": "d"},
            True,
            name_is_dns_subdomain,
            [],
        ),
        (
            {"name": "x", "generateName": "Web-", "namespace": "d"},
            True,
            name_is_dns_subdomain,
            [f'metadata.generateName: Invalid value: "Web-": {SUBDOMAIN}'],
        ),
        (
            {"name": "a/b", "namespace": "d"},
            True,
            name_is_path_segment,
            ["metadata.name: Invalid value: \"a/b\": may not contain '/'"],
        ),
        (
            {"name": "web", "namespace": "d", "labels": {"app": "-web"}},
            True,
            name_is_dns_subdomain,
            [f'metadata.labels: Invalid value: "-web": {LABEL_VALUE}'],
        ),
        (
            {"name": "web", "namespace": "d", "annotations": {"bad key": "x"}},
            True,
            name_is_dns_subdomain,
            [f'metadata.annotations: Invalid value: "bad key": name part {QUALIFIED_NAME}'],
        ),
        (
            {"name": "web", "namespace": "d", "finalizers": ["example.com/cleanup", "kubernetes"]},
            True,
            name_is_dns_subdomain,
            [],
        ),
        (
            {"name": "web", "namespace": "d", "finalizers": ["cleanup"]},
            True,
            name_is_dns_subdomain,
            [
                'metadata.finalizers[0]: Invalid value: "cleanup": name is neither a standard '
                "finalizer name nor is it fully qualified"
            ],
        ),
        (
            {"name": "web", "namespace": "d", "generation": -1},
            True,
            name_is_dns_subdomain,
            ["metadata.generation: Invalid value: -1: must be greater than or equal to 0"],
        ),
    ],
)
def test_object_meta(meta, namespaced, name, expected):
    assert meta_errors(meta, namespaced=namespaced, name=name) == expected


def owner(name, controller=False, **overrides):
    reference = {"apiVersion": "apps/v1", "kind": "ReplicaSet", "name": name, "uid": "u-" + name}
    return {**reference, "controller": controller, **overrides}


def test_owner_references_need_their_identity():
    errors = meta_errors(
        {
            "name": "p",
            "namespace": "d",
            "ownerReferences": [owner("rs", apiVersion="apps/", uid="")],
        }
    )
    assert errors == [
        'metadata.ownerReferences.apiVersion: Invalid value: "apps/": version must not be empty',
        'metadata.ownerReferences.uid: Invalid value: "": uid must not be empty',
    ]


def test_only_one_owner_may_be_the_controller():
    errors = meta_errors(
        {"name": "p", "namespace": "d", "ownerReferences": [owner("a", True), owner("b", True)]}
    )
    assert len(errors) == 1
    assert errors[0].startswith("metadata.ownerReferences: Invalid value: ")
    assert errors[0].endswith(
        ': Only one reference can have Controller set to true. Found "true" in references for '
        "ReplicaSet/a and ReplicaSet/b"
    )


def test_annotations_are_limited_to_256_kib_in_total():
    assert validate_annotations({"a": "x" * (256 * 1024 - 1)}, "metadata.annotations") == []
    assert validate_annotations({"a": "x" * (256 * 1024)}, "metadata.annotations") == [
        too_long("metadata.annotations", 256 * 1024)
    ]


def test_label_keys_are_qualified_names():
    assert [str(e) for e in validate_labels({"example.com/app": "web"}, "l")] == []
    assert next(str(e) for e in validate_labels({"a/b/c": "web"}, "l")).startswith(
        'l: Invalid value: "a/b/c": a qualified name must consist of'
    )


@pytest.mark.parametrize(
    ("selector", "expected"),
    [
        ({"matchExpressions": [{"key": "app", "operator": "In", "values": ["a"]}]}, []),
        (
            {"matchExpressions": [{"key": "app", "operator": "In"}]},
            [
                "s.matchExpressions[0].values: Required value: must be specified when "
                "`operator` is 'In' or 'NotIn'"
            ],
        ),
        (
            {"matchExpressions": [{"key": "app", "operator": "Exists", "values": ["a"]}]},
            [
                "s.matchExpressions[0].values: Forbidden: may not be specified when `operator` "
                "is 'Exists' or 'DoesNotExist'"
            ],
        ),
        (
            {"matchExpressions": [{"key": "app", "operator": "Near"}]},
            [
                's.matchExpressions[0].operator: Invalid value: "Near": '
                "not a valid selector operator"
            ],
        ),
    ],
)
def test_label_selectors(selector, expected):
    assert [str(e) for e in validate_label_selector(selector, "s")] == expected


@pytest.mark.parametrize(
    ("change", "expected"),
    [
        ({}, []),
        ({"name": "b"}, ['metadata.name: Invalid value: "b": field is immutable']),
        (
            {"namespace": "other"},
            ['metadata.namespace: Invalid value: "other": field is immutable'],
        ),
        ({"uid": "u2"}, ['metadata.uid: Invalid value: "u2": field is immutable']),
        (
            {"creationTimestamp": "2024-05-02T10:00:00Z"},
            [
                "metadata.creationTimestamp: Invalid value: 2024-05-02 10:00:00 +0000 UTC: "
                "field is immutable"
            ],
        ),
        ({"labels": {"app": "x"}}, []),
    ],
)
def test_identity_metadata_is_immutable(change, expected):
    old = {"name": "a", "namespace": "d", "uid": "u1", "creationTimestamp": "2024-05-01T10:00:00Z"}
    assert [str(e) for e in validate_object_meta_update({**old, **change}, old)] == expected


def test_no_new_finalizers_while_deleting():
    old = {"name": "a", "deletionTimestamp": "2024-05-01T10:00:00Z", "finalizers": ["a.io/x"]}
    new = {**old, "finalizers": ["a.io/x", "b.io/y"]}
    assert [str(e) for e in validate_object_meta_update(new, old)] == [
        "metadata.finalizers: Forbidden: no new finalizers can be added if the object is being "
        'deleted, found new finalizers []string{"b.io/y"}'
    ]
