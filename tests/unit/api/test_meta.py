"""Object metadata the API server fills in: uids."""

from __future__ import annotations

import uuid

from pynetes.api.meta import new_uid


def test_uids_are_distinct_random_uuids_across_many_refills_of_the_pool() -> None:
    uids = [new_uid() for _ in range(3000)]  # the bytes are fetched 256 uids at a time
    assert len(set(uids)) == len(uids)
    for text in uids:
        parsed = uuid.UUID(text)
        assert str(parsed) == text
        assert parsed.version == 4 and parsed.variant == uuid.RFC_4122
