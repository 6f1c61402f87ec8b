"""Self-contained HTML report for a run: inline SVG charts and every conversation's transcript."""

from convoload.report.html.render import REPORT_NAME, render_html, write_html_report

__all__ = ["REPORT_NAME", "render_html", "write_html_report"]
