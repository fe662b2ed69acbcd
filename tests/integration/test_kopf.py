"""A minimal kopf operator, run as its own process, drives a custom resource against pynetes."""

from __future__ import annotations

import asyncio
import json
import os
import sys
import textwrap
from pathlib import Path

from tests.integration.conftest import Cluster
from tests.integration.test_kubectl import CRD

OPERATOR = textwrap.dedent(
    """
    import kopf

    @kopf.on.create("example.com", "v1", "widgets")
    def created(spec, **_):
        return {"size": spec.get("size")}

    @kopf.on.update("example.com", "v1", "widgets", field="spec.size")
    def resized(new, **_):
        return {"size": new}

    @kopf.on.delete("example.com", "v1", "widgets")
    def deleted(name, namespace, **_):
        import kubernetes
        kubernetes.config.load_kube_config()
        kubernetes.client.CoreV1Api().create_namespaced_config_map(
            namespace, {"metadata": {"name": f"goodbye-{name}"}}
        )
    """
)


async def wait_for(check: object, *, within: float = 60.0, interval: float = 0.2) -> object:
    """Poll ``check`` (an async callable) until it returns something truthy."""
    async with asyncio.timeout(within):
        while True:
            result = await check()  # type: ignore[operator]
            if result:
                return result
            await asyncio.sleep(interval)


async def test_kopf_handles_create_update_and_delete(cluster: Cluster, tmp_path: Path) -> None:
    kubectl = cluster.kubectl()
    crd = tmp_path / "crd.yaml"
    crd.write_text(CRD)
    await kubectl("create", "-f", str(crd))
    await kubectl("wait", "--for", "condition=established", "crd/widgets.example.com")
    operator = tmp_path / "operator.py"
    operator.write_text(OPERATOR)
    log = (tmp_path / "kopf.log").open("wb")
    process = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "kopf",
        "run",
        "--standalone",
        "--namespace",
        "default",
        str(operator),
        stdout=log,
        stderr=log,
        env={**os.environ, "KUBECONFIG": str(cluster.kubeconfig)},
    )
    try:
        widget = "apiVersion: example.com/v1\nkind: Widget\nmetadata: {name: w1}\nspec: {size: 3}\n"
        await kubectl("create", "-f", "-", stdin=widget.encode())

        async def status() -> dict[str, object]:
            _, out, _ = await kubectl("get", "widget", "w1", "-o", "json")
            return json.loads(out)

        created = await wait_for(lambda: _status_says(status, "created", {"size": 3}))
        assert "kopf.zalando.org/KopfFinalizerMarker" in created["metadata"]["finalizers"]  # type: ignore[index]
        await kubectl("patch", "widget", "w1", "--type=merge", "-p", '{"spec":{"size":5}}')
        # kopf names a field handler "<function>/<field>" and keeps its result under that name
        await wait_for(lambda: _status_says(status, "resized/spec.size", {"size": 5}))
        await kubectl("delete", "widget", "w1", "--timeout=60s")

        async def goodbye() -> bool:
            code, _, _ = await kubectl("get", "configmap", "goodbye-w1", check=False)
            return code == 0

        assert await wait_for(goodbye)
        code, _, _ = await kubectl("get", "widget", "w1", check=False)
        assert code == 1
    except TimeoutError:
        log.flush()
        raise AssertionError(
            "kopf did not act; its log:\n" + (tmp_path / "kopf.log").read_text()
        ) from None
    finally:
        process.terminate()
        await process.wait()
        log.close()


async def _status_says(read: object, handler: str, expected: object) -> dict | None:
    obj = await read()  # type: ignore[operator]
    if (obj.get("status") or {}).get(handler) == expected:
        return obj
    return None
