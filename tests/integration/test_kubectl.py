"""The real kubectl against the real API server: each test states which kubectl it proves.

``None`` is the dispatcher at /usr/bin/kubectl (which picks the client of the
server's minor version, 1.31); "1.31" and "1.33" are the pinned binaries.
"""

from __future__ import annotations

import asyncio
import json
import re
import textwrap
from pathlib import Path

import pytest
import yaml

from tests.integration.conftest import Cluster

#: The dispatcher's kubectl, the oldest pinned one (1.27: OpenAPI v2 in protobuf, SPDY),
#: and the two the issue names.
CLIENTS = [None, "1.27", "1.31", "1.33"]

DEPLOYMENT = textwrap.dedent(
    """
    apiVersion: apps/v1
    kind: Deployment
    metadata:
      name: web
      labels: {app: web}
    spec:
      replicas: 2
      selector:
        matchLabels: {app: web}
      template:
        metadata:
          labels: {app: web}
        spec:
          containers:
          - name: web
            image: nginx:1.25
            ports:
            - containerPort: 80
    """
)

POD = textwrap.dedent(
    """
    apiVersion: v1
    kind: Pod
    metadata:
      name: p1
      labels: {app: p}
    spec:
      containers:
      - name: c
        image: busybox
        command: ["sleep", "3600"]
    """
)

CRD = textwrap.dedent(
    """
    apiVersion: apiextensions.k8s.io/v1
    kind: CustomResourceDefinition
    metadata:
      name: widgets.example.com
    spec:
      group: example.com
      scope: Namespaced
      names: {plural: widgets, singular: widget, kind: Widget, shortNames: [wd]}
      versions:
      - name: v1
        served: true
        storage: true
        subresources:
          status: {}
          scale: {specReplicasPath: .spec.replicas, statusReplicasPath: .status.replicas}
        additionalPrinterColumns:
        - {name: Size, type: integer, jsonPath: .spec.size}
        schema:
          openAPIV3Schema:
            type: object
            properties:
              spec:
                type: object
                properties:
                  size: {type: integer}
                  replicas: {type: integer}
              status:
                type: object
                x-kubernetes-preserve-unknown-fields: true
    """
)


def write(directory: Path, name: str, text: str) -> str:
    path = directory / name
    path.write_text(text)
    return str(path)


@pytest.mark.parametrize("client", CLIENTS)
async def test_version_and_api_resources(cluster: Cluster, client: str | None) -> None:
    kubectl = cluster.kubectl(client)
    _, out, _ = await kubectl("version", "-o", "json")
    server = json.loads(out)["serverVersion"]
    assert (server["major"], server["minor"]) == ("1", "31")
    _, out, _ = await kubectl("api-resources")
    lines = {line.split()[0]: line for line in out.splitlines()[1:]}
    assert "deployments" in lines and "deploy" in lines["deployments"]
    assert "pods" in lines and "po" in lines["pods"]
    assert "customresourcedefinitions" in lines


@pytest.mark.parametrize("client", CLIENTS)
async def test_create_get_describe_and_delete(
    cluster: Cluster, client: str | None, tmp_path: Path
) -> None:
    kubectl = cluster.kubectl(client)
    _, out, _ = await kubectl("create", "-f", write(tmp_path, "pod.yaml", POD))
    assert out.strip() == "pod/p1 created"
    _, out, _ = await kubectl("get", "pods")
    header, row = out.splitlines()
    assert header.split() == ["NAME", "READY", "STATUS", "RESTARTS", "AGE"]
    assert row.split()[:4] == ["p1", "0/1", "Pending", "0"]
    _, out, _ = await kubectl("get", "pods", "-o", "wide")
    assert out.splitlines()[0].split()[5:] == [
        "IP",
        "NODE",
        "NOMINATED",
        "NODE",
        "READINESS",
        "GATES",
    ]
    _, out, _ = await kubectl("get", "pod", "p1", "-o", "yaml")
    stored = yaml.safe_load(out)
    assert stored["spec"]["restartPolicy"] == "Always"
    assert stored["spec"]["containers"][0]["imagePullPolicy"] == "Always"
    assert stored["status"] == {"phase": "Pending", "qosClass": "BestEffort"}
    _, out, _ = await kubectl("get", "pod", "p1", "-o", "jsonpath={.metadata.uid}")
    assert out == stored["metadata"]["uid"]
    _, out, _ = await kubectl("describe", "pod", "p1")
    # the token volume's rows widen the columns: match the field, not its padding
    assert re.search(r"^QoS Class:\s+BestEffort$", out, re.MULTILINE)
    _, out, _ = await kubectl("delete", "pod", "p1", "--wait=true", "--timeout=30s")
    assert out.strip() == 'pod "p1" deleted'
    code, _, err = await kubectl("get", "pod", "p1", check=False)
    assert code == 1 and 'pods "p1" not found' in err


