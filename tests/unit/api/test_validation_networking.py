"""networking.k8s.io/v1's rules: Ingress, IngressClass, NetworkPolicy, each with a valid
object and invalid ones, worded as upstream 1.31 words them after ``is invalid:``."""

import pytest

from pynetes.api.validation.semantic import validate_object, validate_update
from tests.unit.api.test_validation_semantic import messages, with_

NETWORKING = "networking.k8s.io"
BACKEND = {"service": {"name": "web", "port": {"number": 80}}}
INGRESS = {
    "metadata": {"name": "web", "namespace": "default"},
    "spec": {
        "ingressClassName": "nginx",
        "rules": [
            {
                "host": "shop.example.com",
                "http": {"paths": [{"path": "/", "pathType": "Prefix", "backend": BACKEND}]},
            }
        ],
        "tls": [{"hosts": ["*.example.com"], "secretName": "shop-tls"}],
    },
}
PATH = "spec.rules.0.http.paths.0"
INGRESS_CASES = [
    (INGRESS, []),
    (
        with_(INGRESS, "spec.rules", ...),
        [
            "spec: Invalid value: []networking.IngressRule(nil): either `defaultBackend` or "
            "`rules` must be specified"
        ],
    ),
    (with_(with_(INGRESS, "spec.rules", ...), "spec.defaultBackend", BACKEND), []),
    (
        with_(INGRESS, "spec.rules.0.host", "10.0.0.1"),
        ['spec.rules[0].host: Invalid value: "10.0.0.1": must be a DNS name, not an IP address'],
    ),
    (
        with_(INGRESS, "spec.rules.0.host", "*.*.example.com"),
        [
            'spec.rules[0].host: Invalid value: "*.*.example.com": a wildcard DNS-1123 '
            "subdomain must start with '*.', followed by a valid DNS subdomain, which must "
            "consist of lower case alphanumeric characters, '-' or '.' and end with an "
            "alphanumeric character (e.g. '*.example.com', regex used for validation is "
            "'\\*\\.[a-z0-9]([-a-z0-9]*[a-z0-9])?(\\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*')"
        ],
    ),
    (
        with_(INGRESS, f"{PATH}.pathType", ...),
        ["spec.rules[0].http.paths[0].pathType: Required value: pathType must be specified"],
    ),
    (
        with_(INGRESS, f"{PATH}.pathType", "Regex"),
        [
            'spec.rules[0].http.paths[0].pathType: Unsupported value: "Regex": supported '
            'values: "Exact", "ImplementationSpecific", "Prefix"'
        ],
    ),
    (
        with_(INGRESS, f"{PATH}.path", "shop//cart/."),
        [
            'spec.rules[0].http.paths[0].path: Invalid value: "shop//cart/.": must be an '
            "absolute path",
            'spec.rules[0].http.paths[0].path: Invalid value: "shop//cart/.": must not '
            "contain '//'",
            'spec.rules[0].http.paths[0].path: Invalid value: "shop//cart/.": cannot end '
            "with '/.'",
        ],
    ),
    (
        with_(with_(INGRESS, f"{PATH}.path", "shop"), f"{PATH}.pathType", "ImplementationSpecific"),
        ['spec.rules[0].http.paths[0].path: Invalid value: "shop": must be an absolute path'],
    ),
    (
        with_(INGRESS, f"{PATH}.backend.service.port", {}),
        ["spec.rules[0].http.paths[0].backend: Required value: port name or number is required"],
    ),
    (
        with_(INGRESS, f"{PATH}.backend.service.port", {"name": "http", "number": 80}),
        [
            'spec.rules[0].http.paths[0].backend: Invalid value: "": cannot set both port '
            "name & port number"
        ],
    ),
    (
        with_(INGRESS, f"{PATH}.backend.service.name", "Web"),
        [
            'spec.rules[0].http.paths[0].backend.service.name: Invalid value: "Web": a '
            "DNS-1035 label must consist of lower case alphanumeric characters or '-', start "
            "with an alphabetic character, and end with an alphanumeric character (e.g. "
            "'my-name',  or 'abc-123', regex used for validation is "
            "'[a-z]([-a-z0-9]*[a-z0-9])?')"
        ],
    ),
    (
        with_(INGRESS, f"{PATH}.backend", {}),
        [
            'spec.rules[0].http.paths[0].backend: Invalid value: "": resource or service '
            "backend is required"
        ],
    ),
    (
        with_(INGRESS, "metadata.annotations", {"kubernetes.io/ingress.class": "nginx"}),
        [
            'annotations.kubernetes.io/ingress.class: Invalid value: "nginx": can not be set '
            "when the class field is also set"
        ],
    ),
]


@pytest.mark.parametrize(("ingress", "expected"), INGRESS_CASES)
def test_ingress_create(ingress, expected):
    assert messages(validate_object(NETWORKING, "v1", "Ingress", ingress)) == expected


def test_an_old_class_annotation_is_kept_on_update():
    """Upstream judges the annotation beside the class field on create only."""
    annotated = with_(INGRESS, "metadata.annotations", {"kubernetes.io/ingress.class": "nginx"})
    assert messages(validate_update(NETWORKING, "v1", "Ingress", annotated, annotated)) == []


