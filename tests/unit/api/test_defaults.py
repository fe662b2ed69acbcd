"""Server-side defaults: objects as ``kubectl create -f`` sends them, and as
upstream 1.31 stores them (the expected dicts are written by hand from
upstream's SetDefaults_* functions and what ``kubectl get -o yaml`` shows).

Admission and registry steps (service account, clusterIP, pod status phase)
are not defaulting and not part of these expectations.
"""

import copy

import pytest

from pynetes.api.defaults import (
    apply_defaults,
    default_pod_priority,
    default_toleration_seconds,
    image_tag,
    namespace_finalizers_on_create,
    service_ip_families,
)

CONTAINER_DEFAULTS = {
    "imagePullPolicy": "Always",
    "resources": {},
    "terminationMessagePath": "/dev/termination-log",
    "terminationMessagePolicy": "File",
}

POD_SPEC_DEFAULTS = {
    "dnsPolicy": "ClusterFirst",
    "restartPolicy": "Always",
    "schedulerName": "default-scheduler",
    "securityContext": {},
    "terminationGracePeriodSeconds": 30,
}


def template(labels, containers, **spec):
    return {"metadata": {"labels": labels}, "spec": {"containers": containers, **spec}}


def defaulted_template(labels, containers, **spec):
    return {
        "metadata": {"creationTimestamp": None, "labels": labels},
        "spec": {"containers": containers, **POD_SPEC_DEFAULTS, **spec},
    }


def test_pod():
    sent = {
        "apiVersion": "v1",
        "kind": "Pod",
        "metadata": {"name": "web", "namespace": "default"},
        "spec": {
            "containers": [{"name": "web", "image": "nginx", "ports": [{"containerPort": 80}]}]
        },
    }
    assert apply_defaults("", "v1", "Pod", sent) == {
        "apiVersion": "v1",
        "kind": "Pod",
        "metadata": {"name": "web", "namespace": "default"},
        "spec": {
            "containers": [
                {
                    "name": "web",
                    "image": "nginx",
                    "ports": [{"containerPort": 80, "protocol": "TCP"}],
                    **CONTAINER_DEFAULTS,
                }
            ],
            **POD_SPEC_DEFAULTS,
            # SetDefaults_Pod only: templates do not get it.
            "enableServiceLinks": True,
        },
        "status": {},
    }


def test_the_input_is_not_modified_and_defaulting_twice_changes_nothing():
    sent = {"metadata": {"name": "p"}, "spec": {"containers": [{"name": "c", "image": "i"}]}}
    kept = copy.deepcopy(sent)
    once = apply_defaults("", "v1", "Pod", sent)
    assert sent == kept
    assert apply_defaults("", "v1", "Pod", once) == once


def test_deployment():
    sent = {
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "metadata": {"name": "web", "labels": {"app": "web"}},
        "spec": {
            "selector": {"matchLabels": {"app": "web"}},
            "template": template({"app": "web"}, [{"name": "nginx", "image": "nginx:1.27"}]),
        },
    }
    assert apply_defaults("apps", "v1", "Deployment", sent) == {
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "metadata": {"name": "web", "labels": {"app": "web"}},
        "spec": {
            "progressDeadlineSeconds": 600,
            "replicas": 1,
            "revisionHistoryLimit": 10,
            "selector": {"matchLabels": {"app": "web"}},
            "strategy": {
                "type": "RollingUpdate",
                "rollingUpdate": {"maxSurge": "25%", "maxUnavailable": "25%"},
            },
            "template": defaulted_template(
                {"app": "web"},
                [
                    {
                        "name": "nginx",
                        "image": "nginx:1.27",
                        **CONTAINER_DEFAULTS,
                        "imagePullPolicy": "IfNotPresent",
                    }
                ],
            ),
        },
        "status": {},
    }


def test_recreate_deployment_gets_no_rolling_update_parameters():
    sent = {"spec": {"strategy": {"type": "Recreate"}, "template": {"spec": {"containers": []}}}}
    assert apply_defaults("apps", "v1", "Deployment", sent)["spec"]["strategy"] == {
        "type": "Recreate"
    }


