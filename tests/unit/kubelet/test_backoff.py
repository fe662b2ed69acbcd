"""CrashLoopBackOff: immediate first restart, then 10 s doubling to 5 min, reset after 10 min."""

from pynetes.kubelet.backoff import CrashLoopBackOff


class FakeClock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def test_first_restart_is_immediate_then_the_wait_doubles_up_to_five_minutes():
    clock = FakeClock()
    backoff = CrashLoopBackOff(clock=clock)
    assert backoff.remaining("uid", "app", since_exit=0.0) == 0.0
    waits = []
    for _ in range(8):
        backoff.restarted("uid", "app")
        waits.append(backoff.remaining("uid", "app", since_exit=0.0))
    assert waits == [10, 20, 40, 80, 160, 300, 300, 300]


def test_the_wait_counts_from_the_exit():
    clock = FakeClock()
    backoff = CrashLoopBackOff(clock=clock)
    backoff.restarted("uid", "app")
    assert backoff.remaining("uid", "app", since_exit=4.0) == 6.0
    assert backoff.remaining("uid", "app", since_exit=12.0) == 0.0


def test_a_container_running_ten_minutes_without_restart_starts_from_ten_seconds():
    clock = FakeClock()
    backoff = CrashLoopBackOff(clock=clock)
    for _ in range(5):
        backoff.restarted("uid", "app")
    clock.now += 601
    assert backoff.remaining("uid", "app", since_exit=0.0) == 0.0
    backoff.restarted("uid", "app")
    assert backoff.current("uid", "app") == 10


def test_containers_and_pods_back_off_separately_and_are_forgotten_with_their_pod():
    backoff = CrashLoopBackOff(clock=FakeClock())
    backoff.restarted("a", "app")
    backoff.restarted("a", "app")
    backoff.restarted("b", "app")
    assert backoff.current("a", "app") == 20
    assert backoff.current("b", "app") == 10
    backoff.forget_pod("a")
    assert backoff.remaining("a", "app", since_exit=0.0) == 0.0
