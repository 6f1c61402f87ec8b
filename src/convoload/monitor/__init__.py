"""Continuous monitoring: scheduled synthetic conversations, metrics, alerts, dashboard, daily report."""
