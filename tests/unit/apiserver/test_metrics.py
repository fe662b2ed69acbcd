import pytest
from prometheus_client import generate_latest
from prometheus_client.parser import text_string_to_metric_families

from pynetes.apiserver.auth.authorization import Attributes
from pynetes.apiserver.metrics import Metrics


def pods(verb: str, name: str = "") -> Attributes:
    return Attributes(
        user=None,
        verb=verb,
        path="/api/v1/namespaces/default/pods",
        is_resource_request=True,
        namespace="default",
        api_group="",
        api_version="v1",
        resource="pods",
        name=name,
    )


def samples(metrics: Metrics) -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
    text = generate_latest(metrics.registry).decode()
    return {
        (sample.name, tuple(sorted(sample.labels.items()))): sample.value
        for family in text_string_to_metric_families(text)
        for sample in family.samples
    }


def test_requests_are_counted_by_verb_scope_and_code() -> None:
    metrics = Metrics()
    metrics.observe(pods("get", "web"), 200, 0.001)
    metrics.observe(pods("get", "web"), 200, 0.001)
    metrics.observe(pods("list"), 410, 0.001)
    found = samples(metrics)
    base = {"component": "apiserver", "group": "", "resource": "pods", "subresource": ""}
    get = {**base, "verb": "GET", "scope": "resource", "version": "v1", "code": "200"}
    listed = {**base, "verb": "LIST", "scope": "namespace", "version": "v1", "code": "410"}
    assert found[("apiserver_request_total", tuple(sorted(get.items())))] == 2
    assert found[("apiserver_request_total", tuple(sorted(listed.items())))] == 1


def test_durations_fill_cumulative_buckets_and_the_sum() -> None:
    metrics = Metrics()
    for seconds in (0.001, 0.005, 0.03, 100.0):
        metrics.observe(pods("get", "web"), 200, seconds)
    found = samples(metrics)
    labels = {"group": "", "resource": "pods", "scope": "resource", "subresource": ""}
    labels |= {"verb": "GET", "version": "v1"}

    def bucket(le: str) -> float:
        key = tuple(sorted({**labels, "le": le}.items()))
        return found[("apiserver_request_duration_seconds_bucket", key)]

    assert (bucket("0.005"), bucket("0.025"), bucket("0.05"), bucket("60.0")) == (2, 2, 3, 3)
    assert bucket("+Inf") == 4
    key = tuple(sorted(labels.items()))
    assert found[("apiserver_request_duration_seconds_count", key)] == 4
    assert found[("apiserver_request_duration_seconds_sum", key)] == pytest.approx(100.036)


def test_watches_are_counted_but_not_timed() -> None:
    metrics = Metrics()
    metrics.observe(pods("watch"), 200, 1800.0)
    names = {name for name, _ in samples(metrics)}
    assert "apiserver_request_total" in names
    assert not any(name.startswith("apiserver_request_duration") for name in names)
