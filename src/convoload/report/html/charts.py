"""Inline SVG charts for the HTML report, drawn in Python so the page needs no script or CDN.

Every chart is an `<svg data-chart="...">` with a `<title>` (read by screen readers, shown as a
tooltip) and a fixed viewBox; CSS scales it to the page width. All text that comes from a run
(persona, agent and hook names) goes through `escape`, since this markup bypasses autoescaping.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

from markupsafe import Markup, escape

WIDTH = 540  # viewBox width of a half-page chart; text stays legible once scaled
WIDE = 1060  # full-page charts
LABEL_W = 150  # left column for row labels in horizontal bar charts
ROW_H = 26

COLORS = {
    "ok": "#2e9e5b",
    "failed": "#d64545",
    "interrupted": "#9aa3ad",
    "simulator_error": "#d9a400",
    "p50": "#3a6fd8",
    "p95": "#a9c1f0",
    "bar": "#5b7fce",
    "critical": "#d64545",
    "business": "#e0a030",
    "quality": "#5b7fce",
}
PRIORITIES = ("critical", "business", "quality")


def fmt_ms(value: float | None) -> str:
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return "–"
    if value < 1000:
        return f"{value:.0f} ms"
    return f"{value / 1000:.2f} s"


def fmt_usd(value: float) -> str:
    # Per-conversation LLM costs are often fractions of a cent: keep the significant digits.
    if value == 0:
        return "US$ 0"
    if value < 0.01:
        return f"US$ {value:.6f}".rstrip("0")
    return f"US$ {value:.4f}"


def _svg(name: str, title: str, height: float, body: str, width: int = WIDTH) -> Markup:
    return Markup(
        f'<svg data-chart="{escape(name)}" role="img" viewBox="0 0 {width} {height:.0f}" '
        f'preserveAspectRatio="xMinYMin meet" class="chart"><title>{escape(title)}</title>{body}</svg>'
    )


def _empty(name: str, title: str, message: str = "no data", width: int = WIDTH) -> Markup:
    body = f'<text class="empty" x="{width / 2}" y="40" text-anchor="middle">{escape(message)}</text>'
    return _svg(name, f"{title}: {message}", 70, body, width)


def _text(x: float, y: float, content: str, cls: str = "", anchor: str = "start") -> str:
    klass = f' class="{cls}"' if cls else ""
    return f'<text x="{x:.1f}" y="{y:.1f}" text-anchor="{anchor}"{klass}>{escape(content)}</text>'


def _rect(x: float, y: float, w: float, h: float, color: str, tip: str) -> str:
    # The nested <title> gives each shape a hover tooltip with its exact numbers.
    return (
        f'<rect x="{x:.2f}" y="{y:.2f}" width="{max(w, 0):.2f}" height="{max(h, 0):.2f}" fill="{color}">'
        f"<title>{escape(tip)}</title></rect>"
    )


def _short(label: str, limit: int = 22) -> str:
    return label if len(label) <= limit else label[: limit - 1] + "…"


def _legend(items: Sequence[tuple[str, str]], y: float = 14) -> str:
    out, x = [], float(LABEL_W)
    for label, color in items:
        out.append(f'<rect x="{x:.0f}" y="{y - 10:.0f}" width="12" height="12" fill="{color}"/>')
        out.append(_text(x + 16, y, label, "legend"))
        x += 26 + 7 * len(label)
    return "".join(out)


def histogram(name: str, title: str, values: Sequence[float], markers: dict[str, float | None]) -> Markup:
    """Latency histogram with vertical marker lines (p50, p95)."""
    if not values:
        return _empty(name, title)
    lo, hi = min(values), max(values)
    bins = min(30, max(5, math.ceil(math.sqrt(len(values)))))
    step = (hi - lo) / bins or 1.0  # all values equal: one populated bin of nominal width
    counts = [0] * bins
    for v in values:
        counts[min(int((v - lo) / step), bins - 1)] += 1
    left, top, plot_w, plot_h = 50.0, 20.0, WIDTH - 70.0, 160.0
    peak = max(counts)
    bar_w = plot_w / bins
    parts = [
        f'<line class="axis" x1="{left}" y1="{top + plot_h}" x2="{left + plot_w}" y2="{top + plot_h}"/>',
        _text(left - 6, top + 8, str(peak), "tick", "end"),
        _text(left - 6, top + plot_h, "0", "tick", "end"),
    ]
    for i, count in enumerate(counts):
        h = plot_h * count / peak
        start, end = lo + i * step, lo + (i + 1) * step
        tip = f"{fmt_ms(start)}–{fmt_ms(end)}: {count} turns"
        parts.append(_rect(left + i * bar_w + 1, top + plot_h - h, bar_w - 2, h, COLORS["bar"], tip))
    for i, anchor in ((0, "start"), (bins // 2, "middle"), (bins, "end")):
        parts.append(_text(left + i * bar_w, top + plot_h + 16, fmt_ms(lo + i * step), "tick", anchor))
    for label, value in markers.items():
        if value is None or hi == lo:
            continue
        x = left + plot_w * (value - lo) / (hi - lo)
        parts.append(
            f'<line class="marker" x1="{x:.1f}" y1="{top - 6}" x2="{x:.1f}" y2="{top + plot_h}">'
            f"<title>{escape(label)} {escape(fmt_ms(value))}</title></line>"
        )
        # Labels near the right edge go on the line's left so they are not cut off.
        right = x > left + plot_w * 0.7
        parts.append(
            _text(
                x - 3 if right else x + 3,
                top + 4,
                f"{label} {fmt_ms(value)}",
                "marker-label",
                "end" if right else "start",
            )
        )
    return _svg(name, title, top + plot_h + 26, "".join(parts))


@dataclass(frozen=True)
class LatencyRow:
    label: str
    count: int
    p50: float
    p95: float


def latency_bars(name: str, title: str, rows: Sequence[LatencyRow]) -> Markup:
    """One row per group: a light p95 bar with the darker p50 bar over it."""
    if not rows:
        return _empty(name, title)
    top, plot_w = 26.0, WIDTH - LABEL_W - 110.0
    peak = max(r.p95 for r in rows) or 1.0
    parts = [_legend([("p50", COLORS["p50"]), ("p95", COLORS["p95"])])]
    for i, row in enumerate(rows):
        y = top + i * ROW_H
        tip = f"{row.label}: p50 {fmt_ms(row.p50)}, p95 {fmt_ms(row.p95)} ({row.count} turns)"
        parts.append(_text(LABEL_W - 8, y + 15, _short(row.label), "label", "end"))
        parts.append(_rect(LABEL_W, y + 3, plot_w * row.p95 / peak, ROW_H - 8, COLORS["p95"], tip))
        parts.append(_rect(LABEL_W, y + 7, plot_w * row.p50 / peak, ROW_H - 16, COLORS["p50"], tip))
        value = f"{fmt_ms(row.p50)} / {fmt_ms(row.p95)}"
        parts.append(_text(LABEL_W + plot_w * row.p95 / peak + 6, y + 15, value, "value"))
    return _svg(name, title, top + len(rows) * ROW_H + 6, "".join(parts))


@dataclass(frozen=True)
class SuccessRow:
    label: str
    reached: int
    failed: int
    interrupted: int
    simulator_error: int = 0  # the simulated user broke the conversation: outside the percentage

    @property
    def total(self) -> int:
        return self.reached + self.failed + self.interrupted + self.simulator_error


def success_bars(name: str, title: str, rows: Sequence[SuccessRow]) -> Markup:
    """100 % stacked bars per persona, so personas with few conversations still compare."""
    rows = [r for r in rows if r.total]
    if not rows:
        return _empty(name, title)
    top, plot_w = 26.0, WIDTH - LABEL_W - 60.0
    parts = [
        _legend(
            [
                ("goal reached", COLORS["ok"]),
                ("failed", COLORS["failed"]),
                ("interrupted", COLORS["interrupted"]),
                *(
                    [("simulator error", COLORS["simulator_error"])]
                    if any(r.simulator_error for r in rows)
                    else []
                ),
            ]
        )
    ]
    for i, row in enumerate(rows):
        y, x = top + i * ROW_H, float(LABEL_W)
        parts.append(_text(LABEL_W - 8, y + 15, _short(row.label), "label", "end"))
        for kind, count, color in (
            ("goal reached", row.reached, COLORS["ok"]),
            ("failed", row.failed, COLORS["failed"]),
            ("interrupted", row.interrupted, COLORS["interrupted"]),
            ("simulator error", row.simulator_error, COLORS["simulator_error"]),
        ):
            if not count:
                continue
            w = plot_w * count / row.total
            parts.append(_rect(x, y + 3, w, ROW_H - 8, color, f"{row.label}: {count} {kind}"))
            if w > 22:
                parts.append(_text(x + w / 2, y + 16, str(count), "inbar", "middle"))
            x += w
        judged = row.total - row.simulator_error
        share = f"{100 * row.reached / judged:.0f}%" if judged else "-"
        parts.append(_text(LABEL_W + plot_w + 6, y + 15, share, "value"))
    return _svg(name, title, top + len(rows) * ROW_H + 6, "".join(parts))


def count_bars(name: str, title: str, rows: Sequence[tuple[str, int]], limit: int = 20) -> Markup:
    """Horizontal bars of counts, largest first (agent transitions)."""
    rows = sorted(rows, key=lambda r: -r[1])
    if not rows:
        return _empty(name, title)
    shown, hidden = rows[:limit], rows[limit:]
    top, plot_w = 8.0, WIDTH - LABEL_W - 60.0
    peak = max(c for _, c in shown) or 1
    parts = []
    for i, (label, count) in enumerate(shown):
        y = top + i * ROW_H
        w = plot_w * count / peak
        parts.append(_text(LABEL_W - 8, y + 15, _short(label), "label", "end"))
        parts.append(_rect(LABEL_W, y + 3, w, ROW_H - 8, COLORS["bar"], f"{label}: {count}"))
        parts.append(_text(LABEL_W + w + 6, y + 15, str(count), "value"))
    height = top + len(shown) * ROW_H + 6
    if hidden:
        more = f"+ {len(hidden)} more transitions ({sum(c for _, c in hidden)} changes)"
        parts.append(_text(LABEL_W, height + 8, more, "tick"))
        height += 18
    return _svg(name, title, height, "".join(parts))


def pass_bars(name: str, title: str, rows: Sequence[tuple[str, int, int]]) -> Markup:
    """One bar per row (a judge's criterion) as a share of 100 %: passed, then failed, with the pass
    rate at its end. Rows: (label, judged, passed)."""
    rows = [r for r in rows if r[1] > 0]
    if not rows:
        return _empty(name, title)
    top, plot_w = 26.0, WIDTH - LABEL_W - 60.0
    parts = [_legend([("passed", COLORS["ok"]), ("failed", COLORS["failed"])])]
    for i, (label, judged, passed) in enumerate(rows):
        y = top + i * ROW_H
        ok_w = plot_w * passed / judged
        parts.append(_text(LABEL_W - 8, y + 15, _short(label), "label", "end"))
        parts.append(
            _rect(LABEL_W, y + 3, ok_w, ROW_H - 8, COLORS["ok"], f"{label}: {passed} of {judged} passed")
        )
        failed = judged - passed
        if failed:
            tip = f"{label}: {failed} of {judged} failed"
            parts.append(_rect(LABEL_W + ok_w, y + 3, plot_w - ok_w, ROW_H - 8, COLORS["failed"], tip))
        parts.append(_text(LABEL_W + plot_w + 6, y + 15, f"{100 * passed / judged:.0f}%", "value"))
    return _svg(name, title, top + len(rows) * ROW_H + 6, "".join(parts))


# More conversations than this are drawn as the costliest of each group of consecutive ones.
MAX_DOTS = 1000


def cost_dots(name: str, title: str, costs: Sequence[tuple[str, float]]) -> Markup:
    """One dot per conversation in start order; a flat row of dots plus a note when nothing cost money.

    Beyond MAX_DOTS conversations, one dot per group of consecutive ones: its costliest (the page of a
    long run stays small; the peaks stay visible)."""
    if not costs:
        return _empty(name, title)
    total = len(costs)
    group = math.ceil(total / MAX_DOTS)
    if group > 1:
        costs = [max(costs[i : i + group], key=lambda c: c[1]) for i in range(0, total, group)]
    left, top, plot_w, plot_h = 96.0, 14.0, WIDTH - 110.0, 120.0
    peak = max(c for _, c in costs)
    parts = [f'<line class="axis" x1="{left}" y1="{top + plot_h}" x2="{left + plot_w}" y2="{top + plot_h}"/>']
    if peak > 0:
        parts.append(_text(left - 6, top + 8, fmt_usd(peak), "tick", "end"))
    parts.append(_text(left - 6, top + plot_h, "0", "tick", "end"))
    step = plot_w / max(len(costs), 1)
    radius = max(1.2, min(4.0, step / 2))
    for i, (label, cost) in enumerate(costs):
        x = left + step * (i + 0.5)
        y = top + plot_h - (plot_h * cost / peak if peak > 0 else 0)
        parts.append(
            f'<circle cx="{x:.2f}" cy="{y:.2f}" r="{radius:.1f}" fill="{COLORS["bar"]}">'
            f"<title>{escape(label)}: {escape(fmt_usd(cost))}</title></circle>"
        )
    if peak == 0:
        parts.append(_text(left + plot_w / 2, top + plot_h / 2, "no LLM cost", "empty", "middle"))
    caption = f"{total} conversations, in start order"
    if group > 1:
        caption += f" (the costliest of each {group})"
    parts.append(_text(left, top + plot_h + 16, caption, "tick"))
    return _svg(name, title, top + plot_h + 24, "".join(parts))


def stacked_columns(
    name: str,
    title: str,
    buckets: Sequence[dict[str, int]],
    labels: Sequence[str],
    unit: str,
    width: int = WIDE,
) -> Markup:
    """Vertical columns stacked by priority (findings over time)."""
    totals = [sum(b.values()) for b in buckets]
    if not buckets or not any(totals):
        return _empty(name, title, width=width)
    left, top, plot_w, plot_h = 50.0, 26.0, width - 70.0, 140.0
    peak = max(totals)
    col_w = plot_w / len(buckets)
    parts = [
        _legend([(p, COLORS[p]) for p in PRIORITIES]),
        f'<line class="axis" x1="{left}" y1="{top + plot_h}" x2="{left + plot_w}" y2="{top + plot_h}"/>',
        _text(left - 6, top + 8, str(peak), "tick", "end"),
        _text(left - 6, top + plot_h, "0", "tick", "end"),
    ]
    for i, bucket in enumerate(buckets):
        y = top + plot_h
        for priority in PRIORITIES:
            count = bucket.get(priority, 0)
            if not count:
                continue
            h = plot_h * count / peak
            y -= h
            tip = f"{labels[i]}: {count} {priority}"
            parts.append(_rect(left + i * col_w + 1, y, max(col_w - 2, 1), h, COLORS[priority], tip))
    for i in sorted({0, len(buckets) // 2, len(buckets) - 1}):
        parts.append(_text(left + (i + 0.5) * col_w, top + plot_h + 16, labels[i], "tick", "middle"))
    parts.append(_text(4, 14, unit, "tick"))
    return _svg(name, title, top + plot_h + 24, "".join(parts), width)
