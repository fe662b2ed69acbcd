"""The deployment controller's arithmetic: fenceposts, rollout sizes, proportions,
revisions, the pod-template-hash and the progress deadline."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from pynetes.api.meta import timestamp
from pynetes.controllermanager import options, registry
from pynetes.controllermanager.controllers.deployment import progress, revision, scaling

Object = dict[str, Any]
NOW = datetime(2026, 1, 1, tzinfo=UTC)


def deployment(replicas: int, surge: Any = "25%", unavailable: Any = "25%", **spec: Any) -> Object:
    strategy = {"type": "RollingUpdate"}
    strategy["rollingUpdate"] = {"maxSurge": surge, "maxUnavailable": unavailable}
    return {
        "metadata": {"name": "web", "generation": 1},
        "spec": {"replicas": replicas, "strategy": strategy, **spec},
        "status": {},
    }


def replica_set(
    name: str, replicas: int, available: int = 0, created: int = 0, **annotations: str
) -> Object:
    return {
        "metadata": {
            "name": name,
            "uid": name,
            "creationTimestamp": timestamp(NOW + timedelta(seconds=created)),
            "annotations": annotations,
        },
        "spec": {"replicas": replicas},
        "status": {"replicas": replicas, "availableReplicas": available},
    }


@pytest.mark.parametrize(
    ("replicas", "surge", "unavailable", "expected"),
    [
        (10, "25%", "25%", (3, 2)),  # surge rounds up, unavailable down
        (3, "25%", "25%", (1, 0)),
        (4, 0, "10%", (0, 1)),  # both resolve to 0: one may be unavailable
        (5, 2, 1, (2, 1)),
    ],
)
def test_fenceposts_round_surge_up_and_unavailability_down(
    replicas: int, surge: Any, unavailable: Any, expected: tuple[int, int]
) -> None:
    assert scaling.fenceposts(deployment(replicas, surge, unavailable)) == expected


def test_max_unavailable_is_at_most_the_replicas_and_zero_for_recreate() -> None:
    assert scaling.max_unavailable(deployment(2, 1, 5)) == 2
    recreate = deployment(2)
    recreate["spec"]["strategy"] = {"type": "Recreate"}
    assert (scaling.max_unavailable(recreate), scaling.max_surge(recreate)) == (0, 0)


def test_a_value_that_is_not_a_percentage_is_refused() -> None:
    with pytest.raises(ValueError, match="not a percentage"):
        scaling.scaled_value("5", 10, round_up=True)


def test_the_new_replica_set_grows_within_the_surge_and_never_past_replicas() -> None:
    d = deployment(10, 3, 2)
    old, new = replica_set("old", 10, 10), replica_set("new", 0)
    assert scaling.new_replica_set_size(d, [old, new], new) == 3
    old, new = replica_set("old", 2, 2), replica_set("new", 9)
    assert scaling.new_replica_set_size(d, [old, new], new) == 10


def test_pods_still_reported_by_a_shrinking_replica_set_count_against_the_surge() -> None:
    d = deployment(10, 3, 2)
    old, new = replica_set("old", 8, 10), replica_set("new", 3)
    old["status"]["replicas"] = 10  # its controller has not deleted the two yet
    assert scaling.new_replica_set_size(d, [old, new], new) == 3


def test_a_scale_change_mid_rollout_is_shared_in_proportion() -> None:
    d = deployment(20, 3, 2)
    old = replica_set("old", 8, 8, created=0, **{revision.MAX_REPLICAS: "13"})
    new = replica_set("new", 5, 0, created=1, **{revision.MAX_REPLICAS: "13"})
    sizes = {rs["metadata"]["name"]: size for rs, size in scaling.proportional_sizes(d, [old, new])}
    assert sizes == {"old": 14, "new": 9}


def test_scaling_down_mid_rollout_takes_leftovers_from_the_largest() -> None:
    d = deployment(5, 1, 1)
    old = replica_set("old", 7, 7, created=0, **{revision.MAX_REPLICAS: "11"})
    new = replica_set("new", 4, 0, created=1, **{revision.MAX_REPLICAS: "11"})
    sizes = {rs["metadata"]["name"]: size for rs, size in scaling.proportional_sizes(d, [old, new])}
    assert sum(sizes.values()) == 6
    assert sizes == {"old": 4, "new": 2}


def test_the_active_or_latest_replica_set_takes_every_replica() -> None:
    old = replica_set("old", 0, created=0)
    older = replica_set("older", 0, created=-5)
    assert scaling.active_or_latest(None, [older, old]) is old
    new = replica_set("new", 2, created=1)
    assert scaling.active_or_latest(new, [old]) is new
    assert scaling.active_or_latest(new, [replica_set("busy", 1)]) is None


def test_template_hashes_are_stable_name_safe_and_change_with_collisions() -> None:
    template = {"metadata": {"labels": {"app": "web"}}, "spec": {"containers": []}}
    first = revision.template_hash(template, None)
    assert first == revision.template_hash(dict(reversed(template.items())), None)
    assert set(first) <= set("bcdfghjklmnpqrstvwxz2456789")
    assert 1 <= len(first) <= 10
    assert revision.template_hash(template, 1) != first
    assert revision.safe_encode("0123456") == "456789b"  # digits as upstream renders them


def test_templates_equal_but_for_the_hash_label_and_unset_fields() -> None:
    plain = {"metadata": {"labels": {"app": "web"}}, "spec": {"containers": [{"name": "c"}]}}
    hashed = {
        "metadata": {
            "labels": {"app": "web", revision.POD_TEMPLATE_HASH: "abc"},
            "annotations": {},
        },
        "spec": {"containers": [{"name": "c", "env": []}]},
    }
    assert revision.equal_ignoring_hash(plain, hashed)
    changed = {"metadata": {"labels": {"app": "web"}}, "spec": {"containers": [{"name": "d"}]}}
    assert not revision.equal_ignoring_hash(plain, changed)


def test_a_rolled_back_replica_set_keeps_its_old_revisions() -> None:
    d = {"metadata": {"annotations": {"team": "a", revision.REVISION: "7"}}}
    annotations = revision.new_replica_set_annotations(
        d, {revision.REVISION: "2", revision.REVISION_HISTORY: "1"}, 5
    )
    assert annotations == {
        "team": "a",
        revision.REVISION: "5",
        revision.REVISION_HISTORY: "1,2",
    }
    assert (
        revision.new_replica_set_annotations(d, {revision.REVISION: "6"}, 5)[revision.REVISION]
        == "6"
    ), "a revision never goes down"


def test_a_full_revision_history_drops_its_oldest_entries() -> None:
    history = ",".join(str(n) for n in range(1000, 1400))  # 1999 characters
    annotations = revision.new_replica_set_annotations(
        {"metadata": {}}, {revision.REVISION: "5000", revision.REVISION_HISTORY: history}, 6000
    )
    kept = annotations[revision.REVISION_HISTORY]
    assert kept.endswith(",1399,5000") and not kept.startswith("1000,")
    assert len(kept) <= revision.MAX_REVISION_HISTORY_CHARS


def progressing_since(d: Object, moment: datetime, reason: str = progress.RS_UPDATED) -> Object:
    condition = progress.new_condition(progress.PROGRESSING, "True", reason, "", moment)
    d["status"] = {"replicas": 2, "updatedReplicas": 2, "conditions": [condition]}
    return d


def test_a_rollout_without_progress_is_rechecked_just_after_its_deadline() -> None:
    d = progressing_since(deployment(2, progressDeadlineSeconds=60), NOW)
    status = d["status"]
    assert progress.stuck_recheck_after(d, status, NOW + timedelta(seconds=20)) == 41
    assert progress.stuck_recheck_after(d, status, NOW + timedelta(seconds=59.5)) == 0
    assert not progress.is_timed_out(d, status, NOW + timedelta(seconds=60))
    assert progress.is_timed_out(d, status, NOW + timedelta(seconds=61))


def test_no_deadline_runs_once_complete_or_without_a_deadline() -> None:
    d = progressing_since(deployment(2, progressDeadlineSeconds=60), NOW, progress.NEW_RS_AVAILABLE)
    assert progress.stuck_recheck_after(d, d["status"], NOW + timedelta(hours=1)) is None
    d = progressing_since(deployment(2, progressDeadlineSeconds=progress.NO_DEADLINE), NOW)
    assert progress.stuck_recheck_after(d, d["status"], NOW) is None
    assert not progress.is_timed_out(d, d["status"], NOW + timedelta(days=400))


def test_progress_refreshes_the_progressing_condition_but_keeps_its_transition() -> None:
    d = progressing_since(deployment(2, progressDeadlineSeconds=60), NOW)
    later = NOW + timedelta(seconds=30)
    new = replica_set("web-new", 2, available=1)
    status = progress.rollout_status(d, [new], new, later)
    condition = progress.condition(status, progress.PROGRESSING)
    assert condition["reason"] == progress.RS_UPDATED
    assert condition["lastUpdateTime"] == timestamp(later)
    assert condition["lastTransitionTime"] == timestamp(NOW)
    assert condition["message"] == 'ReplicaSet "web-new" is progressing.'


def test_availability_is_judged_against_max_unavailable() -> None:
    d = deployment(4, 1, 1)
    status = progress.calculate_status(d, [replica_set("a", 4, available=3)], None, NOW)
    assert progress.condition(status, progress.AVAILABLE)["status"] == "True"
    assert status["unavailableReplicas"] == 1
    status = progress.calculate_status(d, [replica_set("a", 4, available=2)], None, NOW)
    assert progress.condition(status, progress.AVAILABLE)["reason"] == (
        progress.MINIMUM_REPLICAS_UNAVAILABLE
    )


def test_the_controller_is_known_with_upstreams_worker_flag() -> None:
    descriptor = registry.known()["deployment"]
    assert descriptor.concurrency_flag == "--concurrent-deployment-syncs"
    assert options.defaults().concurrent_deployment_syncs == 5
