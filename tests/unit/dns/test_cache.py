import dns.message
import dns.name

from pynetes.dns import records
from pynetes.dns.cache import AnswerCache, Entry
from pynetes.dns.store import RecordStore

NAME = dns.name.from_text("web.prod.svc.cluster.local.")


def query_wire(query_id, name="web.prod.svc.cluster.local."):
    query = dns.message.make_query(name, "A")
    query.id = query_id
    return query.to_wire()


ENTRY = Entry(b"body", "A", "NOERROR", "kubernetes")


def test_a_query_of_the_same_bytes_but_its_id_finds_the_response():
    cache = AnswerCache(RecordStore())
    cache.put("udp", query_wire(1), ENTRY)
    assert cache.get("udp", query_wire(2)) == ENTRY
    assert cache.get("tcp", query_wire(2)) is None
    assert cache.get("udp", query_wire(2, "WEB.prod.svc.cluster.local.")) is None


def test_a_change_of_the_store_forgets_every_response():
    store = RecordStore()
    cache = AnswerCache(store)
    cache.put("udp", query_wire(1), ENTRY)
    store.replace("service/prod/web", {NAME: [records.address("10.96.0.1")]})
    assert cache.get("udp", query_wire(1)) is None


def test_the_cache_never_holds_more_than_its_limit_and_nothing_with_none():
    cache = AnswerCache(RecordStore(), limit=2)
    for i in range(3):
        cache.put("udp", query_wire(1, f"s{i}.prod.svc.cluster.local."), ENTRY)
    assert cache.get("udp", query_wire(1, "s0.prod.svc.cluster.local.")) is None
    assert cache.get("udp", query_wire(1, "s2.prod.svc.cluster.local.")) == ENTRY
    off = AnswerCache(RecordStore(), limit=0)
    off.put("udp", query_wire(1), ENTRY)
    assert off.get("udp", query_wire(1)) is None