@pytest.mark.parametrize("client", [None, "1.27"])
async def test_explain_reads_the_openapi_schema(cluster: Cluster, client: str | None) -> None:
    _, out, _ = await cluster.kubectl(client)("explain", "pod.spec.containers")
    assert "FIELD: containers <[]Container>" in out
    assert "List of containers belonging to the pod." in out


@pytest.mark.parametrize("client", [None, "1.27", "1.33"])
async def test_apply_twice_diff_and_server_side_apply(
    cluster: Cluster, client: str | None, tmp_path: Path
) -> None:
    kubectl = cluster.kubectl(client)
    manifest = write(tmp_path, "deploy.yaml", DEPLOYMENT)
    _, out, _ = await kubectl("apply", "-f", manifest)
    assert out.strip() == "deployment.apps/web created"
    changed = write(tmp_path, "deploy2.yaml", DEPLOYMENT.replace("nginx:1.25", "nginx:1.26"))
    code, out, _ = await kubectl("diff", "-f", changed, check=False)
    assert code == 1 and "+      - image: nginx:1.26" in out
    _, out, _ = await kubectl("apply", "-f", changed)
    assert out.strip() == "deployment.apps/web configured"
    _, out, _ = await kubectl(
        "get",
        "deploy",
        "web",
        "-o",
        "jsonpath={.spec.template.spec.containers[0].image} {.metadata.generation}",
    )
    assert out == "nginx:1.26 2"
    code, out, _ = await kubectl("diff", "-f", changed, check=False)
    assert code == 0 and out == ""
    server_side = write(
        tmp_path, "ssa.yaml", DEPLOYMENT.replace("name: web\n  labels", "name: api\n  labels")
    )
    _, out, _ = await kubectl("apply", "--server-side", "-f", server_side)
    assert out.strip() == "deployment.apps/api serverside-applied"
    _, out, _ = await kubectl("get", "deploy", "api", "-o", "json", "--show-managed-fields")
    managers = [entry["manager"] for entry in json.loads(out)["metadata"]["managedFields"]]
    assert "kubectl" in managers


async def test_edit_patch_label_annotate_scale(cluster: Cluster, tmp_path: Path) -> None:
    kubectl = cluster.kubectl()
    await kubectl("create", "-f", write(tmp_path, "deploy.yaml", DEPLOYMENT))
    editor = tmp_path / "editor.sh"
    editor.write_text("#!/bin/sh\nsed -i 's/replicas: 2/replicas: 7/' \"$1\"\n")
    editor.chmod(0o755)
    _, out, _ = await kubectl("edit", "deploy", "web", env={"EDITOR": str(editor)})
    assert out.strip() == "deployment.apps/web edited"
    await kubectl(
        "patch",
        "deploy",
        "web",
        "-p",
        '{"spec":{"template":{"spec":{"containers":[{"name":"web","image":"nginx:1.27"}]}}}}',
    )
    await kubectl(
        "patch", "deploy", "web", "--type=merge", "-p", '{"metadata":{"labels":{"x":"y"}}}'
    )
    await kubectl(
        "patch",
        "deploy",
        "web",
        "--type=json",
        "-p",
        '[{"op":"replace","path":"/spec/minReadySeconds","value":3}]',
    )
    await kubectl("label", "deploy", "web", "tier=front")
    await kubectl("annotate", "deploy", "web", "note=hi")
    _, out, _ = await kubectl("scale", "deploy", "web", "--replicas=5")
    assert out.strip() == "deployment.apps/web scaled"
    _, out, _ = await kubectl("get", "deploy", "web", "-o", "json")
    deployment = json.loads(out)
    assert deployment["spec"]["replicas"] == 5
    assert deployment["spec"]["minReadySeconds"] == 3
    containers = deployment["spec"]["template"]["spec"]["containers"]
    assert [(c["name"], c["image"], c["ports"]) for c in containers] == [
        ("web", "nginx:1.27", [{"containerPort": 80, "protocol": "TCP"}])
    ]
    assert deployment["metadata"]["labels"] == {"app": "web", "tier": "front", "x": "y"}
    assert deployment["metadata"]["annotations"]["note"] == "hi"
    # The subresources print as upstream's: the kind's own columns, and a Scale's.
    _, out, _ = await kubectl("get", "deploy", "web", "--subresource=status")
    assert out.splitlines()[0].split() == ["NAME", "READY", "UP-TO-DATE", "AVAILABLE", "AGE"]
    _, out, _ = await kubectl("get", "deploy", "web", "--subresource=scale")
    assert [line.split() for line in out.splitlines()] == [
        ["NAME", "DESIRED", "AVAILABLE"],
        ["web", "5", "0"],
    ]


