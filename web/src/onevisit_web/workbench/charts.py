"""Bar charts drawn on the server: the geometry of horizontal bars, one a row, which a template
writes out as inline SVG (no script, no library). Each chart has a title, its accessible name;
the page shows the same figures in a table beside it."""

from dataclasses import dataclass

#: The drawing's size in SVG units: labels on the left, bars, then the figure shown.
WIDTH = 640
LABEL_WIDTH = 200
FIGURE_WIDTH = 80
BAR_HEIGHT = 20
ROW_HEIGHT = 28
#: The longest label drawn; the table beside the chart holds the whole name.
LABEL_CHARS = 14


@dataclass(frozen=True)
class Bar:
    label: str
    shown: str
    length: float
    y: int


@dataclass(frozen=True)
class Chart:
    id: str
    title: str
    bars: list[Bar]
    width: int = WIDTH
    label_width: int = LABEL_WIDTH
    bar_height: int = BAR_HEIGHT

    @property
    def height(self) -> int:
        return max(1, len(self.bars)) * ROW_HEIGHT + 4


def bar_chart(
    chart_id: str,
    title: str,
    rows: list[tuple[str, float | None, str]],
    *,
    maximum: float | None = None,
) -> Chart:
    """``rows``: each bar's label, value (None: no figure, no bar) and the figure as shown.
    Bars are scaled to ``maximum`` (a rate's 1), else to the largest value."""
    values = [value for _, value, _ in rows if value is not None]
    top = maximum if maximum is not None else max(values, default=0)
    span = WIDTH - LABEL_WIDTH - FIGURE_WIDTH
    bars = []
    for index, (label, value, shown) in enumerate(rows):
        length = 0.0 if not value or top <= 0 else round(span * min(value, top) / top, 1)
        short = label if len(label) <= LABEL_CHARS else label[: LABEL_CHARS - 1] + "…"
        bars.append(Bar(short, shown, length, index * ROW_HEIGHT + 2))
    return Chart(chart_id, title, bars)
