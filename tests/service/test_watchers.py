"""Position watchers: how an append on the event loop learns its position is applied."""

import threading

from service.projection.watchers import PositionWatchers


def test_a_callback_runs_once_when_its_position_is_reached_and_not_before() -> None:
    watchers, position, called = PositionWatchers(), [3], []
    watchers.when(5, lambda: position[0], lambda: called.append(5))
    watchers.when(4, lambda: position[0], lambda: called.append(4))
    watchers.reached(3)
    assert called == []
    position[0] = 4
    watchers.reached(4)
    assert called == [4]
    position[0] = 9
    watchers.reached(9)
    watchers.reached(9)
    assert called == [4, 5]


def test_a_position_already_reached_calls_back_at_once() -> None:
    watchers, called = PositionWatchers(), []
    watchers.when(2, lambda: 2, lambda: called.append("now"))
    assert called == ["now"]


def test_no_callback_is_lost_to_a_position_published_while_it_is_registered() -> None:
    """The projection publishes a position, then tells the watchers; a request registers
    in between or around it. Every registration is called back exactly once."""
    for _ in range(200):
        watchers, state, called = PositionWatchers(), {"position": 0}, []
        lock = threading.Lock()

        def publish(state: dict[str, int] = state, watchers: PositionWatchers = watchers) -> None:
            for p in range(1, 51):
                state["position"] = p
                watchers.reached(p)

        def note(p: int, called: list[int] = called, lock: threading.Lock = lock) -> None:
            with lock:
                called.append(p)

        projection = threading.Thread(target=publish)
        projection.start()
        for p in range(1, 51):
            watchers.when(p, lambda state=state: state["position"], lambda p=p: note(p))
        projection.join()
        assert sorted(called) == list(range(1, 51))