async def test_watch_prints_each_change(cluster: Cluster, tmp_path: Path) -> None:
    kubectl = cluster.kubectl()
    watching = asyncio.create_task(
        kubectl("get", "pods", "-w", "--request-timeout=3s", check=False)
    )
    await asyncio.sleep(1.0)
    await kubectl("create", "-f", write(tmp_path, "pod.yaml", POD))
    await kubectl("label", "pod", "p1", "seen=yes")
    _, out, _ = await watching
    rows = [line.split() for line in out.splitlines() if line.startswith("p1")]
    assert len(rows) >= 2
    assert all(row[2] == "Pending" for row in rows)


async def test_foreground_cascade_leaves_the_owner_waiting_for_the_collector(
    cluster: Cluster, tmp_path: Path
) -> None:
    kubectl = cluster.kubectl()
    await kubectl("create", "-f", write(tmp_path, "deploy.yaml", DEPLOYMENT))
    code, _, _ = await kubectl(
        "delete", "deploy", "web", "--cascade=foreground", "--timeout=2s", check=False
    )
    assert code == 1  # no garbage collector runs yet (controller-manager, issue 6)
    _, out, _ = await kubectl("get", "deploy", "web", "-o", "json")
    metadata = json.loads(out)["metadata"]
    assert metadata["finalizers"] == ["foregroundDeletion"]
    assert "deletionTimestamp" in metadata


async def test_get_all_lists_the_all_category(cluster: Cluster, tmp_path: Path) -> None:
    kubectl = cluster.kubectl()
    await kubectl("create", "-f", write(tmp_path, "pod.yaml", POD))
    await kubectl("create", "-f", write(tmp_path, "deploy.yaml", DEPLOYMENT))
    _, out, _ = await kubectl("get", "all")
    assert "pod/p1" in out
    assert "deployment.apps/web" in out


@pytest.mark.parametrize("client", [None, "1.27", "1.33"])
async def test_custom_resources_are_served_once_their_crd_exists(
    cluster: Cluster, client: str | None, tmp_path: Path
) -> None:
    kubectl = cluster.kubectl(client)
    await kubectl("create", "-f", write(tmp_path, "crd.yaml", CRD))
    await kubectl(
        "wait", "--for", "condition=established", "crd/widgets.example.com", "--timeout=10s"
    )
    widget = (
        "apiVersion: example.com/v1\nkind: Widget\nmetadata: {name: w1}\n"
        "spec: {size: 3, replicas: 1}\n"
    )
    await kubectl("create", "-f", write(tmp_path, "w.yaml", widget))
    _, out, _ = await kubectl("get", "widgets")
    assert [line.split()[:2] for line in out.splitlines()] == [["NAME", "SIZE"], ["w1", "3"]]
    await kubectl("scale", "wd", "w1", "--replicas=4")
    await kubectl("patch", "widget", "w1", "--type=merge", "-p", '{"spec":{"size":9}}')
    _, out, _ = await kubectl("get", "wd", "w1", "-o", "jsonpath={.spec.size} {.spec.replicas}")
    assert out == "9 4"
    code, _, err = await kubectl("patch", "widget", "w1", "-p", '{"spec":{"size":1}}', check=False)
    assert code == 1 and "application/strategic-merge-patch+json is not supported" in err
    bad = (
        '{"apiVersion":"example.com/v1","kind":"Widget","metadata":{"name":"w2"},'
        '"spec":{"size":"big"}}'
    )
    code, _, err = await kubectl("create", "-f", "-", stdin=bad.encode(), check=False)
    assert code == 1
    assert 'spec.size: Invalid value: "string": spec.size in body must be of type integer' in err


