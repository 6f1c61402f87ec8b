"""capacity.html: goal rate, p95 turn latency and error rate against concurrency on one chart (inline
SVG, as the run report draws its charts: no script, no CDN), the verdict, a table per step and links
to the transcripts of each step's failed conversations (their files under conversations/)."""

from __future__ import annotations

from markupsafe import Markup, escape

from convoload.model.capacity import CapacityResult, StepStats, users

WIDTH, HEIGHT = 760, 320
LEFT, RIGHT, TOP, BOTTOM = 56.0, 64.0, 34.0, 46.0
SERIES = {  # metric -> (label, colour, axis)
    "goal_rate": ("goal rate", "#2e9e5b", "rate"),
    "error_rate": ("error rate", "#d64545", "rate"),
    "p95_turn_s": ("p95 turn latency", "#3a6fd8", "seconds"),
    "judge_pass_rate": ("judge pass rate", "#8a5cd1", "rate"),  # drawn only for a judged run
}


def _t(x: float, y: float, text: str, cls: str = "", anchor: str = "start") -> str:
    klass = f' class="{cls}"' if cls else ""
    return f'<text x="{x:.1f}" y="{y:.1f}" text-anchor="{anchor}"{klass}>{escape(text)}</text>'


def _pct(value: float | None) -> str:
    return "–" if value is None else f"{100 * value:.1f} %"


def _s(value: float | None) -> str:
    return "–" if value is None else f"{value:.3f} s"


def _num(value: float | None, digits: int = 1) -> str:
    return "–" if value is None else f"{value:.{digits}f}"


def _usd(value: float | None) -> str:
    return "–" if value is None else f"US$ {value:.6f}"


def knee_chart(result: CapacityResult) -> Markup:
    """One chart over the steps (evenly spaced, labelled with their users): rates on the left axis
    (with the judge's pass rate when the run was judged), p95 turn latency on the right; dashed
    lines for the SLOs on these metrics, the knee shaded."""
    steps = result.steps
    title = "goal rate, p95 turn latency and error rate against concurrency"
    if not steps:
        body = _t(WIDTH / 2, 60, "no step ran", "empty", "middle")
        return Markup(
            f'<svg data-chart="capacity" role="img" viewBox="0 0 {WIDTH} 100" class="chart">'
            f"<title>{escape(title)}: no step ran</title>{body}</svg>"
        )
    plot_w, plot_h = WIDTH - LEFT - RIGHT, HEIGHT - TOP - BOTTOM
    latencies = [s.p95_turn_s for s in steps if s.p95_turn_s is not None]
    slo_latency = [s.threshold for s in result.settings.slos if s.metric == "p95_turn_s"]
    top_s = max([*latencies, *slo_latency, 0.001]) * 1.15

    def x(i: int) -> float:
        return LEFT + (plot_w * (i + 0.5) / len(steps))

    def y(value: float, axis: str) -> float:
        scale = 1.0 if axis == "rate" else top_s
        return TOP + plot_h * (1 - min(value / scale, 1.0))

    parts = [
        f'<line class="axis" x1="{LEFT}" y1="{TOP + plot_h}" x2="{LEFT + plot_w}" y2="{TOP + plot_h}"/>',
        f'<line class="axis" x1="{LEFT}" y1="{TOP}" x2="{LEFT}" y2="{TOP + plot_h}"/>',
        f'<line class="axis" x1="{LEFT + plot_w}" y1="{TOP}" x2="{LEFT + plot_w}" y2="{TOP + plot_h}"/>',
    ]
    knee = result.verdict.knee_users
    for i, step in enumerate(steps):
        if step.passed:
            band = plot_w / len(steps)
            mark = " (knee)" if step.users == knee else ""
            if mark:
                parts.append(_t(x(i), TOP + 14, "knee", "knee", "middle"))
            parts.append(
                f'<rect class="passed" data-users="{step.users}" x="{x(i) - band / 2:.1f}" y="{TOP}" '
                f'width="{band:.1f}" height="{plot_h:.1f}" fill="#2e9e5b" fill-opacity="0.07">'
                f"<title>{users(step.users)} met every SLO{mark}</title></rect>"
            )
        parts.append(_t(x(i), TOP + plot_h + 16, str(step.users), "tick", "middle"))
    parts.append(_t(LEFT + plot_w / 2, HEIGHT - 8, "concurrent users", "tick", "middle"))
    for frac in (0.0, 0.5, 1.0):
        parts.append(_t(LEFT - 6, y(frac, "rate") + 4, f"{100 * frac:.0f} %", "tick", "end"))
        parts.append(_t(LEFT + plot_w + 6, y(frac * top_s, "seconds") + 4, f"{frac * top_s:.2f} s", "tick"))
    for slo in result.settings.slos:
        if slo.metric in SERIES:
            label, color, axis = SERIES[slo.metric]
            yy = y(slo.threshold, axis)
            parts.append(
                f'<line class="slo" data-slo="{escape(slo.text)}" x1="{LEFT}" y1="{yy:.1f}" '
                f'x2="{LEFT + plot_w}" y2="{yy:.1f}" stroke="{color}" stroke-dasharray="5 4" '
                f'stroke-opacity="0.7"><title>SLO {escape(slo.text)}</title></line>'
            )
            parts.append(_t(LEFT + plot_w - 4, yy - 4, f"SLO {slo.text}", "slo-label", "end"))
    judged = any(s.judge is not None for s in steps)
    # Four legends fit the width only set a little tighter than three.
    legend_base, legend_char = (34, 6) if judged else (40, 7)
    legend_x = LEFT
    for metric, (label, color, axis) in SERIES.items():
        if metric == "judge_pass_rate" and not judged:
            continue
        points = [
            (x(i), y(v, axis), s, v) for i, s in enumerate(steps) if (v := s.metric(metric)) is not None
        ]
        if points:
            path = " ".join(f"{px:.1f},{py:.1f}" for px, py, _, _ in points)
            parts.append(
                f'<polyline data-series="{metric}" points="{path}" fill="none" stroke="{color}" '
                'stroke-width="2"/>'
            )
        for px, py, step, value in points:
            shown = _s(value) if axis == "seconds" else _pct(value)
            parts.append(
                f'<circle data-series="{metric}" data-users="{step.users}" cx="{px:.1f}" cy="{py:.1f}" '
                f'r="4" fill="{color}"><title>{step.users} users: {escape(label)} {shown}</title></circle>'
            )
        parts.append(f'<rect x="{legend_x:.0f}" y="{TOP - 22}" width="12" height="12" fill="{color}"/>')
        axis_name = "right axis" if axis == "seconds" else "left axis"
        parts.append(_t(legend_x + 16, TOP - 12, f"{label} ({axis_name})", "legend"))
        legend_x += legend_base + legend_char * (len(label) + len(axis_name))
    return Markup(
        f'<svg data-chart="capacity" role="img" viewBox="0 0 {WIDTH} {HEIGHT}" '
        f'preserveAspectRatio="xMinYMin meet" class="chart"><title>{escape(title)}</title>'
        f"{''.join(parts)}</svg>"
    )


