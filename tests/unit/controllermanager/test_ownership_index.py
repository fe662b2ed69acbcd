"""The index of objects by controller uid, orphans by namespace."""

from __future__ import annotations

from pynetes.controllermanager.common.ownership import by_controller_uid, orphans_key


def test_controlled_objects_index_under_their_controller_and_orphans_by_namespace() -> None:
    controlled = {
        "metadata": {
            "namespace": "ns",
            "ownerReferences": [
                {"uid": "side", "controller": False},
                {"uid": "boss", "controller": True},
            ],
        }
    }
    side_owned = {"metadata": {"namespace": "ns", "ownerReferences": [{"uid": "side"}]}}
    assert by_controller_uid(controlled) == ["boss"]
    assert by_controller_uid(side_owned) == [orphans_key("ns")]
    assert orphans_key("ns") != orphans_key("other")