INGRESS_CLASS = {"metadata": {"name": "nginx"}, "spec": {"controller": "k8s.io/ingress-nginx"}}


@pytest.mark.parametrize(
    ("ingress_class", "expected"),
    [
        (INGRESS_CLASS, []),
        (with_(INGRESS_CLASS, "spec.controller", ...), ["spec.controller: Required value"]),
        (
            with_(INGRESS_CLASS, "spec.controller", "nginx"),
            [
                'spec.controller: Invalid value: "nginx": must be a domain-prefixed path (such '
                'as "acme.io/foo")'
            ],
        ),
        (
            with_(
                INGRESS_CLASS,
                "spec.parameters",
                {"kind": "Config", "name": "c", "scope": "Cluster", "namespace": "x"},
            ),
            ["spec.parameters.namespace: Forbidden: `parameters.scope` is set to 'Cluster'"],
        ),
        (
            with_(
                INGRESS_CLASS,
                "spec.parameters",
                {"kind": "Config", "name": "c", "scope": "Namespace"},
            ),
            ["spec.parameters.namespace: Required value: `parameters.scope` is set to 'Namespace'"],
        ),
    ],
)
def test_ingress_class_create(ingress_class, expected):
    assert messages(validate_object(NETWORKING, "v1", "IngressClass", ingress_class)) == expected


def test_an_ingress_classs_controller_is_immutable():
    changed = with_(INGRESS_CLASS, "spec.controller", "example.com/other")
    assert messages(validate_update(NETWORKING, "v1", "IngressClass", changed, INGRESS_CLASS)) == [
        'spec.controller: Invalid value: "example.com/other": field is immutable'
    ]


POLICY = {
    "metadata": {"name": "db", "namespace": "default"},
    "spec": {
        "podSelector": {"matchLabels": {"app": "db"}},
        "policyTypes": ["Ingress"],
        "ingress": [
            {
                "from": [{"podSelector": {"matchLabels": {"app": "web"}}}],
                "ports": [{"protocol": "TCP", "port": 5432}],
            }
        ],
    },
}
RULE = "spec.ingress.0"


@pytest.mark.parametrize(
    ("policy", "expected"),
    [
        (POLICY, []),
        (
            with_(POLICY, f"{RULE}.from.0", {}),
            ["spec.ingress[0].from[0]: Required value: must specify a peer"],
        ),
        (
            with_(
                POLICY,
                f"{RULE}.from.0",
                {"ipBlock": {"cidr": "10.0.0.0/8"}, "podSelector": {}},
            ),
            ["spec.ingress[0].from[0]: Forbidden: may not specify both ipBlock and another peer"],
        ),
        (
            with_(
                POLICY,
                f"{RULE}.from.0",
                {"ipBlock": {"cidr": "10.0.0.0/8", "except": ["10.0.0.0/8", "11.0.0.0/16"]}},
            ),
            [
                'spec.ingress[0].from[0].ipBlock.except[0]: Invalid value: "10.0.0.0/8": must be '
                "a strict subset of `cidr`",
                'spec.ingress[0].from[0].ipBlock.except[1]: Invalid value: "11.0.0.0/16": must '
                "be a strict subset of `cidr`",
            ],
        ),
        (
            with_(POLICY, f"{RULE}.from.0", {"ipBlock": {"cidr": "10.0.0/8"}}),
            [
                'spec.ingress[0].from[0].ipBlock.cidr: Invalid value: "10.0.0/8": must be a '
                "valid CIDR value, (e.g. 10.9.8.0/24 or 2001:db8::/64)"
            ],
        ),
        (
            with_(POLICY, f"{RULE}.ports.0", {"port": 8000, "endPort": 7000, "protocol": "ICMP"}),
            [
                'spec.ingress[0].ports[0].protocol: Unsupported value: "ICMP": supported '
                'values: "TCP", "UDP", "SCTP"',
                "spec.ingress[0].ports[0].endPort: Invalid value: 8000: must be greater than or "
                "equal to `port`",
            ],
        ),
        (
            with_(POLICY, f"{RULE}.ports.0", {"port": "http", "endPort": 9000}),
            [
                "spec.ingress[0].ports[0].endPort: Invalid value: 9000: may not be specified "
                "when `port` is non-numeric"
            ],
        ),
        (
            with_(POLICY, "spec.policyTypes", ["Ingress", "Sideways"]),
            [
                'spec.policyTypes[1]: Unsupported value: "Sideways": supported values: '
                '"Ingress", "Egress"'
            ],
        ),
        (
            with_(POLICY, "spec.policyTypes", ["Ingress", "Egress", "Ingress"]),
            [
                'spec.policyTypes: Invalid value: []networking.PolicyType{"Ingress", "Egress", '
                '"Ingress"}: may not specify more than two policyTypes'
            ],
        ),
    ],
)
def test_network_policy_create(policy, expected):
    assert messages(validate_object(NETWORKING, "v1", "NetworkPolicy", policy)) == expected
