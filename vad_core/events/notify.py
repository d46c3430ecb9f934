"""Alerts beside the event store: each opened (and closed) event as JSON to an MQTT topic or a webhook, with a
link that opens it in the app.

notifiers = make_notifiers(mqtt="mqtt://127.0.0.1:1883/vad/alerts", webhook="http://hooks.local/vad", timeout=5)
payload = alert_payload("open", event_id, record, link_base="http://127.0.0.1:8501")
for notifier in notifiers: notifier.send(payload)       # raises on failure; the caller logs one line

Both are best-effort under a timeout (vad_core.events.live.LivePublisher calls them on its own thread and turns
a failure into one warning line); neither is retried. The alert command (vad_core.pipeline.alerts) is separate.
"""

from __future__ import annotations

import json
import threading
import urllib.request
from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING, Protocol
from urllib.parse import urlsplit

from vad_core.errors import BadInput

if TYPE_CHECKING:
    from vad_core.events.store import EventRecord

LINK_BASE = "http://127.0.0.1:8501"
MQTT_PORT = 1883


class Notifier(Protocol):
    def send(self, payload: dict) -> None: ...

    def close(self) -> None: ...


def event_link(link_base: str, event_id: int | None) -> str | None:
    """The app's address of one event (its Events page reads the `event` query parameter)."""
    return f"{link_base.rstrip('/')}/events?event={event_id}" if event_id is not None else None


def alert_payload(action: str, event_id: int | None, record: EventRecord, link_base: str = LINK_BASE) -> dict:
    """The JSON an alert carries: what happened (open or close), the event's id and link, and its figures."""
    times = {k: v.isoformat() if isinstance(v, datetime) else v for k, v in
             (("started_at", record.started_at), ("ended_at", record.ended_at))}  # fmt: skip
    return {
        "event": action,
        "id": event_id,
        "link": event_link(link_base, event_id),
        "source": record.source,
        "kind": record.kind,
        "start": record.start,
        "end": record.end,
        "peak": record.peak,
        "peak_frame": record.peak_frame,
        "model": record.model,
        "zone": record.zone,
    } | times


@dataclass(frozen=True)
class MqttTarget:
    """mqtt://HOST[:PORT]/TOPIC (TOPIC may hold slashes)."""

    host: str
    port: int
    topic: str

    @classmethod
    def parse(cls, url: str) -> MqttTarget:
        parts = urlsplit(url)
        topic = parts.path.lstrip("/")
        try:
            port = parts.port or MQTT_PORT
        except ValueError:
            port = -1
        if parts.scheme != "mqtt" or not parts.hostname or not topic or port < 0 or "#" in topic or "+" in topic:
            raise BadInput(f"{url!r} is not an MQTT target: use mqtt://HOST[:PORT]/TOPIC", option="mqtt")
        return cls(parts.hostname, port, topic)


class MqttNotifier:
    """Publishes to one topic of a broker (QoS 1), connecting on first use and again after a failure."""

    def __init__(self, url: str, timeout: float) -> None:
        self.target, self.timeout = MqttTarget.parse(url), timeout
        self._client = None
        self._connected = threading.Event()

    def _connect(self):
        import paho.mqtt.client as mqtt

        client = mqtt.Client(mqtt.CallbackAPIVersion.VERSION2, client_id="", protocol=mqtt.MQTTv311)
        client.on_connect = lambda *_args: self._connected.set()
        client.on_disconnect = lambda *_args: self._connected.clear()
        self._connected.clear()
        client.connect(self.target.host, self.target.port, keepalive=60)
        client.loop_start()
        if not self._connected.wait(self.timeout):
            client.loop_stop()
            raise TimeoutError(f"no answer from the MQTT broker {self.target.host}:{self.target.port}")
        return client

    def send(self, payload: dict) -> None:
        if self._client is None or not self._connected.is_set():
            self.close()
            self._client = self._connect()
        info = self._client.publish(self.target.topic, json.dumps(payload), qos=1)
        info.wait_for_publish(self.timeout)
        if not info.is_published():
            raise TimeoutError(f"the MQTT broker did not take the alert within {self.timeout:g} s")

    def close(self) -> None:
        if self._client is not None:
            self._client.disconnect()
            self._client.loop_stop()
            self._client = None


class WebhookNotifier:
    """POSTs each alert as JSON to a URL; any answer but 2xx is a failure."""

    def __init__(self, url: str, timeout: float) -> None:
        if urlsplit(url).scheme not in ("http", "https") or not urlsplit(url).hostname:
            raise BadInput(f"{url!r} is not an http(s) URL", option="webhook")
        self.url, self.timeout = url, timeout

    def send(self, payload: dict) -> None:
        request = urllib.request.Request(
            self.url, json.dumps(payload).encode(), {"Content-Type": "application/json"}, method="POST"
        )
        with urllib.request.urlopen(request, timeout=self.timeout) as answer:
            answer.read(1 << 16)

    def close(self) -> None:
        pass


def make_notifiers(mqtt: str | None, webhook: str | None, timeout: float) -> list[Notifier]:
    """The notifiers asked for (each URL checked now: a bad one is BadInput before the run starts)."""
    notifiers: list[Notifier] = []
    if mqtt:
        notifiers.append(MqttNotifier(mqtt, timeout))
    if webhook:
        notifiers.append(WebhookNotifier(webhook, timeout))
    return notifiers
