"""Charts drawn on the server as SVG: no chart library to ship, nothing for the CSP to allow.

Every piece of text goes in through markupsafe's escaping, so a label from the database can
never become markup. Colours come from the stylesheet (classes, no inline styles), and each
chart carries its numbers as a table too, for screen readers and for reading exact values.
"""

import math
from collections.abc import Callable, Mapping, Sequence

from markupsafe import Markup

Value = float | None
"""A point's value; None leaves a gap (nothing measured there)."""

WIDTH, HEIGHT = 480, 220
LEFT, RIGHT, TOP, BOTTOM = 48, 12, 28, 28
"""Room around the plot for the y ticks (left), the legend (top) and the x labels (bottom)."""
Y_TICKS = 4
X_LABELS = 5
MARKED_POINTS = 60
"""Up to this many points per series each get a dot (a lone point has no line to show it)."""


def nice_ceiling(value: float) -> float:
    """The smallest 1, 2, 2.5 or 5 times a power of ten at or above `value`: round tops."""
    if value <= 0:
        return 1.0
    power = 10 ** math.floor(math.log10(value))
    return next(step * power for step in (1, 2, 2.5, 5, 10) if step * power >= value)


def plain_number(value: float) -> str:
    """12, 2.5, 0.33: at most two decimals and no trailing zeros."""
    return f"{value:.2f}".rstrip("0").rstrip(".")


def _segments(points: list[tuple[float, Value]]) -> list[list[tuple[float, float]]]:
    """The runs of consecutive measured points (a None breaks the line)."""
    runs: list[list[tuple[float, float]]] = [[]]
    for x, y in points:
        if y is None:
            if runs[-1]:
                runs.append([])
        else:
            runs[-1].append((x, y))
    return [run for run in runs if run]


def _path(run: list[tuple[float, float]]) -> str:
    return " ".join(f"{'M' if i == 0 else 'L'}{x:.1f},{y:.1f}" for i, (x, y) in enumerate(run))


def line_chart(
    title: str,
    labels: Sequence[str],
    series: Mapping[str, Sequence[Value]],
    *,
    unit: str = "",
    y_max: float | None = None,
    fmt: Callable[[float], str] = plain_number,
) -> Markup:
    """A line chart of one or more series over the same x `labels` (dates, runs, ...), as
    an SVG (role="img", its `title`, a description) followed by the same numbers in a
    table. `y_max` fixes the top of the axis (100 for percentages); by default it is the
    data's maximum rounded up. `fmt` writes a number, then `unit` follows it."""
    if any(len(values) != len(labels) for values in series.values()):
        raise ValueError("every series needs one value per label")
    measured = [v for values in series.values() for v in values if v is not None]
    top = y_max if y_max is not None else nice_ceiling(max(measured, default=0.0))
    plot_w, plot_h = WIDTH - LEFT - RIGHT, HEIGHT - TOP - BOTTOM
    step = plot_w / max(len(labels) - 1, 1)

    def x_at(index: int) -> float:
        return LEFT + (index * step if len(labels) > 1 else plot_w / 2)

    def y_at(value: float) -> float:
        return TOP + plot_h * (1 - min(max(value / top, 0.0), 1.0))

    parts: list[Markup] = []
    for tick in range(Y_TICKS + 1):
        value = top * tick / Y_TICKS
        parts.append(
            Markup(
                '<line class="grid" x1="{}" x2="{}" y1="{y:.1f}" y2="{y:.1f}"/>'
                '<text class="tick" x="{}" y="{y:.1f}" text-anchor="end" dy="0.35em">{}</text>'
            ).format(LEFT, WIDTH - RIGHT, LEFT - 6, fmt(value) + unit, y=y_at(value))
        )
    shown = max(1, math.ceil(len(labels) / X_LABELS))
    for index, label in enumerate(labels):
        if index % shown == 0:
            anchor = "end" if 0 < index == len(labels) - 1 else "middle"  # the last stays inside
            parts.append(
                Markup('<text class="tick" x="{:.1f}" y="{}" text-anchor="{}">{}</text>').format(
                    x_at(index), HEIGHT - 8, anchor, label
                )
            )
    for order, (name, values) in enumerate(series.items()):
        points = [(x_at(i), None if v is None else y_at(v)) for i, v in enumerate(values)]
        kind = Markup('class="series s{}"').format(order)
        for run in _segments(points):
            parts.append(Markup('<path {} d="{}"/>').format(kind, _path(run)))
            if len(labels) <= MARKED_POINTS or len(run) == 1:
                parts.extend(
                    Markup('<circle {} cx="{:.1f}" cy="{:.1f}" r="3"/>').format(kind, x, y)
                    for x, y in run
                )
        legend_x = LEFT + order * 120
        parts.append(
            Markup(
                '<line {} x1="{}" x2="{}" y1="12" y2="12"/>'
                '<text class="legend" x="{}" y="12" dy="0.35em">{}</text>'
            ).format(kind, legend_x, legend_x + 18, legend_x + 24, name)
        )

    def shown_value(value: Value) -> str:
        return "—" if value is None else fmt(value) + unit

    extremes = "; ".join(
        f"{name} from {shown_value(min(found))} to {shown_value(max(found))}"
        if (found := [v for v in values if v is not None])
        else f"{name}: no values"
        for name, values in series.items()
    )
    span = f"{labels[0]} to {labels[-1]}" if labels else "no points"
    header = Markup("").join(Markup('<th scope="col">{}</th>').format(name) for name in series)
    rows = Markup("").join(
        Markup('<tr><th scope="row">{}</th>{}</tr>').format(
            label,
            Markup("").join(
                Markup("<td>{}</td>").format(shown_value(values[index]))
                for values in series.values()
            ),
        )
        for index, label in enumerate(labels)
    )
    return Markup(
        '<figure class="chart">'
        '<svg role="img" viewBox="0 0 {w} {h}" preserveAspectRatio="xMidYMid meet">'
        "<title>{title}</title><desc>{desc}</desc>{parts}</svg>"
        "<details><summary>{title}: the numbers</summary>"
        '<div class="scroll"><table><caption class="visually-hidden">{title}</caption>'
        '<thead><tr><th scope="col">Point</th>{header}</tr></thead><tbody>{rows}</tbody>'
        "</table></div></details></figure>"
    ).format(
        w=WIDTH,
        h=HEIGHT,
        title=title,
        desc=f"{span}. {extremes}.",
        parts=Markup("").join(parts),
        header=header,
        rows=rows,
    )
