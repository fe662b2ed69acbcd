"""Per-kind semantic rules, each with a valid object and an invalid one.

Every expectation is the text kubectl prints after ``is invalid:``, as
upstream 1.31 words it; where upstream prints a Go struct the test says so.
"""

import copy

import pytest

from pynetes.api.errors import too_long
from pynetes.api.validation.pods import validate_ephemeral_containers_update
from pynetes.api.validation.semantic import validate_object, validate_update


def messages(errors):
    return [str(error) for error in errors]


def with_(obj, path, value):
    """A deep copy of ``obj`` with the dotted ``path`` set (or removed when value is ...)."""
    result = copy.deepcopy(obj)
    *parents, last = path.split(".")
    node = result
    for key in parents:
        node = node[int(key)] if isinstance(node, list) else node.setdefault(key, {})
    if value is ...:
        del node[last]
    elif isinstance(node, list):
        node[int(last)] = value
    else:
        node[last] = value
    return result


CONTAINER = {"name": "web", "image": "nginx:1.27"}
POD = {
    "apiVersion": "v1",
    "kind": "Pod",
    "metadata": {"name": "web", "namespace": "default"},
    "spec": {"containers": [CONTAINER]},
}
TEMPLATE = {"metadata": {"labels": {"app": "web"}}, "spec": {"containers": [CONTAINER]}}
DEPLOYMENT = {
    "metadata": {"name": "web", "namespace": "default"},
    "spec": {"replicas": 2, "selector": {"matchLabels": {"app": "web"}}, "template": TEMPLATE},
}
JOB_LABELS = {
    "batch.kubernetes.io/controller-uid": "u1",
    "batch.kubernetes.io/job-name": "pi",
    "controller-uid": "u1",
    "job-name": "pi",
}
JOB = {
    "metadata": {"name": "pi", "namespace": "default", "uid": "u1"},
    "spec": {
        "selector": {"matchLabels": {"batch.kubernetes.io/controller-uid": "u1"}},
        "template": {
            "metadata": {"labels": JOB_LABELS},
            "spec": {"restartPolicy": "Never", "containers": [CONTAINER]},
        },
    },
}
CRONJOB = {
    "metadata": {"name": "nightly", "namespace": "default"},
    "spec": {
        "schedule": "0 3 * * *",
        "jobTemplate": {
            "spec": {
                "template": {"spec": {"restartPolicy": "OnFailure", "containers": [CONTAINER]}}
            }
        },
    },
}
SERVICE = {
    "metadata": {"name": "web", "namespace": "default"},
    "spec": {"selector": {"app": "web"}, "ports": [{"port": 80, "targetPort": 8080}]},
}
SUBDOMAIN_RULE = (
    "a lowercase RFC 1123 subdomain must consist of lower case alphanumeric characters, '-' or "
    "'.', and must start and end with an alphanumeric character (e.g. 'example.com', regex used "
    "for validation is '[a-z0-9]([-a-z0-9]*[a-z0-9])?(\\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*')"
)
LABEL_RULE = (
    "a lowercase RFC 1123 label must consist of lower case alphanumeric characters or '-', and "
    "must start and end with an alphanumeric character (e.g. 'my-name',  or '123-abc', regex "
    "used for validation is '[a-z0-9]([-a-z0-9]*[a-z0-9])?')"
)


def pod_with(path, value):
    return with_(POD, path, value)