def test_service():
    sent = {
        "apiVersion": "v1",
        "kind": "Service",
        "metadata": {"name": "web"},
        "spec": {"selector": {"app": "web"}, "ports": [{"port": 80}]},
    }
    assert apply_defaults("", "v1", "Service", sent) == {
        "apiVersion": "v1",
        "kind": "Service",
        "metadata": {"name": "web"},
        "spec": {
            "internalTrafficPolicy": "Cluster",
            "ports": [{"port": 80, "protocol": "TCP", "targetPort": 80}],
            "selector": {"app": "web"},
            "sessionAffinity": "None",
            "type": "ClusterIP",
        },
        "status": {"loadBalancer": {}},
    }


def test_load_balancer_service():
    sent = {
        "spec": {"type": "LoadBalancer", "ports": [{"port": 443, "targetPort": "https"}]},
        "status": {"loadBalancer": {"ingress": [{"ip": "10.0.0.1"}, {"hostname": "lb"}]}},
    }
    out = apply_defaults("", "v1", "Service", sent)
    assert out["spec"] == {
        "allocateLoadBalancerNodePorts": True,
        "externalTrafficPolicy": "Cluster",
        "internalTrafficPolicy": "Cluster",
        "ports": [{"port": 443, "protocol": "TCP", "targetPort": "https"}],
        "sessionAffinity": "None",
        "type": "LoadBalancer",
    }
    # Only an ingress with an IP gets the VIP mode.
    assert out["status"]["loadBalancer"]["ingress"] == [
        {"ip": "10.0.0.1", "ipMode": "VIP"},
        {"hostname": "lb"},
    ]


@pytest.mark.parametrize(
    ("spec", "external_policy"),
    [
        ({"type": "NodePort"}, "Cluster"),
        ({"type": "ClusterIP", "externalIPs": ["1.2.3.4"]}, "Cluster"),
        ({"type": "ClusterIP"}, None),
        ({"type": "NodePort", "externalTrafficPolicy": "Local"}, "Local"),
    ],
)
def test_external_traffic_policy_only_for_externally_accessible_services(spec, external_policy):
    out = apply_defaults("", "v1", "Service", {"spec": spec})
    assert out["spec"].get("externalTrafficPolicy") == external_policy


def test_external_name_service_has_no_internal_traffic_policy():
    out = apply_defaults("", "v1", "Service", {"spec": {"type": "ExternalName"}})
    assert "internalTrafficPolicy" not in out["spec"]


def test_client_ip_affinity_gets_the_three_hour_timeout():
    out = apply_defaults("", "v1", "Service", {"spec": {"sessionAffinity": "ClientIP"}})
    assert out["spec"]["sessionAffinityConfig"] == {"clientIP": {"timeoutSeconds": 10800}}
    none = {"spec": {"sessionAffinityConfig": {"clientIP": {"timeoutSeconds": 5}}}}
    assert "sessionAffinityConfig" not in apply_defaults("", "v1", "Service", none)["spec"]


def test_job():
    sent = {
        "apiVersion": "batch/v1",
        "kind": "Job",
        "metadata": {"name": "pi"},
        "spec": {
            "template": {
                "spec": {
                    "containers": [{"name": "pi", "image": "perl:5.34"}],
                    "restartPolicy": "Never",
                }
            }
        },
    }
    assert apply_defaults("batch", "v1", "Job", sent) == {
        "apiVersion": "batch/v1",
        "kind": "Job",
        "metadata": {"name": "pi"},
        "spec": {
            "backoffLimit": 6,
            "completionMode": "NonIndexed",
            "completions": 1,
            "parallelism": 1,
            "podReplacementPolicy": "TerminatingOrFailed",
            "suspend": False,
            "template": {
                "metadata": {"creationTimestamp": None},
                "spec": {
                    "containers": [
                        {
                            "name": "pi",
                            "image": "perl:5.34",
                            **CONTAINER_DEFAULTS,
                            "imagePullPolicy": "IfNotPresent",
                        }
                    ],
                    **POD_SPEC_DEFAULTS,
                    # As given: the Job's own value is kept.
                    "restartPolicy": "Never",
                },
            },
        },
        "status": {},
    }