#: Imperative creates, which kubectl 1.32 and later send as protobuf: the object to
#: read back, and the arguments after `create`.
IMPERATIVE = [
    ("configmap/c", ["configmap", "c", "--from-literal=a=1", "--from-literal=empty="]),
    ("secret/s", ["secret", "generic", "s", "--from-literal=k=v"]),
    ("secret/d", ["secret", "docker-registry", "d", "--docker-username=u", "--docker-password=p"]),
    ("serviceaccount/sa", ["serviceaccount", "sa"]),
    ("deployment/web", ["deployment", "web", "--image=nginx", "--replicas=0", "--port=80"]),
    ("job/j", ["job", "j", "--image=busybox", "--", "echo", "hi"]),
    ("cronjob/cj", ["cronjob", "cj", "--image=busybox", "--schedule=*/5 * * * *"]),
    ("service/cip", ["service", "clusterip", "cip", "--tcp=80:8080"]),
    ("service/np", ["service", "nodeport", "np", "--tcp=80:web"]),
    ("service/ext", ["service", "externalname", "ext", "--external-name=example.com"]),
    ("role/r", ["role", "r", "--verb=get,list", "--resource=pods"]),
    ("rolebinding/rb", ["rolebinding", "rb", "--role=r", "--user=bob"]),
    ("resourcequota/q", ["quota", "q", "--hard=pods=10,cpu=2"]),
    ("poddisruptionbudget/pdb", ["pdb", "pdb", "--selector=app=x", "--min-available=1"]),
    (
        "ingress/shop",
        ["ingress", "shop", "--class=nginx", "--rule=shop.example.com/*=web:80,tls=shop-tls"],
    ),
]
#: The same for cluster-scoped kinds, whose name each client's run suffixes.
IMPERATIVE_CLUSTER = [
    ("namespace/team", ["namespace", "team"]),
    ("clusterrole/reader", ["clusterrole", "reader", "--verb=get", "--resource=nodes"]),
    ("clusterrolebinding/b", ["clusterrolebinding", "b", "--clusterrole=reader", "--group=g"]),
    ("priorityclass/low", ["priorityclass", "low", "--value=0", "--description=zero"]),
]


def _comparable(obj: dict) -> dict:
    """An object less what differs between two creates of it: identity (wherever it
    is repeated: a Job's labels carry its uid, a namespace's its name), times, and the
    addresses and ports the server allocates."""
    metadata = obj["metadata"]
    text = json.dumps(obj).replace(metadata["uid"], "UID")
    obj = json.loads(text.replace(json.dumps(metadata["name"]), '"NAME"'))
    metadata = obj["metadata"]
    for key in ("name", "namespace", "uid", "resourceVersion", "creationTimestamp"):
        metadata.pop(key, None)
    for entry in metadata.get("managedFields", []):
        entry.pop("time")
    spec = obj.get("spec", {})
    if obj["kind"] == "Service":
        for key in ("clusterIP", "clusterIPs"):
            spec.pop(key, None)
        for port in spec.get("ports", []):
            port.pop("nodePort", None)
    return obj