POD_CASES = [
    ("valid", POD, []),
    ("no containers", pod_with("spec.containers", []), ["spec.containers: Required value"]),
    (
        "bad name",
        pod_with("metadata.name", "Web_1"),
        [f'metadata.name: Invalid value: "Web_1": {SUBDOMAIN_RULE}'],
    ),
    (
        "image required",
        pod_with("spec.containers.0", {"name": "web"}),
        ["spec.containers[0].image: Required value"],
    ),
    (
        "image whitespace",
        pod_with("spec.containers.0.image", " nginx"),
        [
            'spec.containers[0].image: Invalid value: " nginx": must not have leading or '
            "trailing whitespace"
        ],
    ),
    (
        "container name",
        pod_with("spec.containers.0.name", "Web"),
        [f'spec.containers[0].name: Invalid value: "Web": {LABEL_RULE}'],
    ),
    (
        "duplicate across init and regular containers",
        pod_with("spec.initContainers", [CONTAINER]),
        ['spec.initContainers[0].name: Duplicate value: "web"'],
    ),
    (
        "container port range and protocol",
        pod_with("spec.containers.0.ports", [{"containerPort": 70000, "protocol": "HTTP"}]),
        [
            "spec.containers[0].ports[0].containerPort: Invalid value: 70000: must be between 1 "
            "and 65535, inclusive",
            'spec.containers[0].ports[0].protocol: Unsupported value: "HTTP": supported values: '
            '"SCTP", "TCP", "UDP"',
        ],
    ),
    (
        "duplicate port names",
        pod_with(
            "spec.containers.0.ports",
            [{"name": "http", "containerPort": 80}, {"name": "http", "containerPort": 81}],
        ),
        ['spec.containers[0].ports[1].name: Duplicate value: "http"'],
    ),
    (
        "hostPort range",
        pod_with("spec.containers.0.ports", [{"containerPort": 80, "hostPort": 70000}]),
        [
            "spec.containers[0].ports[0].hostPort: Invalid value: 70000: must be between 1 and "
            "65535, inclusive"
        ],
    ),
    (
        "env name",
        pod_with("spec.containers.0.env", [{"name": "MY-VAR.ok"}, {"name": "1BAD"}]),
        [
            'spec.containers[0].env[1].name: Invalid value: "1BAD": a valid environment variable '
            "name must consist of alphabetic characters, digits, '_', '-', or '.', and must not "
            "start with a digit (e.g. 'my.env-name',  or 'MY_ENV.NAME',  or 'MyEnvName1', regex "
            "used for validation is '[-._a-zA-Z][-._a-zA-Z0-9]*')"
        ],
    ),
    (
        "volume names",
        pod_with("spec.volumes", [{"name": "data", "emptyDir": {}}, {"name": "data"}]),
        ['spec.volumes[1].name: Duplicate value: "data"'],
    ),
    (
        "volume mount of a missing volume",
        pod_with("spec.containers.0.volumeMounts", [{"name": "data", "mountPath": "/data"}]),
        ['spec.containers[0].volumeMounts[0].name: Not found: "data"'],
    ),
    (
        "two volume sources",
        pod_with("spec.volumes", [{"name": "v", "emptyDir": {}, "hostPath": {"path": "/x"}}]),
        ["spec.volumes[0].hostPath: Forbidden: may not specify more than 1 volume type"],
    ),
    (
        "requests above limits",
        pod_with(
            "spec.containers.0.resources",
            {"requests": {"cpu": "2", "memory": "1Gi"}, "limits": {"cpu": "1", "memory": "1Gi"}},
        ),
        [
            'spec.containers[0].resources.requests: Invalid value: "2": must be less than or '
            "equal to cpu limit of 1"
        ],
    ),
    (
        "negative quantity",
        pod_with("spec.containers.0.resources", {"limits": {"memory": "-1Gi"}}),
        [
            'spec.containers[0].resources.limits[memory]: Invalid value: "-1Gi": must be greater '
            "than or equal to 0"
        ],
    ),
    (
        "unknown resource",
        pod_with("spec.containers.0.resources", {"limits": {"gpu": "1"}}),
        [
            'spec.containers[0].resources.limits[gpu]: Invalid value: "gpu": must be a standard '
            "resource type or fully qualified",
            'spec.containers[0].resources.limits[gpu]: Invalid value: "gpu": must be a standard '
            "resource for containers",
        ],
    ),
    (
        "extended resources are whole and not overcommitted",
        pod_with("spec.containers.0.resources", {"requests": {"example.com/gpu": "500m"}}),
        [
            'spec.containers[0].resources.requests[example.com/gpu]: Invalid value: "500m": must '
            "be an integer",
            "spec.containers[0].resources.limits: Required value: Limit must be set for non "
            "overcommitable resources",
        ],
    ),
    (
        "restartPolicy",
        pod_with("spec.restartPolicy", "Sometimes"),
        [
            'spec.restartPolicy: Unsupported value: "Sometimes": supported values: "Always", '
            '"OnFailure", "Never"'
        ],
    ),
    (
        "dnsPolicy",
        pod_with("spec.dnsPolicy", "Google"),
        [
            'spec.dnsPolicy: Unsupported value: "Google": supported values: '
            '"ClusterFirstWithHostNet", "ClusterFirst", "Default", "None"'
        ],
    ),
    (
        "probe without handler",
        pod_with("spec.containers.0.livenessProbe", {"periodSeconds": 5}),
        ["spec.containers[0].livenessProbe: Required value: must specify a handler type"],
    ),
    (
        "liveness successThreshold",
        pod_with(
            "spec.containers.0.livenessProbe",
            {"tcpSocket": {"port": 80}, "successThreshold": 2},
        ),
        ["spec.containers[0].livenessProbe.successThreshold: Invalid value: 2: must be 1"],
    ),
    (
        "probe with two handlers",
        pod_with(
            "spec.containers.0.readinessProbe",
            {"exec": {"command": ["true"]}, "httpGet": {"port": "http"}},
        ),
        [
            "spec.containers[0].readinessProbe.httpGet: Forbidden: may not specify more than 1 "
            "handler type"
        ],
    ),
    (
        "toleration operator",
        pod_with("spec.tolerations", [{"operator": "Equal", "value": "x"}]),
        [
            'spec.tolerations[0].operator: Invalid value: "Equal": operator must be Exists when '
            '`key` is empty, which means "match all values and all keys"'
        ],
    ),
    (
        "hostNetwork port mismatch",
        with_(
            pod_with("spec.hostNetwork", True),
            "spec.containers.0.ports",
            [{"containerPort": 80, "hostPort": 8080}],
        ),
        [
            "spec.containers[0].ports[0].hostPort: Invalid value: 8080: must match "
            "`containerPort` when `hostNetwork` is true"
        ],
    ),
    (
        "ephemeral containers on create",
        pod_with("spec.ephemeralContainers", [{"name": "debug", "image": "busybox"}]),
        ["spec.ephemeralContainers: Forbidden: cannot be set on create"],
    ),
    (
        "activeDeadlineSeconds",
        pod_with("spec.activeDeadlineSeconds", 0),
        [
            "spec.activeDeadlineSeconds: Invalid value: 0: must be between 1 and 2147483647, "
            "inclusive"
        ],
    ),
]