@pytest.mark.parametrize(
    ("spec", "expected"),
    [
        ({"parallelism": 3}, {"parallelism": 3}),  # completions stay unset: a work queue
        ({"completions": 5}, {"completions": 5, "parallelism": 1}),
        ({"backoffLimitPerIndex": 1}, {"backoffLimit": 2147483647}),
        (
            {"podFailurePolicy": {"rules": [{"onPodConditions": [{"type": "DisruptionTarget"}]}]}},
            {
                "podReplacementPolicy": "Failed",
                "podFailurePolicy": {
                    "rules": [{"onPodConditions": [{"type": "DisruptionTarget", "status": "True"}]}]
                },
            },
        ),
    ],
)
def test_job_variants(spec, expected):
    out = apply_defaults("batch", "v1", "Job", {"spec": {**spec, "template": {"spec": {}}}})
    assert {key: out["spec"].get(key) for key in expected} == expected
    if "completions" not in spec and "parallelism" in spec:
        assert "completions" not in out["spec"]


def test_job_labels_come_from_the_template():
    sent = {"metadata": {}, "spec": {"template": {"metadata": {"labels": {"a": "b"}}}}}
    assert apply_defaults("batch", "v1", "Job", sent)["metadata"]["labels"] == {"a": "b"}


def test_cron_job_job_template_does_not_get_the_job_defaults():
    sent = {
        "apiVersion": "batch/v1",
        "kind": "CronJob",
        "metadata": {"name": "hello"},
        "spec": {
            "schedule": "* * * * *",
            "jobTemplate": {
                "spec": {
                    "template": {
                        "spec": {
                            "containers": [{"name": "hello", "image": "busybox"}],
                            "restartPolicy": "OnFailure",
                        }
                    }
                }
            },
        },
    }
    assert apply_defaults("batch", "v1", "CronJob", sent) == {
        "apiVersion": "batch/v1",
        "kind": "CronJob",
        "metadata": {"name": "hello"},
        "spec": {
            "concurrencyPolicy": "Allow",
            "failedJobsHistoryLimit": 1,
            "schedule": "* * * * *",
            "successfulJobsHistoryLimit": 3,
            "suspend": False,
            "jobTemplate": {
                "metadata": {"creationTimestamp": None},
                "spec": {
                    "template": {
                        "metadata": {"creationTimestamp": None},
                        "spec": {
                            "containers": [
                                {"name": "hello", "image": "busybox", **CONTAINER_DEFAULTS}
                            ],
                            **POD_SPEC_DEFAULTS,
                            "restartPolicy": "OnFailure",
                        },
                    }
                },
            },
        },
        "status": {},
    }


def test_stateful_set():
    sent = {
        "apiVersion": "apps/v1",
        "kind": "StatefulSet",
        "metadata": {"name": "db"},
        "spec": {
            "serviceName": "db",
            "selector": {"matchLabels": {"app": "db"}},
            "template": template({"app": "db"}, [{"name": "db", "image": "postgres:16"}]),
            "volumeClaimTemplates": [
                {
                    "metadata": {"name": "data"},
                    "spec": {
                        "accessModes": ["ReadWriteOnce"],
                        "resources": {"requests": {"storage": "1Gi"}},
                    },
                }
            ],
        },
    }
    assert apply_defaults("apps", "v1", "StatefulSet", sent) == {
        "apiVersion": "apps/v1",
        "kind": "StatefulSet",
        "metadata": {"name": "db"},
        "spec": {
            "persistentVolumeClaimRetentionPolicy": {
                "whenDeleted": "Retain",
                "whenScaled": "Retain",
            },
            "podManagementPolicy": "OrderedReady",
            "replicas": 1,
            "revisionHistoryLimit": 10,
            "selector": {"matchLabels": {"app": "db"}},
            "serviceName": "db",
            "template": defaulted_template(
                {"app": "db"},
                [
                    {
                        "name": "db",
                        "image": "postgres:16",
                        **CONTAINER_DEFAULTS,
                        "imagePullPolicy": "IfNotPresent",
                    }
                ],
            ),
            "updateStrategy": {"type": "RollingUpdate", "rollingUpdate": {"partition": 0}},
            "volumeClaimTemplates": [
                {
                    "apiVersion": "v1",
                    "kind": "PersistentVolumeClaim",
                    "metadata": {"creationTimestamp": None, "name": "data"},
                    "spec": {
                        "accessModes": ["ReadWriteOnce"],
                        "resources": {"requests": {"storage": "1Gi"}},
                        "volumeMode": "Filesystem",
                    },
                    "status": {"phase": "Pending"},
                }
            ],
        },
        "status": {"availableReplicas": 0, "replicas": 0},
    }