_CSS = """
:root { --ok: #2e9e5b; --bad: #d64545; --muted: #6b7480; --line: #dde2e8; }
* { box-sizing: border-box; }
body { font: 14px/1.45 system-ui, -apple-system, "Segoe UI", Roboto, sans-serif; margin: 0; color: #1d232b;
  background: #f5f7fa; }
main { max-width: 1100px; margin: 0 auto; padding: 24px; }
h1 { font-size: 20px; margin: 0 0 4px; } h2 { font-size: 16px; margin: 0 0 12px; }
section { background: #fff; border: 1px solid var(--line); border-radius: 8px; padding: 16px 20px;
  margin: 16px 0; }
.meta { color: var(--muted); } .verdict { font-size: 18px; font-weight: 600; }
.pass { color: var(--ok); font-weight: 600; } .fail { color: var(--bad); font-weight: 600; }
svg.chart { width: 100%; height: auto; display: block; font-size: 12px; }
svg text { fill: #39424d; } svg .axis { stroke: #9aa3ad; }
svg text.slo-label { fill: #6b7480; font-size: 11px; } svg text.knee { fill: #2e9e5b; font-weight: 600; }
table { border-collapse: collapse; width: 100%; }
th, td { text-align: left; padding: 5px 8px; border-bottom: 1px solid var(--line); vertical-align: top; }
th { color: var(--muted); font-weight: 600; font-size: 12px; }
"""


def _row(label: str, value: str) -> str:
    return f"<tr><th>{escape(label)}</th><td>{escape(value)}</td></tr>"