@pytest.mark.parametrize(("case", "pod", "expected"), POD_CASES, ids=[c[0] for c in POD_CASES])
def test_pod_create(case, pod, expected):
    assert messages(validate_object("", "v1", "Pod", pod)) == expected


UPDATABLE = (
    "spec: Forbidden: pod updates may not change fields other than `spec.containers[*].image`,"
    "`spec.initContainers[*].image`,`spec.activeDeadlineSeconds`,`spec.tolerations` (only "
    "additions to existing tolerations),`spec.terminationGracePeriodSeconds` (allow it to be "
    "set to 1 if it was previously negative)\n"
)


@pytest.mark.parametrize(
    ("path", "value", "expected"),
    [
        ("spec.containers.0.image", "nginx:1.28", []),
        ("spec.activeDeadlineSeconds", 30, []),
        ("spec.tolerations", [{"key": "a", "operator": "Exists"}], []),
        (
            "spec.restartPolicy",
            "Never",
            [UPDATABLE + '  core.PodSpec{\n+ \trestartPolicy: "Never",\n  }\n'],
        ),
        (
            "spec.containers",
            [CONTAINER, {"name": "b", "image": "b"}],
            ["spec.containers: Forbidden: pod updates may not add or remove containers"],
        ),
        ("metadata.name", "other", ['metadata.name: Invalid value: "other": field is immutable']),
    ],
)
def test_pod_update(path, value, expected):
    assert messages(validate_update("", "v1", "Pod", pod_with(path, value), POD)) == expected


def test_pod_update_keeps_tolerations_and_deadline_rules():
    old = pod_with("spec.tolerations", [{"key": "a", "operator": "Exists"}])
    old = with_(old, "spec.activeDeadlineSeconds", 60)
    changed = with_(old, "spec.tolerations", [{"key": "b", "operator": "Exists"}])
    assert messages(validate_update("", "v1", "Pod", changed, old)) == [
        "spec.tolerations: Forbidden: existing toleration can not be modified except its "
        "tolerationSeconds"
    ]
    later = with_(old, "spec.activeDeadlineSeconds", 120)
    assert messages(validate_update("", "v1", "Pod", later, old)) == [
        "spec.activeDeadlineSeconds: Invalid value: 120: must be less than or equal to previous "
        "value"
    ]


def test_creation_timestamp_is_immutable_as_a_time_not_as_text():
    old = pod_with("metadata.creationTimestamp", "2026-01-01T00:00:00Z")
    same_time = with_(old, "metadata.creationTimestamp", "2026-01-01T01:00:00+01:00")
    assert messages(validate_update("", "v1", "Pod", same_time, old)) == []
    later = with_(old, "metadata.creationTimestamp", "2026-01-02T00:00:00Z")
    assert messages(validate_update("", "v1", "Pod", later, old)) == [
        # a metav1.Time is printed by its String(), unquoted
        "metadata.creationTimestamp: Invalid value: 2026-01-02 00:00:00 +0000 UTC: "
        "field is immutable"
    ]


def test_a_field_manager_name_must_be_printable():
    entry = {"manager": "kube\x07ctl", "operation": "Update", "fieldsType": "FieldsV1"}
    pod = pod_with("metadata.managedFields", [entry])
    assert messages(validate_object("", "v1", "Pod", pod, namespaced=True)) == [
        'metadata.managedFields[0].manager: Invalid value: "kube\\actl": '
        "invalid character U+0007 (at position 4)"
    ]
    printable = pod_with("metadata.managedFields", [{**entry, "manager": "kübectl"}])
    assert messages(validate_object("", "v1", "Pod", printable, namespaced=True)) == []