def test_stateful_set_on_delete_strategy_gets_no_partition():
    sent = {"spec": {"updateStrategy": {"type": "OnDelete"}}}
    out = apply_defaults("apps", "v1", "StatefulSet", sent)
    assert out["spec"]["updateStrategy"] == {"type": "OnDelete"}


def test_daemon_set():
    sent = {
        "apiVersion": "apps/v1",
        "kind": "DaemonSet",
        "metadata": {"name": "agent"},
        "spec": {
            "selector": {"matchLabels": {"app": "agent"}},
            "template": template({"app": "agent"}, [{"name": "agent", "image": "agent:latest"}]),
        },
    }
    assert apply_defaults("apps", "v1", "DaemonSet", sent) == {
        "apiVersion": "apps/v1",
        "kind": "DaemonSet",
        "metadata": {"name": "agent"},
        "spec": {
            "revisionHistoryLimit": 10,
            "selector": {"matchLabels": {"app": "agent"}},
            "template": defaulted_template(
                {"app": "agent"}, [{"name": "agent", "image": "agent:latest", **CONTAINER_DEFAULTS}]
            ),
            "updateStrategy": {
                "type": "RollingUpdate",
                "rollingUpdate": {"maxSurge": 0, "maxUnavailable": 1},
            },
        },
        "status": {
            "currentNumberScheduled": 0,
            "desiredNumberScheduled": 0,
            "numberMisscheduled": 0,
            "numberReady": 0,
        },
    }


def test_namespace():
    sent = {"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": "team-a"}}
    assert apply_defaults("", "v1", "Namespace", sent) == {
        "apiVersion": "v1",
        "kind": "Namespace",
        "metadata": {"name": "team-a", "labels": {"kubernetes.io/metadata.name": "team-a"}},
        "status": {"phase": "Active"},
    }


def test_namespace_finalizer_is_added_on_create_only_by_its_own_function():
    namespace = {"metadata": {"name": "a"}, "spec": {"finalizers": ["example.com/x"]}}
    assert namespace_finalizers_on_create(namespace)["spec"]["finalizers"] == [
        "example.com/x",
        "kubernetes",
    ]
    assert namespace["spec"]["finalizers"] == ["example.com/x"]
    assert namespace_finalizers_on_create({})["spec"] == {"finalizers": ["kubernetes"]}


@pytest.mark.parametrize(
    ("image", "policy"),
    [
        ("nginx", "Always"),
        ("nginx:latest", "Always"),
        ("registry.example.com:5000/team/app", "Always"),
        ("nginx:1.27", "IfNotPresent"),
        ("registry.example.com:5000/team/app:v1", "IfNotPresent"),
        ("nginx@sha256:" + "a" * 64, "IfNotPresent"),
        ("nginx:latest@sha256:" + "a" * 64, "Always"),
        # Not a valid reference: no tag at all, so not "latest".
        ("Nginx", "IfNotPresent"),
        ("", "IfNotPresent"),
    ],
)
def test_image_pull_policy_follows_the_tag(image, policy):
    pod = {"spec": {"containers": [{"name": "c", "image": image}]}}
    out = apply_defaults("", "v1", "Pod", pod)
    assert out["spec"]["containers"][0]["imagePullPolicy"] == policy


def test_image_tag():
    assert image_tag("localhost:5000/app") == "latest"
    assert image_tag("app:v2") == "v2"


