"""Small SVG charts drawn on the server: no chart script to ship, and nothing to run for a
page to show its figures (the CSP allows no inline script anyway).

The SVG is inline in the page, coloured by classes from dashboard.css (`.chart …`), so it
follows the light and dark themes. Every point carries a `<title>` (its label and value) and
the chart a text summary, for screen readers and for a hover.
"""

from collections.abc import Sequence

from markupsafe import Markup, escape

Point = tuple[str, float]
"""A label (e.g. a date) and its value, in the order they are drawn from left to right."""


def _number(value: float) -> str:
    return f"{value:.1f}".removesuffix(".0")


def line_chart(
    points: Sequence[Point],
    *,
    title: str,
    y_min: float = 0.0,
    y_max: float | None = None,
    unit: str = "",
    width: int = 480,
    height: int = 160,
    chart_id: str = "chart",
) -> Markup:
    """A line through `points` on a fixed y range (0 to the largest value, unless given), with
    the range and the first and last labels written on the axes."""
    top = y_max if y_max is not None else max((value for _, value in points), default=1.0)
    top = max(top, y_min + 1e-9)
    left, right, upper, lower = 40, 8, 10, 24
    plot_w, plot_h = width - left - right, height - upper - lower

    def x(index: int) -> float:
        return left + (plot_w / 2 if len(points) == 1 else plot_w * index / (len(points) - 1))

    def y(value: float) -> float:
        share = (min(max(value, y_min), top) - y_min) / (top - y_min)
        return upper + plot_h * (1 - share)

    coordinates = [(x(i), y(value)) for i, (_, value) in enumerate(points)]
    unit = escape(unit)
    last = f"{escape(points[-1][0])}: {_number(points[-1][1])}{unit}" if points else "no data"
    summary = f"{len(points)} values from {_number(y_min)} to {_number(top)}{unit}; latest {last}"
    parts = [
        f'<svg class="chart" id="{escape(chart_id)}" viewBox="0 0 {width} {height}" role="img" '
        f'aria-labelledby="{escape(chart_id)}-title {escape(chart_id)}-desc" '
        'preserveAspectRatio="xMinYMin meet">',
        f'<title id="{escape(chart_id)}-title">{escape(title)}</title>',
        f'<desc id="{escape(chart_id)}-desc">{summary}</desc>',
        f'<line class="axis" x1="{left}" y1="{upper}" x2="{left}" y2="{upper + plot_h}"/>',
        f'<line class="axis" x1="{left}" y1="{upper + plot_h}" x2="{left + plot_w}" '
        f'y2="{upper + plot_h}"/>',
        f'<line class="grid" x1="{left}" y1="{upper}" x2="{left + plot_w}" y2="{upper}"/>',
        f'<text class="tick" x="{left - 4}" y="{upper + 4}" text-anchor="end">'
        f"{_number(top)}{unit}</text>",
        f'<text class="tick" x="{left - 4}" y="{upper + plot_h}" text-anchor="end">'
        f"{_number(y_min)}{unit}</text>",
    ]
    if points:
        parts.append(
            f'<text class="tick" x="{left}" y="{height - 6}">{escape(points[0][0])}</text>'
        )
        if len(points) > 1:
            parts.append(
                f'<text class="tick" x="{left + plot_w}" y="{height - 6}" text-anchor="end">'
                f"{escape(points[-1][0])}</text>"
            )
        path = " ".join(f"{cx:.1f},{cy:.1f}" for cx, cy in coordinates)
        parts.append(f'<polyline class="line" points="{path}"/>')
        for (label, value), (cx, cy) in zip(points, coordinates, strict=True):
            parts.append(
                f'<circle class="dot" cx="{cx:.1f}" cy="{cy:.1f}" r="3">'
                f"<title>{escape(label)}: {_number(value)}{unit}</title></circle>"
            )
    parts.append("</svg>")
    return Markup("".join(parts))  # noqa: S704 -- every text above is escaped