def test_pod_update_only_removes_scheduling_gates():
    old = pod_with("spec.schedulingGates", [{"name": "example.com/a"}])
    removed = with_(old, "spec.schedulingGates", [])
    added = with_(
        old, "spec.schedulingGates", [{"name": "example.com/a"}, {"name": "example.com/b"}]
    )
    assert messages(validate_update("", "v1", "Pod", removed, old)) == []
    assert messages(validate_update("", "v1", "Pod", added, old)) == [
        "spec.schedulingGates[1].name: Forbidden: only deletion is allowed, but found new "
        "scheduling gate 'example.com/b'"
    ]


WORKLOAD_CASES = [
    ("apps", "Deployment", DEPLOYMENT, []),
    (
        "apps",
        "Deployment",
        with_(DEPLOYMENT, "spec.selector", ...),
        ["spec.selector: Required value"],
    ),
    (
        "apps",
        "Deployment",
        with_(DEPLOYMENT, "spec.template.metadata.labels", {"app": "api", "tier": "b"}),
        [
            'spec.template.metadata.labels: Invalid value: map[string]string{"app":"api", '
            '"tier":"b"}: `selector` does not match template `labels`'
        ],
    ),
    (
        "apps",
        "Deployment",
        with_(DEPLOYMENT, "spec.replicas", -1),
        ["spec.replicas: Invalid value: -1: must be greater than or equal to 0"],
    ),
    (
        "apps",
        "Deployment",
        with_(DEPLOYMENT, "spec.template.spec.restartPolicy", "Never"),
        [
            'spec.template.spec.restartPolicy: Unsupported value: "Never": '
            'supported values: "Always"'
        ],
    ),
    (
        "apps",
        "Deployment",
        with_(DEPLOYMENT, "spec.strategy", {"rollingUpdate": {"maxSurge": 0, "maxUnavailable": 0}}),
        [
            "spec.strategy.rollingUpdate.maxUnavailable: Invalid value: "
            'intstr.IntOrString{Type:0, IntVal:0, StrVal:""}: may not be 0 when `maxSurge` is 0'
        ],
    ),
    (
        "apps",
        "Deployment",
        with_(DEPLOYMENT, "spec.strategy", {"rollingUpdate": {"maxUnavailable": "110%"}}),
        [
            "spec.strategy.rollingUpdate.maxUnavailable: Invalid value: "
            'intstr.IntOrString{Type:1, IntVal:0, StrVal:"110%"}: must not be greater than 100%'
        ],
    ),
    (
        "apps",
        "Deployment",
        with_(DEPLOYMENT, "spec.strategy", {"type": "Recreate", "rollingUpdate": {}}),
        [
            "spec.strategy.rollingUpdate: Forbidden: may not be specified when strategy `type` "
            "is 'Recreate'"
        ],
    ),
    ("apps", "ReplicaSet", DEPLOYMENT, []),
    (
        "apps",
        "ReplicaSet",
        with_(DEPLOYMENT, "spec.selector", {}),
        [
            "spec.selector: Invalid value: v1.LabelSelector{MatchLabels:map[string]string(nil), "
            "MatchExpressions:[]v1.LabelSelectorRequirement(nil)}: empty selector is invalid for "
            "deployment"
        ],
    ),
    ("apps", "StatefulSet", DEPLOYMENT, []),
    (
        "apps",
        "StatefulSet",
        with_(DEPLOYMENT, "spec.podManagementPolicy", "Random"),
        [
            "spec.podManagementPolicy: Invalid value: \"Random\": must be 'OrderedReady' or "
            "'Parallel'"
        ],
    ),
    (
        "apps",
        "StatefulSet",
        with_(DEPLOYMENT, "metadata.name", "web.v1"),
        ['metadata.name: Invalid value: "web.v1": must not contain dots'],
    ),
    ("apps", "DaemonSet", DEPLOYMENT, []),
    (
        "apps",
        "DaemonSet",
        with_(DEPLOYMENT, "spec.template.spec.activeDeadlineSeconds", 5),
        [
            "spec.template.spec.activeDeadlineSeconds: Forbidden: activeDeadlineSeconds in "
            "DaemonSet is not Supported"
        ],
    ),
    ("batch", "Job", JOB, []),
    (
        "batch",
        "Job",
        with_(JOB, "spec.template.spec.restartPolicy", ...),
        ['spec.template.spec.restartPolicy: Required value: valid values: "OnFailure", "Never"'],
    ),
    (
        "batch",
        "Job",
        with_(JOB, "spec.template.spec.restartPolicy", "Sometimes"),
        # the pod spec rule and the Job rule both speak, as upstream's do
        [
            'spec.template.spec.restartPolicy: Unsupported value: "Sometimes": supported values: '
            '"Always", "OnFailure", "Never"',
            'spec.template.spec.restartPolicy: Unsupported value: "Sometimes": supported values: '
            '"OnFailure", "Never"',
        ],
    ),
    (
        "batch",
        "Job",
        with_(with_(JOB, "spec.backoffLimit", -1), "spec.parallelism", -2),
        [
            "spec.parallelism: Invalid value: -2: must be greater than or equal to 0",
            "spec.backoffLimit: Invalid value: -1: must be greater than or equal to 0",
        ],
    ),
    ("batch", "CronJob", CRONJOB, []),
    ("batch", "CronJob", with_(CRONJOB, "spec.schedule", "@hourly"), []),
    (
        "batch",
        "CronJob",
        with_(CRONJOB, "spec.schedule", "61 * * * *"),
        ['spec.schedule: Invalid value: "61 * * * *": end of range (61) above maximum (59): 61'],
    ),
    (
        "batch",
        "CronJob",
        with_(CRONJOB, "spec.schedule", "every day"),
        [
            'spec.schedule: Invalid value: "every day": expected exactly 5 fields, found 2: '
            "[every day]"
        ],
    ),
    (
        "batch",
        "CronJob",
        with_(CRONJOB, "spec.schedule", "CRON_TZ=UTC 0 3 * * *"),
        [
            'spec.schedule: Invalid value: "CRON_TZ=UTC 0 3 * * *": cannot use TZ or CRON_TZ in '
            "schedule, use timeZone field instead"
        ],
    ),
    ("batch", "CronJob", with_(CRONJOB, "spec.timeZone", "Europe/Paris"), []),
    (
        "batch",
        "CronJob",
        with_(CRONJOB, "spec.timeZone", "Mars/Olympus"),
        ['spec.timeZone: Invalid value: "Mars/Olympus": unknown time zone Mars/Olympus'],
    ),
    (
        "batch",
        "CronJob",
        with_(CRONJOB, "metadata.name", "n" * 53),
        [f'metadata.name: Invalid value: "{"n" * 53}": must be no more than 52 characters'],
    ),
]