def test_probes_env_and_lifecycle():
    container = {
        "name": "c",
        "image": "i:1",
        "env": [{"name": "POD", "valueFrom": {"fieldRef": {"fieldPath": "metadata.name"}}}],
        "livenessProbe": {"httpGet": {"port": 8080}},
        "readinessProbe": {"grpc": {"port": 9090}, "periodSeconds": 5},
        "startupProbe": {"exec": {"command": ["true"]}, "timeoutSeconds": 0},
        "lifecycle": {"preStop": {"httpGet": {"port": 80, "path": "/stop"}}},
    }
    out = apply_defaults("", "v1", "Pod", {"spec": {"containers": [container]}})
    got = out["spec"]["containers"][0]
    probe_defaults = {
        "failureThreshold": 3,
        "periodSeconds": 10,
        "successThreshold": 1,
        "timeoutSeconds": 1,
    }
    assert got["env"][0]["valueFrom"]["fieldRef"] == {
        "apiVersion": "v1",
        "fieldPath": "metadata.name",
    }
    assert got["livenessProbe"] == {
        "httpGet": {"path": "/", "port": 8080, "scheme": "HTTP"},
        **probe_defaults,
    }
    # GRPCAction.service has a declarative default of "".
    assert got["readinessProbe"] == {
        "grpc": {"port": 9090, "service": ""},
        **probe_defaults,
        "periodSeconds": 5,
    }
    assert got["startupProbe"] == {"exec": {"command": ["true"]}, **probe_defaults}
    assert got["lifecycle"]["preStop"]["httpGet"] == {"path": "/stop", "port": 80, "scheme": "HTTP"}


def test_volumes():
    volumes = [
        {"name": "scratch"},
        {"name": "cfg", "configMap": {"name": "cfg"}},
        {"name": "creds", "secret": {"secretName": "creds", "defaultMode": 256}},
        {"name": "host", "hostPath": {"path": "/var/log"}},
        {"name": "info", "downwardAPI": {"items": [{"path": "n", "fieldRef": {"fieldPath": "x"}}]}},
        {"name": "token", "projected": {"sources": [{"serviceAccountToken": {"path": "t"}}]}},
    ]
    out = apply_defaults("", "v1", "Pod", {"spec": {"containers": [], "volumes": volumes}})
    assert out["spec"]["volumes"] == [
        {"name": "scratch", "emptyDir": {}},
        {"name": "cfg", "configMap": {"name": "cfg", "defaultMode": 420}},
        {"name": "creds", "secret": {"secretName": "creds", "defaultMode": 256}},
        {"name": "host", "hostPath": {"path": "/var/log", "type": ""}},
        {
            "name": "info",
            "downwardAPI": {
                "defaultMode": 420,
                "items": [{"path": "n", "fieldRef": {"apiVersion": "v1", "fieldPath": "x"}}],
            },
        },
        {
            "name": "token",
            "projected": {
                "defaultMode": 420,
                "sources": [{"serviceAccountToken": {"path": "t", "expirationSeconds": 3600}}],
            },
        },
    ]


def test_limits_become_requests_in_pods_but_not_in_templates():
    resources = {"limits": {"cpu": "1", "memory": "1Gi"}, "requests": {"cpu": "500m"}}
    containers = [{"name": "c", "image": "i", "resources": resources}]
    pod = apply_defaults("", "v1", "Pod", {"spec": {"containers": containers}})
    assert pod["spec"]["containers"][0]["resources"]["requests"] == {
        "cpu": "500m",
        "memory": "1Gi",
    }
    deployment = {"spec": {"template": {"spec": {"containers": containers}}}}
    out = apply_defaults("apps", "v1", "Deployment", deployment)
    assert out["spec"]["template"]["spec"]["containers"][0]["resources"] == resources


def test_host_network_pods_expose_container_ports_on_the_host():
    containers = [{"name": "c", "image": "i", "ports": [{"containerPort": 53}]}]
    pod = {"spec": {"hostNetwork": True, "containers": containers}}
    out = apply_defaults("", "v1", "Pod", pod)
    assert out["spec"]["containers"][0]["ports"] == [
        {"containerPort": 53, "hostPort": 53, "protocol": "TCP"}
    ]


def test_replication_controller_takes_selector_and_labels_from_its_template():
    sent = {"spec": {"template": {"metadata": {"labels": {"app": "a"}}, "spec": {}}}}
    out = apply_defaults("", "v1", "ReplicationController", sent)
    assert out["spec"]["selector"] == {"app": "a"}
    assert out["metadata"]["labels"] == {"app": "a"}
    assert out["spec"]["replicas"] == 1
    assert out["status"] == {"replicas": 0}


def test_replica_set():
    out = apply_defaults("apps", "v1", "ReplicaSet", {"spec": {}})
    assert out["spec"]["replicas"] == 1
    assert out["status"] == {"replicas": 0}


