"""The resourcequota controller's flags, with upstream's names and defaults."""

from __future__ import annotations

import argparse

from pynetes.controllermanager import options


def test_quota_flags_default_to_upstreams_and_read_go_durations() -> None:
    defaults = options.defaults()
    assert defaults.concurrent_resource_quota_syncs == 5
    assert defaults.resource_quota_sync_period == 300.0
    parser = argparse.ArgumentParser()
    options.add_arguments(parser)
    parsed = parser.parse_args(
        ["--resource-quota-sync-period=1m30s", "--concurrent-resource-quota-syncs=2"]
    )
    assert (parsed.resource_quota_sync_period, parsed.concurrent_resource_quota_syncs) == (90.0, 2)