@pytest.mark.parametrize(("group", "kind", "obj", "expected"), WORKLOAD_CASES)
def test_workload_create(group, kind, obj, expected):
    assert messages(validate_object(group, "v1", kind, obj)) == expected


def test_workload_selectors_are_immutable_in_apps_v1():
    changed = with_(DEPLOYMENT, "spec.selector.matchLabels", {"app": "web", "v": "2"})
    changed = with_(changed, "spec.template.metadata.labels", {"app": "web", "v": "2"})
    for kind in ("Deployment", "ReplicaSet", "DaemonSet"):
        assert messages(validate_update("apps", "v1", kind, changed, DEPLOYMENT)) == [
            "spec.selector: Invalid value: v1.LabelSelector{MatchLabels:map[string]string"
            '{"app":"web", "v":"2"}, MatchExpressions:[]v1.LabelSelectorRequirement(nil)}: '
            "field is immutable"
        ]
    assert messages(validate_update("apps", "v1", "StatefulSet", changed, DEPLOYMENT)) == [
        "spec: Forbidden: updates to statefulset spec for fields other than 'replicas', "
        "'ordinals', 'template', 'updateStrategy', 'persistentVolumeClaimRetentionPolicy' and "
        "'minReadySeconds' are forbidden"
    ]
    scaled = with_(DEPLOYMENT, "spec.replicas", 5)
    assert messages(validate_update("apps", "v1", "Deployment", scaled, DEPLOYMENT)) == []


def test_job_template_is_immutable():
    changed = with_(JOB, "spec.template.spec.containers.0.image", "perl:2")
    errors = messages(validate_update("batch", "v1", "Job", changed, JOB))
    # upstream prints the whole core.PodTemplateSpec struct there; shown as JSON here.
    assert len(errors) == 1
    assert errors[0].startswith("spec.template: Invalid value: ")
    assert errors[0].endswith(": field is immutable")
    suspended = with_(JOB, "spec.suspend", True)
    assert messages(validate_update("batch", "v1", "Job", suspended, JOB)) == []


def test_cron_job_may_keep_a_tz_it_already_had():
    old = with_(CRONJOB, "spec.schedule", "TZ=UTC 0 3 * * *")
    assert messages(validate_update("batch", "v1", "CronJob", old, old)) == []