@pytest.mark.parametrize(
    ("kind", "sent", "expected"),
    [
        ("Secret", {"data": {}}, {"data": {}, "type": "Opaque"}),
        (
            "Endpoints",
            {"subsets": [{"ports": [{"port": 80}]}]},
            {"subsets": [{"ports": [{"port": 80, "protocol": "TCP"}]}]},
        ),
        (
            "PersistentVolumeClaim",
            {"spec": {"accessModes": ["ReadWriteOnce"]}},
            {
                "spec": {"accessModes": ["ReadWriteOnce"], "volumeMode": "Filesystem"},
                "status": {"phase": "Pending"},
            },
        ),
        (
            "PersistentVolume",
            {"spec": {"hostPath": {"path": "/d"}}},
            {
                "spec": {
                    "hostPath": {"path": "/d", "type": ""},
                    "persistentVolumeReclaimPolicy": "Retain",
                    "volumeMode": "Filesystem",
                },
                "status": {"phase": "Pending"},
            },
        ),
        (
            "LimitRange",
            {
                "spec": {
                    "limits": [{"type": "Container", "max": {"cpu": "2"}, "min": {"memory": "1"}}]
                }
            },
            {
                "spec": {
                    "limits": [
                        {
                            "type": "Container",
                            "max": {"cpu": "2"},
                            "min": {"memory": "1"},
                            "default": {"cpu": "2"},
                            "defaultRequest": {"cpu": "2", "memory": "1"},
                        }
                    ]
                }
            },
        ),
        (
            "Node",
            {"status": {"capacity": {"cpu": "4"}}},
            {
                "status": {
                    "allocatable": {"cpu": "4"},
                    "capacity": {"cpu": "4"},
                    "daemonEndpoints": {"kubeletEndpoint": {"Port": 0}},
                    "nodeInfo": {
                        "architecture": "",
                        "bootID": "",
                        "containerRuntimeVersion": "",
                        "kernelVersion": "",
                        "kubeProxyVersion": "",
                        "kubeletVersion": "",
                        "machineID": "",
                        "operatingSystem": "",
                        "osImage": "",
                        "systemUUID": "",
                    },
                }
            },
        ),
        ("ConfigMap", {"data": {"a": "b"}}, {"data": {"a": "b"}}),
    ],
)
def test_other_core_kinds(kind, sent, expected):
    assert apply_defaults("", "v1", kind, sent) == expected


@pytest.mark.parametrize(
    ("group", "kind", "sent", "expected"),
    [
        (
            "scheduling.k8s.io",
            "PriorityClass",
            {"value": 1000},
            {"value": 1000, "preemptionPolicy": "PreemptLowerPriority"},
        ),
        (
            "rbac.authorization.k8s.io",
            "RoleBinding",
            {
                "roleRef": {"kind": "Role", "name": "r"},
                "subjects": [
                    {"kind": "User", "name": "u"},
                    {"kind": "Group", "name": "g"},
                    {"kind": "ServiceAccount", "name": "s", "namespace": "n"},
                ],
            },
            {
                "roleRef": {"apiGroup": "rbac.authorization.k8s.io", "kind": "Role", "name": "r"},
                "subjects": [
                    {"apiGroup": "rbac.authorization.k8s.io", "kind": "User", "name": "u"},
                    {"apiGroup": "rbac.authorization.k8s.io", "kind": "Group", "name": "g"},
                    {"apiGroup": "", "kind": "ServiceAccount", "name": "s", "namespace": "n"},
                ],
            },
        ),
        (
            "discovery.k8s.io",
            "EndpointSlice",
            {"addressType": "IPv4", "ports": [{"port": 80}]},
            {"addressType": "IPv4", "ports": [{"name": "", "port": 80, "protocol": "TCP"}]},
        ),
        (
            "networking.k8s.io",
            "NetworkPolicy",
            {"spec": {"egress": [{"ports": [{"port": 53}]}]}},
            {
                "spec": {
                    "egress": [{"ports": [{"port": 53, "protocol": "TCP"}]}],
                    "policyTypes": ["Ingress", "Egress"],
                }
            },
        ),
        (
            "storage.k8s.io",
            "StorageClass",
            {"provisioner": "p"},
            {"provisioner": "p", "reclaimPolicy": "Delete", "volumeBindingMode": "Immediate"},
        ),
        (
            "policy",
            "PodDisruptionBudget",
            {"spec": {"minAvailable": 1}},
            {
                "spec": {"minAvailable": 1},
                "status": {
                    "currentHealthy": 0,
                    "desiredHealthy": 0,
                    "disruptionsAllowed": 0,
                    "expectedPods": 0,
                },
            },
        ),
        ("coordination.k8s.io", "Lease", {"spec": {}}, {"spec": {}}),
    ],
)
def test_other_groups(group, kind, sent, expected):
    assert apply_defaults(group, "v1", kind, sent) == expected


