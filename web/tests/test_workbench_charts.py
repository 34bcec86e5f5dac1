"""The server-drawn bar charts: bars scaled to their maximum, none for a missing figure,
long labels shortened (the table beside the chart holds them whole)."""

from onevisit_web.workbench.charts import LABEL_WIDTH, ROW_HEIGHT, WIDTH, bar_chart


def test_rates_are_scaled_to_one_and_a_missing_figure_draws_no_bar() -> None:
    chart = bar_chart(
        "on-time",
        "按时办结率",
        [("甲", 1.0, "100%"), ("乙", 0.5, "50%"), ("丙", None, "—")],
        maximum=1.0,
    )

    full = WIDTH - LABEL_WIDTH - 80
    assert [bar.length for bar in chart.bars] == [full, full / 2, 0.0]
    assert [bar.y for bar in chart.bars] == [2, 2 + ROW_HEIGHT, 2 + 2 * ROW_HEIGHT]
    assert chart.height == 3 * ROW_HEIGHT + 4


def test_counts_are_scaled_to_the_largest_and_zero_draws_nothing() -> None:
    chart = bar_chart("overdue", "超期", [("甲", 4, "4"), ("乙", 0, "0")])

    assert chart.bars[0].length > 0
    assert chart.bars[1].length == 0.0
    assert bar_chart("none", "空", []).height == ROW_HEIGHT + 4


def test_long_labels_are_shortened() -> None:
    chart = bar_chart("x", "x", [("温州市住房公积金管理中心鹿城分中心业务科", 1, "1")])

    assert chart.bars[0].label.endswith("…")
    assert len(chart.bars[0].label) == 14