SERVICE_CASES = [
    (SERVICE, []),
    (with_(SERVICE, "spec.ports", []), ["spec.ports: Required value"]),
    (with_(with_(SERVICE, "spec.ports", []), "spec.clusterIP", "None"), []),
    (
        with_(with_(SERVICE, "spec.ports", []), "spec.type", "ExternalName"),
        ["spec.externalName: Required value"],
    ),
    (
        with_(SERVICE, "spec.ports", [{"port": 80}, {"port": 443}]),
        ["spec.ports[0].name: Required value", "spec.ports[1].name: Required value"],
    ),
    (
        with_(SERVICE, "spec.ports", [{"port": 0, "protocol": "ICMP"}]),
        [
            "spec.ports[0].port: Invalid value: 0: must be between 1 and 65535, inclusive",
            'spec.ports[0].protocol: Unsupported value: "ICMP": supported values: "SCTP", "TCP", '
            '"UDP"',
            # v1 defaulting copies the port into an unset targetPort
            "spec.ports[0].targetPort: Invalid value: 0: must be between 1 and 65535, inclusive",
        ],
    ),
    (
        with_(SERVICE, "spec.ports", [{"port": 80, "targetPort": "http--x"}]),
        [
            'spec.ports[0].targetPort: Invalid value: "http--x": must not contain consecutive '
            "hyphens"
        ],
    ),
    (
        with_(SERVICE, "spec.type", "Internal"),
        [
            'spec.type: Unsupported value: "Internal": supported values: "ClusterIP", '
            '"ExternalName", "LoadBalancer", "NodePort"'
        ],
    ),
    # the range of a nodePort is the allocator's to check (--service-node-port-range)
    (with_(with_(SERVICE, "spec.type", "NodePort"), "spec.ports.0.nodePort", 80), []),
    (with_(with_(SERVICE, "spec.type", "NodePort"), "spec.ports.0.nodePort", 30080), []),
    (
        with_(SERVICE, "metadata.name", "1web"),
        [
            'metadata.name: Invalid value: "1web": a DNS-1035 label must consist of lower case '
            "alphanumeric characters or '-', start with an alphabetic character, and end with an "
            "alphanumeric character (e.g. 'my-name',  or 'abc-123', regex used for validation is "
            "'[a-z]([-a-z0-9]*[a-z0-9])?')"
        ],
    ),
]


@pytest.mark.parametrize(("service", "expected"), SERVICE_CASES)
def test_service_create(service, expected):
    assert messages(validate_object("", "v1", "Service", service)) == expected


def test_service_cluster_ip_is_immutable_except_through_external_name():
    old = with_(SERVICE, "spec.clusterIP", "10.96.0.10")
    moved = with_(old, "spec.clusterIP", "10.96.0.11")
    assert messages(validate_update("", "v1", "Service", moved, old)) == [
        'spec.clusterIPs[0]: Invalid value: []string{"10.96.0.11"}: may not change once set'
    ]
    omitted = with_(old, "spec.clusterIP", ...)  # kubectl apply of a manifest without it
    assert messages(validate_update("", "v1", "Service", omitted, old)) == []
    external = with_(
        with_(SERVICE, "spec.type", "ExternalName"), "spec.externalName", "db.example.com"
    )
    assert messages(validate_update("", "v1", "Service", external, old)) == []