def _step_section(step: StepStats) -> str:
    status = '<span class="pass">passed</span>' if step.passed else '<span class="fail">broke</span>'
    cut = " · cut short" if step.cut_short else ""
    errors = ", ".join(f"{k}: {v}" for k, v in step.errors_by_kind.items()) or "none"
    rows = [
        _row(
            "conversations started / finished",
            f"{step.conversations_started} / {step.conversations_finished}",
        ),
        _row("started during the warm-up (not measured)", str(step.warm_up_conversations)),
        _row("goal rate", f"{_pct(step.goal_rate)} ({step.goals} goals, {step.interrupted} interrupted)"),
        _row("turns to goal p50 / p95", f"{_num(step.turns_to_goal_p50)} / {_num(step.turns_to_goal_p95)}"),
        _row(
            "turn latency p50 / p95 / p99",
            f"{_s(step.p50_turn_s)} / {_s(step.p95_turn_s)} / {_s(step.p99_turn_s)}",
        ),
        _row("error rate", f"{_pct(step.error_rate)} ({step.failed_turns} of {step.turns} turns)"),
        _row("errors by kind", errors),
        _row("tokens per success", _num(step.tokens_per_success)),
        _row("cost per success", _usd(step.cost_per_success_usd)),
    ]
    if step.judge is not None:
        judge = step.judge
        scores = ", ".join(f"{k}: {v:.2f}" for k, v in judge.criteria.items()) or "–"
        errors_part = f", {judge.judge_errors} not judged" if judge.judge_errors else ""
        rows.append(
            _row(
                "judge",
                f"{judge.passed} of {judge.judged} passed ({_pct(judge.pass_rate)}{errors_part}); "
                f"mean score {_num(judge.mean_score, 2)}; by criterion (mean score 0..1): {scores}",
            )
        )
        rows.append(_row("judge cost", _usd(judge.cost_usd)))
    checks = "".join(
        f'<tr data-slo="{escape(c.slo.text)}"><td>{escape(c.slo.text)}</td>'
        f"<td>{'–' if c.value is None else f'{c.value:.4g}'}</td>"
        f'<td class="{"pass" if c.passed else "fail"}">{"held" if c.passed else "broken"}</td></tr>'
        for c in step.checks
    )
    failed = "".join(
        f'<li><a class="transcript" href="{escape(f.transcript)}">{escape(f.persona)} · '
        f"{escape(f.outcome or 'unfinished')} · {escape(f.session_id)}</a></li>"
        for f in step.failed_conversations
    )
    failed_part = (
        f"<h3>failed conversations ({len(step.failed_conversations)})</h3><ul>{failed}</ul>"
        if failed
        else '<p class="meta">no failed conversation</p>'
    )
    return (
        f'<section class="step" id="step-{step.users}" data-users="{step.users}">'
        f"<h2>{users(step.users)} · {status}{cut}</h2>"
        f'<p class="meta">{step.start_s:.1f} s → {step.end_s:.1f} s into the run '
        f"(measured from {step.measure_from_s:.1f} s)</p>"
        f"<table>{''.join(rows)}</table>"
        f"<h3>SLOs</h3><table><tr><th>SLO</th><th>measured</th><th></th></tr>{checks}</table>"
        f"{failed_part}</section>"
    )


def _judge_cell(step: StepStats) -> str:
    judge = step.judge
    if judge is None:
        return "<td>–</td>"
    return f'<td class="judge">{escape(_pct(judge.pass_rate))} of {judge.judged}</td>'


def render_capacity_html(result: CapacityResult) -> str:
    verdict = result.verdict
    settings = result.settings
    slos = ", ".join(s.text for s in settings.slos)
    judged = any(s.judge is not None for s in result.steps)  # the judge column: only for a judged run
    summary = "".join(
        f'<tr><td><a href="#step-{s.users}">{s.users}</a></td><td>{s.conversations_started}</td>'
        f"<td>{_pct(s.goal_rate)}</td><td>{_s(s.p95_turn_s)}</td><td>{_pct(s.error_rate)}</td>"
        f"{_judge_cell(s) if judged else ''}"
        f'<td class="{"pass" if s.passed else "fail"}">{"passed" if s.passed else "broke"}</td></tr>'
        for s in result.steps
    )
    judge_head = "<th>judge pass rate</th>" if judged else ""
    stopped = (
        f'<p class="meta" id="stopped">stopped early: {escape(result.stopped_early)}</p>'
        if result.stopped_early
        else ""
    )
    return (
        '<!DOCTYPE html><html lang="en"><head><meta charset="utf-8">'
        '<meta name="viewport" content="width=device-width, initial-scale=1">'
        f"<title>convoload capacity · {escape(result.run_id)}</title><style>{_CSS}</style></head><body><main>"
        f'<section class="header"><h1>convoload capacity {escape(result.run_id)}</h1>'
        f'<p class="meta">steps {", ".join(map(str, settings.steps))} users · '
        f"{settings.warm_up_s:g} s warm-up "
        f"+ {settings.step_duration_s:g} s each · SLOs {escape(slos)} · "
        f'<a href="report.html">run report</a></p>'
        f'<p class="verdict" id="verdict">{escape(verdict.line)}</p>{stopped}</section>'
        f"<section><h2>the knee</h2>{knee_chart(result)}</section>"
        "<section><h2>steps</h2><table><tr><th>users</th><th>conversations</th><th>goal rate</th>"
        f"<th>p95 turn</th><th>error rate</th>{judge_head}<th>SLOs</th></tr>{summary}</table></section>"
        f"{''.join(_step_section(s) for s in result.steps)}"
        "</main></body></html>\n"
    )
