"""Server-drawn SVG line charts: valid markup, the points where the numbers say, text escaped."""

import re
import xml.etree.ElementTree as ET

import pytest

from service.web.charts import HEIGHT, TOP, line_chart, nice_ceiling, plain_number

SVG = "{http://www.w3.org/2000/svg}"


def parsed(markup):
    """The chart as XML (the SVG namespace added, as the HTML parser implies it)."""
    return ET.fromstring(str(markup).replace("<svg ", f'<svg xmlns="{SVG[1:-1]}" ', 1))


def test_a_chart_is_an_image_with_a_title_a_description_and_its_numbers_in_a_table():
    chart = parsed(
        line_chart("Score", ["2026-11-01", "2026-11-02", "2026-11-03"], {"Score": [61, 74.5, 88]})
    )
    svg = chart.find(f"{SVG}svg")
    assert svg.get("role") == "img"
    assert svg.find(f"{SVG}title").text == "Score"
    assert svg.find(f"{SVG}desc").text == "2026-11-01 to 2026-11-03. Score from 61 to 88."
    table = chart.find("details/div/table")
    assert table.find("caption").text == "Score"
    assert [th.text for th in table.findall("thead/tr/th")] == ["Point", "Score"]
    assert [th.get("scope") for th in table.findall("thead/tr/th")] == ["col", "col"]
    cells = [[c.text for c in row] for row in table.findall("tbody/tr")]
    assert cells == [["2026-11-01", "61"], ["2026-11-02", "74.5"], ["2026-11-03", "88"]]


def test_points_sit_where_their_values_say_on_a_fixed_axis():
    chart = parsed(line_chart("Rate", ["a", "b", "c"], {"ok": [0, 50, 100]}, y_max=100))
    dots = [float(c.get("cy")) for c in chart.iter(f"{SVG}circle")]
    bottom = HEIGHT - 28
    assert dots == [bottom, (bottom + TOP) / 2, TOP]
    xs = [float(c.get("cx")) for c in chart.iter(f"{SVG}circle")]
    assert xs[0] < xs[1] < xs[2] and xs[1] - xs[0] == pytest.approx(xs[2] - xs[1])
    ticks = [t.text for t in chart.iter(f"{SVG}text") if t.get("text-anchor") == "end"]
    assert ticks[:5] == ["0", "25", "50", "75", "100"]


def test_a_missing_value_breaks_the_line_and_shows_as_a_dash():
    chart = parsed(
        line_chart("p", list("1234"), {"p50": [1, None, 3, 4], "p95": [None] * 4}, unit=" s")
    )
    paths = [p for p in chart.iter(f"{SVG}path") if "s0" in p.get("class")]
    assert [p.get("d").count("L") for p in paths] == [0, 1]  # a lone point, then a segment
    assert not [p for p in chart.iter(f"{SVG}path") if "s1" in p.get("class")]
    rows = [[c.text for c in row] for row in chart.findall("details/div/table/tbody/tr")]
    assert rows[1] == ["2", "—", "—"] and rows[3] == ["4", "4 s", "—"]
    assert "p95: no values" in chart.find(f"{SVG}svg/{SVG}desc").text


def test_the_axis_top_is_a_round_number_above_the_data():
    found = [nice_ceiling(v) for v in (0, 0.3, 1, 7, 12, 240, 2600)]
    assert found == [1, 0.5, 1, 10, 20, 250, 5000]
    chart = parsed(line_chart("t", ["a"], {"x": [37]}))
    assert [t.text for t in chart.iter(f"{SVG}text")][4] == "50"  # 0 .. 50, four steps
    assert [plain_number(v) for v in (2.50, 3.0, 0.126)] == ["2.5", "3", "0.13"]


def test_each_series_has_its_own_class_and_legend():
    chart = parsed(line_chart("d", ["a", "b"], {"p50": [1, 2], "p95": [3, 4]}))
    legend = [t.text for t in chart.iter(f"{SVG}text") if t.get("class") == "legend"]
    assert legend == ["p50", "p95"]
    classes = {p.get("class") for p in chart.iter(f"{SVG}path")}
    assert classes == {"series s0", "series s1"}


def test_hostile_labels_and_names_stay_text():
    markup = '<script>alert("x")</script>'
    chart = str(line_chart(markup, [markup, "b"], {markup: [1, 2]}))
    assert "<script>" not in chart
    assert chart.count("&lt;script&gt;") >= 5  # title, desc, legend, table head, table row
    parsed(chart)  # still well-formed


def test_many_points_get_a_few_labels_and_no_dots():
    labels = [f"d{i}" for i in range(90)]
    chart = parsed(line_chart("long", labels, {"x": list(range(90))}))
    shown = [t.text for t in chart.iter(f"{SVG}text") if t.get("text-anchor") != "end"]
    assert len([s for s in shown if re.fullmatch(r"d\d+", s)]) <= 5
    assert not list(chart.iter(f"{SVG}circle"))
    assert len(chart.findall("details/div/table/tbody/tr")) == 90


def test_values_and_labels_must_pair_up():
    with pytest.raises(ValueError, match="one value per label"):
        line_chart("bad", ["a", "b"], {"x": [1]})
