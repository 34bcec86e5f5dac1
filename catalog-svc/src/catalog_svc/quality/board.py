"""The live quality every process answers from: the counts of each item and department held in
memory, read again where they changed every ``quality_refresh_seconds``, so that an item, its
handler and a search page add no database round trip (search is the catalogue's busiest read).
An event counted in one process shows in every other one within that time."""

import asyncio
import contextlib
import datetime as dt
from collections.abc import AsyncIterator, Callable, Iterable, Mapping
from dataclasses import dataclass, field

import structlog

from catalog_svc.quality import repository
from catalog_svc.quality.schemas import QualityRead
from servicekit.db import Database

log = structlog.get_logger("catalog_svc.quality")

#: Each read looks back this far before the last one started: a change whose transaction took
#: this long to commit after its ``changed_at`` is still seen.
LOOK_BACK = dt.timedelta(seconds=60)

Key = tuple[str, str]  # (item code, department id)


@dataclass(slots=True)
class Counts:
    ratings: int = 0
    satisfied: int = 0
    bad_reviews: int = 0
    completed: int = 0
    #: working days → completed cases that took them
    days: dict[int, int] = field(default_factory=dict)

    def add(self, other: "Counts") -> None:
        self.ratings += other.ratings
        self.satisfied += other.satisfied
        self.bad_reviews += other.bad_reviews
        self.completed += other.completed
        for days, cases in other.days.items():
            self.days[days] = self.days.get(days, 0) + cases


def median(histogram: Mapping[int, int]) -> float | None:
    """The median of the values a histogram (value → how many) counts; None when empty."""
    total = sum(histogram.values())
    if total == 0:
        return None
    low, high = (total - 1) // 2, total // 2
    found: list[int] = []
    seen = 0
    for value in sorted(histogram):
        seen += histogram[value]
        while len(found) < 2 and seen > (low, high)[len(found)]:
            found.append(value)
    return (found[0] + found[1]) / 2


def figures(counts: Counts | None, promised_working_days: int | None) -> QualityRead:
    counts = counts or Counts()
    rated = counts.ratings
    return QualityRead(
        ratings=rated,
        satisfaction_rate=round(counts.satisfied / rated, 4) if rated else None,
        bad_review_rate=round(counts.bad_reviews / rated, 4) if rated else None,
        completed_cases=counts.completed,
        median_working_days=median(counts.days),
        promised_working_days=promised_working_days,
    )


class QualityBoard:
    """The counts by item and department, and by item over its departments. An item's figures
    are built once per change of its counts (a search page shows twenty)."""

    def __init__(self, clock: Callable[[], dt.datetime]) -> None:
        self._clock = clock
        self._by_department: dict[Key, Counts] = {}
        self._by_item: dict[str, Counts] = {}
        self._shown: dict[tuple[str, str | None, int | None], QualityRead] = {}
        self._read_from: dt.datetime | None = None
        # One refresh at a time: the look-back of one is the start of the one before.
        self._lock = asyncio.Lock()

    def of_item(self, item_code: str, promised_working_days: int | None) -> QualityRead:
        key = (item_code, None, promised_working_days)
        shown = self._shown.get(key)
        if shown is None:
            shown = figures(self._by_item.get(item_code), promised_working_days)
            self._shown[key] = shown
        return shown

    def of_department(
        self, item_code: str, department_id: str, promised_working_days: int | None
    ) -> QualityRead:
        key = (item_code, department_id, promised_working_days)
        shown = self._shown.get(key)
        if shown is None:
            counts = self._by_department.get((item_code, department_id))
            shown = figures(counts, promised_working_days)
            self._shown[key] = shown
        return shown

    async def refresh(self, database: Database) -> None:
        """Read the counts changed since the last read (all of them the first time)."""
        async with self._lock:
            started = self._clock()
            since = None if self._read_from is None else self._read_from - LOOK_BACK
            async with database.sessionmaker() as session:
                counts = await repository.counts_changed_since(session, since)
                days = await repository.working_days_changed_since(session, since)
            self._apply(counts, days)
            self._read_from = started

    def _apply(
        self,
        counts: Iterable[tuple[str, str, int, int, int, int]],
        days: Iterable[tuple[str, str, int, int]],
    ) -> None:
        touched: set[str] = set()
        for item_code, department_id, ratings, satisfied, bad_reviews, completed in counts:
            row = self._by_department.setdefault((item_code, department_id), Counts())
            row.ratings, row.satisfied = ratings, satisfied
            row.bad_reviews, row.completed = bad_reviews, completed
            touched.add(item_code)
        for item_code, department_id, working_days, cases in days:
            self._by_department.setdefault((item_code, department_id), Counts()).days[
                working_days
            ] = cases
            touched.add(item_code)
        if not touched:
            return
        totals = {code: Counts() for code in touched}
        for (item_code, _), row in self._by_department.items():
            if item_code in totals:
                totals[item_code].add(row)
        self._by_item.update(totals)
        # Rebuilt at their next read (keyed by the promise too: an item republished with
        # another one is shown with its new promise).
        self._shown = {key: shown for key, shown in self._shown.items() if key[0] not in touched}


async def _watch(board: QualityBoard, database: Database, every: float) -> None:
    while True:
        await asyncio.sleep(every)
        try:
            await board.refresh(database)
        except Exception:  # a failed read must not end the watch: the next one retries
            log.exception("quality_refresh_failed")


@contextlib.asynccontextmanager
async def quality_board(
    database: Database, *, every_seconds: float, clock: Callable[[], dt.datetime]
) -> AsyncIterator[QualityBoard]:
    """The board, read in full at start-up and kept fresh while the app runs (0: read once)."""
    board = QualityBoard(clock)
    await board.refresh(database)
    watcher = (
        asyncio.create_task(_watch(board, database, every_seconds)) if every_seconds > 0 else None
    )
    try:
        yield board
    finally:
        if watcher is not None:
            watcher.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await watcher