async def test_kubectl_133_imperative_creates_in_protobuf_equal_131s_in_json(
    cluster: Cluster,
) -> None:
    """kubectl 1.33 sends each `kubectl create <kind>` as protobuf, 1.31 as JSON: the
    server stores the same objects, down to the fields their managedFields own."""
    created: dict[str, list[dict]] = {}
    for version, namespace in (("1.31", "json"), ("1.33", "proto")):
        kubectl = cluster.kubectl(version)
        await kubectl("create", "namespace", namespace)
        for target, arguments in IMPERATIVE:
            await kubectl("-n", namespace, "create", *arguments)
            _, out, _ = await kubectl("get", target, "-n", namespace, "-o", "json")
            created.setdefault(target, []).append(json.loads(out))
        for target, arguments in IMPERATIVE_CLUSTER:
            kind, name = target.split("/")
            arguments = [arguments[0], f"{name}-{namespace}", *arguments[2:]]
            await kubectl("create", *arguments)
            _, out, _ = await kubectl("get", f"{kind}/{name}-{namespace}", "-o", "json")
            created.setdefault(target, []).append(json.loads(out))
    for target, (from_json, from_protobuf) in created.items():
        assert _comparable(from_protobuf) == _comparable(from_json), target
    deployment = created["deployment/web"][1]
    assert deployment["spec"]["replicas"] == 0  # a pointer's zero, kept
    assert created["priorityclass/low"][1]["value"] == 0
    _, token, _ = await cluster.kubectl("1.33")("create", "token", "sa", "-n", "proto")
    assert token.count(".") == 2  # a JWT, from a protobuf TokenRequest


async def test_imperative_create_through_the_dispatcher(cluster: Cluster) -> None:
    _, out, _ = await cluster.kubectl()("create", "namespace", "team-a")
    assert out.strip() == "namespace/team-a created"
    _, out, _ = await cluster.kubectl()(
        "create", "configmap", "settings", "-n", "team-a", "--from-literal=a=1"
    )
    assert out.strip() == "configmap/settings created"


async def test_invalid_objects_are_refused_with_upstreams_message(
    cluster: Cluster, tmp_path: Path
) -> None:
    bad = POD.replace("    image: busybox\n", "")
    code, _, err = await cluster.kubectl()(
        "create", "-f", write(tmp_path, "bad.yaml", bad), check=False
    )
    assert code == 1
    assert 'The Pod "p1" is invalid: spec.containers[0].image: Required value' in err
    typo = POD.replace("image: busybox", "image: busybox\n    imagePullPolcy: Always")
    code, _, err = await cluster.kubectl()(
        "create", "-f", write(tmp_path, "typo.yaml", typo), "--validate=strict", check=False
    )
    assert code == 1
    assert 'unknown field "spec.containers[0].imagePullPolcy"' in err


NETWORK_POLICY = textwrap.dedent(
    """
    apiVersion: networking.k8s.io/v1
    kind: NetworkPolicy
    metadata: {name: db}
    spec:
      podSelector: {matchLabels: {app: db}}
      ingress:
      - from: [{podSelector: {matchLabels: {app: web}}}]
        ports: [{port: 5432}]
    """
)


async def test_networking_objects_are_stored_validated_and_printed(
    cluster: Cluster, tmp_path: Path
) -> None:
    kubectl = cluster.kubectl()
    await kubectl("create", "ingress", "shop", "--class=nginx", "--rule=shop.example.com/*=web:80")
    _, out, _ = await kubectl("get", "ing")
    header, row = out.splitlines()
    assert header.split() == ["NAME", "CLASS", "HOSTS", "ADDRESS", "PORTS", "AGE"]
    assert row.split()[:4] == ["shop", "nginx", "shop.example.com", "80"]
    await kubectl("create", "-f", write(tmp_path, "policy.yaml", NETWORK_POLICY))
    _, out, _ = await kubectl("get", "netpol", "db", "-o", "jsonpath={.spec.policyTypes}")
    assert out == '["Ingress"]'  # defaulted: a policy with ingress rules only
    _, out, _ = await kubectl("get", "netpol")
    assert out.splitlines()[1].split()[:2] == ["db", "app=db"]
    no_path_type = (
        '{"apiVersion":"networking.k8s.io/v1","kind":"Ingress","metadata":{"name":"bad"},'
        '"spec":{"rules":[{"http":{"paths":[{"path":"/","backend":{"service":'
        '{"name":"web","port":{"number":80}}}}]}}]}}'
    )
    code, _, err = await kubectl("create", "-f", "-", stdin=no_path_type.encode(), check=False)
    assert code == 1
    assert (
        'The Ingress "bad" is invalid: spec.rules[0].http.paths[0].pathType: Required value:'
        " pathType must be specified"
    ) in err