CLUSTER_CASES = [
    ("", "Namespace", {"metadata": {"name": "team-a"}}, []),
    (
        "",
        "Namespace",
        {"metadata": {"name": "team.a"}},
        ['metadata.name: Invalid value: "team.a": must not contain dots'],
    ),
    ("", "ConfigMap", {"metadata": {"name": "c", "namespace": "d"}, "data": {"a.conf": "x"}}, []),
    (
        "",
        "ConfigMap",
        {"metadata": {"name": "c", "namespace": "d"}, "data": {"a/b": "x"}},
        [
            'data[a/b]: Invalid value: "a/b": a valid config key must consist of alphanumeric '
            "characters, '-', '_' or '.' (e.g. 'key.name',  or 'KEY_NAME',  or 'key-name', regex "
            "used for validation is '[-._a-zA-Z0-9]+')"
        ],
    ),
    (
        "",
        "Secret",
        {"metadata": {"name": "s", "namespace": "d"}, "type": "kubernetes.io/tls", "data": {}},
        ["data[tls.crt]: Required value", "data[tls.key]: Required value"],
    ),
    (
        "",
        "Node",
        {
            "metadata": {"name": "n1"},
            "spec": {"podCIDRs": ["10.244.0.0/24"], "taints": [{"key": "a", "effect": "Never"}]},
        },
        [
            'metadata.taints[0].effect: Unsupported value: "Never": supported values: '
            '"NoSchedule", "PreferNoSchedule", "NoExecute"'
        ],
    ),
    (
        "",
        "Node",
        {"metadata": {"name": "n1"}, "spec": {"podCIDRs": ["10.244.0.0"]}},
        [
            'spec.podCIDRs[0]: Invalid value: "10.244.0.0": must be a valid CIDR value, '
            "(e.g. 10.9.8.0/24 or 2001:db8::/64)"
        ],
    ),
    (
        "coordination.k8s.io",
        "Lease",
        {"metadata": {"name": "l", "namespace": "d"}, "spec": {"leaseDurationSeconds": 0}},
        ["spec.leaseDurationSeconds: Invalid value: 0: must be greater than 0"],
    ),
    ("scheduling.k8s.io", "PriorityClass", {"metadata": {"name": "high"}, "value": 1000}, []),
    (
        "scheduling.k8s.io",
        "PriorityClass",
        {"metadata": {"name": "high"}, "value": 2000000000},
        ["value: Forbidden: maximum allowed value of a user defined priority is 1000000000"],
    ),
    (
        "scheduling.k8s.io",
        "PriorityClass",
        {"metadata": {"name": "system-mine"}, "value": 10},
        [
            "metadata.name: Forbidden: priority class names with 'system-' prefix are reserved "
            "for system use only. error: system-mine is not a known system priority class"
        ],
    ),
    (
        "policy",
        "PodDisruptionBudget",
        {"metadata": {"name": "p", "namespace": "d"}, "spec": {"minAvailable": "50%"}},
        [],
    ),
    (
        "policy",
        "PodDisruptionBudget",
        {
            "metadata": {"name": "p", "namespace": "d"},
            "spec": {"minAvailable": 1, "maxUnavailable": 1},
        },
        [
            "spec: Invalid value: policy.PodDisruptionBudgetSpec{MinAvailable:"
            "(*intstr.IntOrString)(0xc000000000), Selector:(*v1.LabelSelector)(nil), "
            "MaxUnavailable:(*intstr.IntOrString)(0xc000000000), UnhealthyPodEvictionPolicy:"
            "(*policy.UnhealthyPodEvictionPolicyType)(nil)}: minAvailable and maxUnavailable "
            "cannot be both set"
        ],
    ),
    (
        "discovery.k8s.io",
        "EndpointSlice",
        {
            "metadata": {"name": "e", "namespace": "d"},
            "addressType": "IPv4",
            "endpoints": [{"addresses": ["10.0.0.1"]}],
        },
        [],
    ),
    (
        "discovery.k8s.io",
        "EndpointSlice",
        {"metadata": {"name": "e", "namespace": "d"}, "addressType": "IPX"},
        ['addressType: Unsupported value: "IPX": supported values: "FQDN", "IPv4", "IPv6"'],
    ),
    (
        "rbac.authorization.k8s.io",
        "Role",
        {
            "metadata": {"name": "r", "namespace": "d"},
            "rules": [{"apiGroups": [""], "resources": ["pods"]}],
        },
        ["rules[0].verbs: Required value: verbs must contain at least one value"],
    ),
    (
        "rbac.authorization.k8s.io",
        "RoleBinding",
        {
            "metadata": {"name": "rb", "namespace": "d"},
            "roleRef": {"apiGroup": "rbac.authorization.k8s.io", "kind": "Role", "name": "r"},
            "subjects": [{"kind": "User", "name": "jane"}],
        },
        [],
    ),
]


@pytest.mark.parametrize(("group", "kind", "obj", "expected"), CLUSTER_CASES)
def test_cluster_kinds_create(group, kind, obj, expected):
    assert messages(validate_object(group, "v1", kind, obj)) == expected


def test_config_maps_hold_at_most_one_mib():
    config_map = {
        "metadata": {"name": "c", "namespace": "d"},
        "data": {"a": "x" * (1024 * 1024 + 1)},
    }
    assert validate_object("", "v1", "ConfigMap", config_map) == [too_long("", 1024 * 1024)]


def test_immutable_config_maps_and_secret_types():
    old = {"metadata": {"name": "c", "namespace": "d"}, "data": {"a": "1"}, "immutable": True}
    changed = with_(old, "data", {"a": "2"})
    assert messages(validate_update("", "v1", "ConfigMap", changed, old)) == [
        "data: Forbidden: field is immutable when `immutable` is set"
    ]
    secret = {"metadata": {"name": "s", "namespace": "d"}, "type": "Opaque"}
    retyped = with_(secret, "type", "kubernetes.io/basic-auth")
    retyped = with_(retyped, "data", {"username": "YQ=="})
    assert messages(validate_update("", "v1", "Secret", retyped, secret)) == [
        'type: Invalid value: "kubernetes.io/basic-auth": field is immutable'
    ]


def test_role_ref_is_immutable():
    binding = CLUSTER_CASES[-1][2]
    changed = with_(binding, "roleRef.name", "admin")
    assert messages(
        validate_update("rbac.authorization.k8s.io", "v1", "RoleBinding", changed, binding)
    ) == [
        'roleRef: Invalid value: rbac.RoleRef{APIGroup:"rbac.authorization.k8s.io", Kind:"Role", '
        'Name:"admin"}: cannot change roleRef'
    ]


def test_node_pod_cidr_is_set_once():
    old = {"metadata": {"name": "n1"}, "spec": {"podCIDRs": ["10.244.0.0/24"]}}
    changed = with_(old, "spec.podCIDRs", ["10.244.1.0/24"])
    assert messages(validate_update("", "v1", "Node", changed, old)) == [
        'spec.podCIDRs: Forbidden: node updates may not change podCIDR except from "" to valid'
    ]


