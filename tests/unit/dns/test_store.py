import dns.name
import dns.rdataclass
import dns.rdatatype
from dns.rdtypes.IN.A import A

from pynetes.dns.store import RecordStore


def a(ip):
    return A(dns.rdataclass.IN, dns.rdatatype.A, ip)


def name(text):
    return dns.name.from_text(text)


def test_lookup_tells_records_empty_non_terminals_and_absent_names_apart():
    store = RecordStore()
    store.replace("service/prod/web", {name("web.prod.svc.cluster.local."): [a("10.96.0.1")]})
    assert store.lookup(name("WEB.prod.svc.cluster.local.")) == (a("10.96.0.1"),)
    assert store.lookup(name("prod.svc.cluster.local.")) == ()
    assert store.lookup(name("cluster.local.")) == ()
    assert store.lookup(name("db.prod.svc.cluster.local.")) is None


def test_replacing_an_owner_swaps_its_records_and_removes_names_it_no_longer_has():
    store = RecordStore()
    old = name("web-0.web.prod.svc.cluster.local.")
    store.replace("service/prod/web", {old: [a("10.0.0.1")]})
    store.replace("service/prod/web", {name("web.prod.svc.cluster.local."): [a("10.0.0.2")]})
    assert store.lookup(old) is None
    assert store.lookup(name("web.prod.svc.cluster.local.")) == (a("10.0.0.2"),)
    store.replace("service/prod/web", {})
    assert store.lookup(name("prod.svc.cluster.local.")) is None
    assert store.owners() == []


def test_owners_sharing_a_name_each_keep_their_records():
    store = RecordStore()
    shared = name("1.0.0.10.in-addr.arpa.")
    store.replace("service/prod/a", {shared: [a("10.0.0.1")]})
    store.replace("service/prod/b", {shared: [a("10.0.0.9")]})
    assert set(store.lookup(shared)) == {a("10.0.0.1"), a("10.0.0.9")}
    store.replace("service/prod/a", {})
    assert store.lookup(shared) == (a("10.0.0.9"),)


def test_the_serial_moves_only_on_a_change():
    store = RecordStore()
    records = {name("web.prod.svc.cluster.local."): [a("10.96.0.1")]}
    store.replace("service/prod/web", records)
    serial = store.serial
    store.replace("service/prod/web", dict(records))
    assert store.serial == serial
    store.replace("service/prod/web", {})
    assert store.serial > serial
