"""Alerting for `convoload monitor`: threshold rules, an Alertmanager-like engine and notification channels.

config = load_alerting_config(yaml_section, source="monitor.yaml")
manager = AlertManager(config)                  # clock defaults to time.time
dispatcher = Dispatcher.from_config(config.channels)
for notification in manager.evaluate({"success_rate": 0.62, "component_up:catalog": 1}):
    dispatcher.send(notification)               # -> [DeliveryResult], never raises
store(manager.snapshot())                       # JSON-able; manager.restore(...) after a restart
"""

from convoload.monitor.alerts.channels import (
    Channel,
    ChannelError,
    EmailChannel,
    LogChannel,
    SlackChannel,
    WebhookChannel,
    build_channel,
)
from convoload.monitor.alerts.dispatch import DeliveryResult, Dispatcher
from convoload.monitor.alerts.manager import AlertManager, Clock, fingerprint
from convoload.monitor.alerts.model import (
    Alert,
    AlertingConfig,
    ChannelConfig,
    EmailChannelConfig,
    LogChannelConfig,
    Notification,
    RuleConfig,
    Severity,
    SlackChannelConfig,
    WebhookChannelConfig,
    default_rules,
    load_alerting_config,
)
from convoload.monitor.alerts.render import alertmanager_payload, slack_payload, text_body, title
from convoload.monitor.alerts.rules import MetricValues

__all__ = [
    "Alert",
    "AlertManager",
    "AlertingConfig",
    "Channel",
    "ChannelConfig",
    "ChannelError",
    "Clock",
    "DeliveryResult",
    "Dispatcher",
    "EmailChannel",
    "EmailChannelConfig",
    "LogChannel",
    "LogChannelConfig",
    "MetricValues",
    "Notification",
    "RuleConfig",
    "Severity",
    "SlackChannel",
    "SlackChannelConfig",
    "WebhookChannel",
    "WebhookChannelConfig",
    "alertmanager_payload",
    "build_channel",
    "default_rules",
    "fingerprint",
    "load_alerting_config",
    "slack_payload",
    "text_body",
    "title",
]
