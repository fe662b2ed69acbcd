"""metrics.k8s.io's scraping of kubelets: readings, rates, when nodes are scraped again."""

from __future__ import annotations

import aiohttp

from pynetes.apiserver.metricsapi import (
    FIRST_WINDOW,
    RESOLUTION,
    STALE,
    Scraper,
    Usage,
    binary_quantity,
    parse_scrape,
    rate,
)


def kubelet_text(at: float, node_cpu: float, web_cpu: float, web_memory: int = 4096) -> str:
    """What a kubelet's /metrics/resource says (timestamps in milliseconds)."""
    ms = int(at * 1000)
    labels = 'container="web",namespace="default",pod="web-1"'
    return (
        "# TYPE node_cpu_usage_seconds counter\n"
        f"node_cpu_usage_seconds_total {node_cpu} {ms}\n"
        "# TYPE node_memory_working_set_bytes gauge\n"
        f"node_memory_working_set_bytes 1048576 {ms}\n"
        "# TYPE container_cpu_usage_seconds counter\n"
        f"container_cpu_usage_seconds_total{{{labels}}} {web_cpu} {ms}\n"
        "# TYPE container_memory_working_set_bytes gauge\n"
        f"container_memory_working_set_bytes{{{labels}}} {web_memory} {ms}\n"
        "# TYPE pod_cpu_usage_seconds counter\n"
        f'pod_cpu_usage_seconds_total{{namespace="default",pod="web-1"}} {web_cpu} {ms}\n'
        "# TYPE scrape_error gauge\nscrape_error 0\n"
    )


def test_a_scrape_reads_the_node_and_each_container() -> None:
    scrape = parse_scrape(kubelet_text(1000.5, 40.0, 2.5), taken=7.0)
    assert scrape.taken == 7.0
    assert scrape.node == Usage(1000.5, 40.0, 1048576)
    assert scrape.containers == {("default", "web-1", "web"): Usage(1000.5, 2.5, 4096)}


def test_cpu_is_the_rate_between_two_readings() -> None:
    found = rate(Usage(100.0, 2.0, 10), Usage(110.0, 7.0, 20))
    assert found is not None
    assert (found.cores, found.window, found.memory_bytes) == (0.5, 10.0, 20)
    assert rate(Usage(100.0, 9.0, 10), Usage(110.0, 1.0, 10)) is None  # restarted
    assert rate(Usage(100.0, 1.0, 10), Usage(100.0, 1.0, 10)) is None  # no time between


def test_memory_in_the_canonical_binary_form() -> None:
    assert binary_quantity(1665363968) == "1626332Ki"
    assert binary_quantity(2 * 1024**3) == "2Gi"
    assert binary_quantity(1000) == "1000"
    assert binary_quantity(0) == "0"


class FakeKubelets:
    """Kubelets whose CPU counters grow 1 s per second of the injected clock."""

    def __init__(self) -> None:
        self.now = 0.0
        self.fetched: list[str] = []
        self.down: set[str] = set()

    def clock(self) -> float:
        return self.now

    async def sleep(self, seconds: float) -> None:
        self.now += seconds

    async def fetch(self, node: str) -> str:
        self.fetched.append(node)
        if node in self.down:
            raise aiohttp.ClientConnectionError(f"{node} is down")
        return kubelet_text(1000 + self.now, self.now, self.now / 2)


async def test_the_first_request_scrapes_twice_then_scrapes_are_reused_until_stale() -> None:
    kubelets = FakeKubelets()
    scraper = Scraper(kubelets.fetch, clock=kubelets.clock, sleep=kubelets.sleep)

    pairs = await scraper.pairs(["a"])
    assert kubelets.fetched == ["a", "a"] and kubelets.now == FIRST_WINDOW
    earlier, later = pairs["a"]
    found = rate(
        earlier.containers[("default", "web-1", "web")],
        later.containers[("default", "web-1", "web")],
    )
    assert found is not None and round(found.cores, 6) == 0.5

    kubelets.now += RESOLUTION / 2
    await scraper.pairs(["a"])
    assert kubelets.fetched == ["a", "a"]  # fresh enough: answered from the last scrapes

    kubelets.now += RESOLUTION
    pairs = await scraper.pairs(["a"])
    assert kubelets.fetched == ["a", "a", "a"]  # one new scrape, compared with the last
    assert pairs["a"][1].taken - pairs["a"][0].taken == RESOLUTION * 1.5

    kubelets.now += STALE * 2
    await scraper.pairs(["a"])
    assert kubelets.fetched.count("a") == 5  # too old to compare with: two scrapes again


async def test_a_node_whose_kubelet_fails_has_no_metrics_and_the_others_do() -> None:
    kubelets = FakeKubelets()
    kubelets.down = {"b"}
    scraper = Scraper(kubelets.fetch, clock=kubelets.clock, sleep=kubelets.sleep)
    pairs = await scraper.pairs(["a", "b"])
    assert set(pairs) == {"a"}
    kubelets.down = set()
    kubelets.now += RESOLUTION
    pairs = await scraper.pairs(["a", "b"])
    assert set(pairs) == {"a", "b"}


async def test_nodes_that_are_gone_are_forgotten() -> None:
    kubelets = FakeKubelets()
    scraper = Scraper(kubelets.fetch, clock=kubelets.clock, sleep=kubelets.sleep)
    await scraper.pairs(["a", "b"])
    scraper.forget_except({"a"})
    kubelets.fetched.clear()
    await scraper.pairs(["b"])
    assert kubelets.fetched == ["b", "b"]
