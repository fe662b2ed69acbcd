"""The event recorder against the real API server: what it writes, read back through the API."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator
from dataclasses import replace

import pytest

from pynetes.api.resources import built_in
from pynetes.client.config import ClientConfig, load_config
from pynetes.client.events import NORMAL, WARNING, EventRecorder, object_reference
from pynetes.client.rest import ApiClient
from tests.conftest import FakeClock
from tests.integration.conftest import Cluster, free_port

CONFIGMAPS = built_in("", "v1", "configmaps")
NAMESPACES = built_in("", "v1", "namespaces")
EVENTS = built_in("", "v1", "events")
#: 2023-11-14T22:13:20Z and a bit: events are named after the wall clock's nanoseconds.
START = 1_700_000_000.25


@pytest.fixture
async def client(cluster: Cluster) -> AsyncIterator[ApiClient]:
    # no client-side rate limit: the tests write dozens of events at once
    async with ApiClient(replace(load_config(cluster.kubeconfig), qps=0)) as client:
        yield client


@pytest.fixture
async def configmap(client: ApiClient) -> dict:
    return await client.create(
        CONFIGMAPS,
        {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "cm"}},
        namespace="default",
    )


async def events(client: ApiClient, namespace: str = "default") -> list[dict]:
    found = await client.list(EVENTS, namespace=namespace)
    return sorted(found["items"], key=lambda event: event["metadata"]["name"])


async def test_an_event_has_the_shape_client_go_gives_it(client, configmap):
    wall = FakeClock(START)
    async with EventRecorder(
        client, "test-controller", reporting_instance="node-1", wall_clock=wall
    ) as recorder:
        recorder.eventf(configmap, NORMAL, "Synced", "%s synced %d keys", "cm", 0)

    (event,) = await events(client)
    metadata = configmap["metadata"]
    assert event["metadata"]["name"] == f"cm.{1_700_000_000_250_000_000:x}"
    assert event["metadata"]["namespace"] == "default"
    assert event["involvedObject"] == {
        "kind": "ConfigMap",
        "namespace": "default",
        "name": "cm",
        "uid": metadata["uid"],
        "apiVersion": "v1",
        "resourceVersion": metadata["resourceVersion"],
    }
    assert event["reason"] == "Synced"
    assert event["message"] == "cm synced 0 keys"
    assert event["type"] == "Normal"
    assert event["count"] == 1
    assert event["firstTimestamp"] == event["lastTimestamp"] == "2023-11-14T22:13:20Z"
    assert event["source"] == {"component": "test-controller", "host": "node-1"}
    assert event["reportingComponent"] == "test-controller"
    assert event["reportingInstance"] == "node-1"
    assert event.get("eventTime") is None


async def test_a_field_path_and_a_cluster_scoped_object(client, configmap):
    namespace = await client.get(NAMESPACES, "default")
    async with EventRecorder(client, "test", reporting_instance="") as recorder:
        recorder.event(object_reference(configmap, "data[key]"), WARNING, "BadKey", "bad key")
        recorder.event(namespace, NORMAL, "Seen", "namespace seen")

    by_reason = {event["reason"]: event for event in await events(client)}
    assert by_reason["BadKey"]["involvedObject"]["fieldPath"] == "data[key]"
    assert by_reason["BadKey"]["type"] == "Warning"
    # a cluster-scoped object's events go to "default", as upstream's makeEvent puts them
    seen = by_reason["Seen"]
    assert seen["metadata"]["namespace"] == "default"
    assert "namespace" not in seen["involvedObject"]
    assert seen["involvedObject"]["kind"] == "Namespace"
    # no host: the source leaves it out, as controllers' events upstream
    assert seen["source"] == {"component": "test"}


async def test_identical_events_are_counted_on_one_event(client, configmap, cluster):
    wall = FakeClock(START)
    async with EventRecorder(client, "test", wall_clock=wall) as recorder:
        for _ in range(3):
            recorder.event(configmap, WARNING, "Failed", "sync failed")
            await recorder.flush()
            wall.advance(60)

        (event,) = await events(client)
        assert event["metadata"]["name"] == f"cm.{1_700_000_000_250_000_000:x}"
        assert event["count"] == 3
        assert event["firstTimestamp"] == "2023-11-14T22:13:20Z"
        assert event["lastTimestamp"] == "2023-11-14T22:15:20Z"

        _, out, _ = await cluster.kubectl("1.31")("get", "events", "-o", "wide")
        (row,) = [line.split() for line in out.splitlines() if "configmap/cm" in line]
        assert row[1:4] == ["Warning", "Failed", "configmap/cm"]
        assert row[-2:] == ["3", event["metadata"]["name"]]

        # an Event deleted meanwhile is created again, under its name, still counting
        await client.delete(EVENTS, event["metadata"]["name"], namespace="default")
        recorder.event(configmap, WARNING, "Failed", "sync failed")

    (again,) = await events(client)
    assert again["metadata"]["name"] == event["metadata"]["name"]
    assert again["count"] == 4


async def test_similar_events_are_combined_from_the_tenth_message(client, configmap):
    async with EventRecorder(client, "test", clock=FakeClock()) as recorder:
        for number in range(12):
            recorder.event(configmap, WARNING, "Failed", f"attempt {number} failed")

    written = await events(client)
    aggregated = [event for event in written if event["message"].startswith("(combined")]
    single = sorted(event["message"] for event in written if event not in aggregated)
    assert single == [f"attempt {number} failed" for number in range(9)]
    # the 10th distinct message starts the combined event, later ones update it
    (combined,) = aggregated
    assert combined["message"] == "(combined from similar events): attempt 11 failed"
    assert combined["count"] == 3
    assert combined["reason"] == "Failed"
    assert len(written) == 10


async def test_similar_events_are_not_combined_once_ten_minutes_apart(client, configmap):
    clock = FakeClock()
    async with EventRecorder(client, "test", clock=clock) as recorder:
        for number in range(12):
            recorder.event(configmap, WARNING, "Failed", f"attempt {number} failed")
            await recorder.flush()
            clock.advance(601)

    written = await events(client)
    assert len(written) == 12
    assert not [event for event in written if event["message"].startswith("(combined")]


async def test_the_spam_filter_allows_a_burst_of_25_then_one_per_5_minutes(client, configmap):
    clock = FakeClock()
    async with EventRecorder(client, "test", clock=clock) as recorder:
        for number in range(30):
            recorder.event(configmap, NORMAL, f"Step{number}", "step done")
        await recorder.flush()
        assert len(await events(client)) == 25

        clock.advance(300)
        recorder.event(configmap, NORMAL, "Late", "step done")
        recorder.event(configmap, NORMAL, "Later", "step done")

        # another object has its own budget
        other = await client.create(
            CONFIGMAPS, {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "other"}}
        )
        recorder.event(other, NORMAL, "Step", "step done")

    reasons = {event["reason"] for event in await events(client)}
    assert reasons == {f"Step{number}" for number in range(25)} | {"Late", "Step"}


async def test_a_full_queue_drops_events_without_blocking(client, configmap, caplog):
    caplog.set_level(logging.ERROR, logger="pynetes.client.events")
    async with EventRecorder(client, "test", queue_size=2) as recorder:
        # nothing is written before this test awaits: the third event finds the queue full
        for number in range(3):
            recorder.event(configmap, NORMAL, f"Step{number}", "step done")
        assert "too many queued events" in caplog.text

    assert [event["reason"] for event in await events(client)] == ["Step0", "Step1"]


async def test_bad_events_are_logged_not_raised(client, configmap, caplog):
    caplog.set_level(logging.ERROR, logger="pynetes.client.events")
    async with EventRecorder(client, "test") as recorder:
        recorder.event(configmap, "Info", "Odd", "not a type")
        recorder.event({"metadata": {"name": "x"}}, NORMAL, "NoKind", "unreferencable")
    recorder.event(configmap, NORMAL, "Closed", "after close")

    assert "unsupported event type" in caplog.text
    assert "could not reference" in caplog.text
    assert "recorder is closed" in caplog.text
    assert await events(client) == []


async def test_an_unreachable_server_is_retried_then_given_up(caplog):
    caplog.set_level(logging.ERROR, logger="pynetes.client.events")
    waits: list[float] = []

    async def sleep(seconds: float) -> None:
        waits.append(seconds)

    nowhere = ClientConfig(server=f"http://127.0.0.1:{free_port()}", qps=0)
    async with ApiClient(nowhere) as client:
        recorder = EventRecorder(client, "test", sleep=sleep, random=lambda: 0.5)
        recorder.event(object_reference(_pod()), NORMAL, "Started", "started")
        await recorder.flush()
        await recorder.close()

    # 12 tries: a random share of 10 s first, so that clients cut off together spread out
    assert waits == [5.0] + [10.0] * 10
    assert "gave up" in caplog.text


async def test_closing_stops_retrying_at_once(caplog):
    caplog.set_level(logging.ERROR, logger="pynetes.client.events")
    waiting = asyncio.Event()

    async def forever(_seconds: float) -> None:
        waiting.set()
        await asyncio.Future()

    nowhere = ClientConfig(server=f"http://127.0.0.1:{free_port()}", qps=0)
    async with ApiClient(nowhere) as client:
        recorder = EventRecorder(client, "test", sleep=forever)
        recorder.event(object_reference(_pod()), NORMAL, "Started", "started")
        await waiting.wait()
        await recorder.close()

    assert "gave up" in caplog.text


def _pod() -> dict:
    return {"apiVersion": "v1", "kind": "Pod", "metadata": {"name": "p", "namespace": "default"}}
