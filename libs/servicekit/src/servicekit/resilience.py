"""Calling something that may fail: a circuit breaker, so that a dependency that is down is
left alone for a while instead of being asked again by every request.

Closed, the breaker lets calls through and counts consecutive failures; at ``failure_threshold``
it opens for ``reset_seconds``, and every call is refused at once with the time left. Then it is
half-open: one trial call goes through (the others are still refused); its success closes the
breaker, its failure opens it again. Retries with backoff belong to the caller (``tenacity``),
inside a call the breaker allows.
"""

import time
from collections.abc import Callable
from typing import Literal

State = Literal["closed", "open", "half_open"]


class CircuitBreaker:
    def __init__(
        self,
        *,
        failure_threshold: int,
        reset_seconds: float,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        if failure_threshold < 1 or reset_seconds <= 0:
            raise ValueError("a breaker opens after one failure or more, for some time")
        self._threshold = failure_threshold
        self._reset_seconds = reset_seconds
        self._clock = clock
        self._failures = 0
        self._opened_at: float | None = None
        self._trial_running = False

    @property
    def state(self) -> State:
        if self._opened_at is None:
            return "closed"
        if self._clock() - self._opened_at < self._reset_seconds:
            return "open"
        return "half_open"

    def refusal(self) -> float | None:
        """``None`` if a call may go now (taking the half-open trial if that is the state);
        else the seconds until the breaker lets a trial through."""
        state = self.state
        if state == "closed":
            return None
        assert self._opened_at is not None
        if state == "open":
            return self._reset_seconds - (self._clock() - self._opened_at)
        if self._trial_running:
            return self._reset_seconds
        self._trial_running = True
        return None

    def succeeded(self) -> None:
        self._failures = 0
        self._opened_at = None
        self._trial_running = False

    def failed(self) -> None:
        self._failures += 1
        if self._trial_running or self._failures >= self._threshold:
            self._opened_at = self._clock()
        self._trial_running = False
