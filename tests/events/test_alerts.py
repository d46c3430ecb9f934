"""watch's alerts: a real mosquitto broker and a real HTTP server on 127.0.0.1 receive each event as JSON with its
id and a link that opens it; a dead broker or store is one warning line and the run goes on."""

from __future__ import annotations

import json
import queue
import threading
from http.server import BaseHTTPRequestHandler

import pytest

from tests.helpers.paths import SAMPLES
from tests.helpers.servers import free_port, mosquitto_broker
from tests.helpers.stream_servers import serving_http
from vad_core.events.store import EventStore

CLIP = SAMPLES / "test" / "Test004.mp4"  # opens a segment with the bundled model and the tiny one alike
TOPIC = "vad/alerts"


@pytest.fixture
def subscriber():
    """A paho subscriber on TOPIC of a fresh broker: (port, the messages' payloads as they come)."""
    import paho.mqtt.client as mqtt

    with mosquitto_broker() as port:
        received: queue.Queue = queue.Queue()
        subscribed = threading.Event()
        client = mqtt.Client(mqtt.CallbackAPIVersion.VERSION2)
        client.on_connect = lambda c, *_: c.subscribe(TOPIC, qos=1)
        client.on_subscribe = lambda *_: subscribed.set()
        client.on_message = lambda _c, _u, message: received.put(json.loads(message.payload))
        client.connect("127.0.0.1", port)
        client.loop_start()
        assert subscribed.wait(10)
        try:
            yield port, received
        finally:
            client.disconnect()
            client.loop_stop()


def _hook(posts: queue.Queue):
    class Hook(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            posts.put(
                (
                    self.path,
                    self.headers["Content-Type"],
                    json.loads(self.rfile.read(int(self.headers["Content-Length"]))),
                )
            )
            self.send_response(204)
            self.end_headers()

        def log_message(self, *_args) -> None:
            pass

    return Hook


def _drain(messages: queue.Queue) -> list:
    out = []
    while not messages.empty():
        out.append(messages.get_nowait())
    return out


def test_watch_alerts_reach_a_broker_and_a_webhook_with_the_event_link(subscriber, analysis_stem, tmp_path, cli):
    port, received = subscriber
    posts: queue.Queue = queue.Queue()
    url = f"sqlite:///{tmp_path / 'events.db'}"
    with serving_http(_hook(posts)) as base:
        result = cli("watch", str(CLIP), "--out", str(tmp_path / "out"), "--checkpoint", str(analysis_stem),
                     "--events-url", url, "--camera", "gate", "--mqtt", f"mqtt://127.0.0.1:{port}/{TOPIC}",
                     "--webhook", f"{base}/hook", "--link-base", "http://vad.local:8501/",
                     "--threshold", "0.5")  # fmt: skip
    assert result.returncode == 0, result.stderr
    store = EventStore.open(url)
    try:
        stored = {e.id: e for e in store.events()}
    finally:
        store.close()
    for messages in (_drain(received), [body for path, kind, body in _drain(posts) if path == "/hook"]):
        opened = [m for m in messages if m["event"] == "open"]
        assert opened and [m["event"] for m in messages].count("close") == len(opened)
        first = opened[0]
        assert first["id"] in stored and stored[first["id"]].source == first["source"] == "gate"
        assert first["link"] == f"http://vad.local:8501/events?event={first['id']}" and first["end"] is None


def test_a_dead_broker_and_a_corrupt_store_are_one_warning_each(analysis_stem, tmp_path, cli):
    corrupt = tmp_path / "events.db"
    corrupt.write_bytes(b"not a database" * 200)
    result = cli("watch", str(CLIP), "--out", str(tmp_path / "out"), "--checkpoint", str(analysis_stem),
                 "--events-url", f"sqlite:///{corrupt}", "--mqtt", f"mqtt://127.0.0.1:{free_port()}/{TOPIC}",
                 "--alert-timeout", "2", "--threshold", "0.5")  # fmt: skip
    assert result.returncode == 0, result.stderr
    assert (tmp_path / "out" / "segments.json").is_file()
    lines = result.stderr.splitlines()
    assert sum("event not stored" in line for line in lines) == 1
    assert any("alert failed" in line for line in lines) and "Traceback" not in result.stderr


def test_bad_alert_urls_are_bad_input(cli, tmp_path):
    result = cli("watch", str(CLIP), "--out", str(tmp_path), "--mqtt", "http://broker/topic")
    assert result.returncode == 2 and "--mqtt" in result.stderr and "mqtt://HOST" in result.stderr