CRD = {
    "metadata": {"name": "widgets.example.com"},
    "spec": {
        "group": "example.com",
        "scope": "Namespaced",
        "names": {
            "plural": "widgets",
            "singular": "widget",
            "kind": "Widget",
            "listKind": "WidgetList",
        },
        "versions": [
            {
                "name": "v1",
                "served": True,
                "storage": True,
                "schema": {
                    "openAPIV3Schema": {
                        "type": "object",
                        "properties": {"spec": {"type": "object"}},
                    }
                },
            }
        ],
    },
}


@pytest.mark.parametrize(
    ("crd", "expected"),
    [
        (CRD, []),
        (
            with_(CRD, "metadata.name", "widgets.example.org"),
            [
                'metadata.name: Invalid value: "widgets.example.org": '
                'must be spec.names.plural+"."+spec.group'
            ],
        ),
        (
            with_(CRD, "spec.scope", "Global"),
            ['spec.scope: Unsupported value: "Global": supported values: "Cluster", "Namespaced"'],
        ),
        (
            with_(CRD, "spec.versions.0.storage", False),
            ["spec.versions: Invalid value: "],
        ),
        (
            with_(
                CRD, "spec.versions.0.schema.openAPIV3Schema.properties.spec", {"description": "x"}
            ),
            [
                "spec.versions[0].schema.openAPIV3Schema.properties[spec].type: Required value: "
                "must not be empty for specified object fields"
            ],
        ),
        (
            with_(CRD, "spec.versions.0.schema", ...),
            ["spec.versions[0].schema.openAPIV3Schema: Required value: schemas are required"],
        ),
    ],
)
def test_custom_resource_definitions(crd, expected):
    errors = messages(
        validate_object("apiextensions.k8s.io", "v1", "CustomResourceDefinition", crd)
    )
    if expected and expected[0] == "spec.versions: Invalid value: ":
        # upstream prints the versions as a Go slice of structs; the detail is what matters.
        assert len(errors) == 1
        assert errors[0].endswith(": must have exactly one version marked as storage version")
    else:
        assert errors == expected


def test_custom_resources_get_metadata_rules_only():
    widget = {"metadata": {"name": "Bad_Name", "namespace": "d", "finalizers": ["cleanup"]}}
    assert messages(validate_object("example.com", "v1", "Widget", widget, namespaced=True)) == [
        f'metadata.name: Invalid value: "Bad_Name": {SUBDOMAIN_RULE}'
    ]
    assert messages(
        validate_object("example.com", "v1", "Widget", {"metadata": {"name": "w"}}, namespaced=True)
    ) == ["metadata.namespace: Required value"]


def test_validation_does_not_change_its_inputs():
    pod, old = copy.deepcopy(POD), copy.deepcopy(POD)
    validate_object("", "v1", "Pod", pod)
    validate_update("", "v1", "Pod", pod_with("spec.restartPolicy", "Never"), old)
    assert pod == POD
    assert old == POD


DEBUGGER = {"name": "debugger", "image": "busybox", "command": ["sh"]}


def with_ephemeral(pod, *containers):
    return with_(pod, "spec.ephemeralContainers", list(containers))


def test_ephemeral_containers_are_added_never_removed_or_changed():
    debugged = with_ephemeral(POD, DEBUGGER)
    assert messages(validate_ephemeral_containers_update(debugged, POD)) == []
    second = {"name": "second", "image": "busybox", "targetContainerName": "web"}
    assert (
        messages(
            validate_ephemeral_containers_update(with_ephemeral(POD, DEBUGGER, second), debugged)
        )
        == []
    )
    assert messages(validate_ephemeral_containers_update(POD, debugged)) == [
        'spec.ephemeralContainers: Forbidden: existing ephemeral containers "debugger" may not'
        " be removed\n"
    ]
    changed = with_ephemeral(POD, {**DEBUGGER, "image": "alpine"})
    assert messages(validate_ephemeral_containers_update(changed, debugged)) == [
        "spec.ephemeralContainers[debugger]: Forbidden: existing ephemeral containers "
        '"debugger" may not be changed\n'
    ]
    bad = with_ephemeral(
        POD,
        {"name": "web", "image": "busybox", "ports": [{"containerPort": 80}]},
        {"name": "lost", "image": "busybox", "targetContainerName": "nowhere"},
    )
    assert messages(validate_ephemeral_containers_update(bad, POD)) == [
        'spec.ephemeralContainers[0].name: Duplicate value: "web"',
        "spec.ephemeralContainers[0].ports: Forbidden: cannot be set for an Ephemeral Container",
        'spec.ephemeralContainers[1].targetContainerName: Not found: "nowhere"',
    ]