def test_custom_resource_definition():
    sent = {
        "spec": {
            "group": "example.com",
            "names": {"kind": "Widget", "plural": "widgets"},
            "scope": "Namespaced",
            "versions": [
                {"name": "v1beta1", "served": True, "storage": False},
                {"name": "v1", "served": True, "storage": True},
            ],
        }
    }
    out = apply_defaults("apiextensions.k8s.io", "v1", "CustomResourceDefinition", sent)
    assert out["spec"]["names"] == {
        "kind": "Widget",
        "listKind": "WidgetList",
        "plural": "widgets",
        "singular": "widget",
    }
    assert out["spec"]["conversion"] == {"strategy": "None"}
    assert out["status"] == {"storedVersions": ["v1"]}


def test_conversion_webhook_service_port_defaults_to_443():
    webhook = {"clientConfig": {"service": {"name": "s", "namespace": "n"}}}
    sent = {"spec": {"conversion": {"strategy": "Webhook", "webhook": webhook}}}
    out = apply_defaults("apiextensions.k8s.io", "v1", "CustomResourceDefinition", sent)
    assert out["spec"]["conversion"]["webhook"]["clientConfig"]["service"]["port"] == 443


def test_unknown_kinds_come_back_as_a_copy():
    sent = {"spec": {"x": 1}}
    out = apply_defaults("example.com", "v1", "Widget", sent)
    assert out == sent
    assert out is not sent


# ---------------------------------------------------------------------------
# Admission and registry steps


def test_default_toleration_seconds():
    pod = {
        "spec": {"tolerations": [{"key": "node.kubernetes.io/unreachable", "operator": "Exists"}]}
    }
    out = default_toleration_seconds(pod)
    # The unreachable taint is already tolerated (any effect): only not-ready is added.
    assert out["spec"]["tolerations"] == [
        {"key": "node.kubernetes.io/unreachable", "operator": "Exists"},
        {
            "key": "node.kubernetes.io/not-ready",
            "operator": "Exists",
            "effect": "NoExecute",
            "tolerationSeconds": 300,
        },
    ]
    assert len(pod["spec"]["tolerations"]) == 1
    everything = {"spec": {"tolerations": [{"operator": "Exists"}]}}
    assert default_toleration_seconds(everything) == everything
    assert len(default_toleration_seconds({"spec": {}})["spec"]["tolerations"]) == 2


def test_default_pod_priority():
    pod = {"spec": {"containers": []}}
    assert default_pod_priority(pod, None)["spec"] == {
        "containers": [],
        "priority": 0,
        "preemptionPolicy": "PreemptLowerPriority",
    }
    critical = {
        "metadata": {"name": "critical"},
        "value": 1000,
        "preemptionPolicy": "Never",
    }
    out = default_pod_priority(pod, critical)
    assert out["spec"]["priorityClassName"] == "critical"
    assert (out["spec"]["priority"], out["spec"]["preemptionPolicy"]) == (1000, "Never")
    assert pod == {"spec": {"containers": []}}


@pytest.mark.parametrize(
    ("spec", "policy", "families"),
    [
        ({"selector": {"a": "b"}}, "SingleStack", ["IPv4"]),
        ({"clusterIP": "None", "selector": {"a": "b"}}, "SingleStack", ["IPv4"]),
        ({"clusterIP": "None"}, "RequireDualStack", ["IPv4", "IPv6"]),
        ({"ipFamilyPolicy": "PreferDualStack"}, "PreferDualStack", ["IPv4"]),
    ],
)
def test_service_ip_families(spec, policy, families):
    out = service_ip_families({"spec": spec})
    assert (out["spec"]["ipFamilyPolicy"], out["spec"]["ipFamilies"]) == (policy, families)


def test_external_name_services_get_no_ip_families():
    service = {"spec": {"type": "ExternalName", "externalName": "example.com"}}
    assert service_ip_families(service) == service
