"""``watch --mqtt mqtt://[USER:PASS@]HOST[:PORT][/PREFIX]``: what watch sees, on an MQTT
broker (paho-mqtt, the ``mqtt`` extra), with the topic layout Frigate users know:

=========================  ===========================================  ========
topic                      payload                                      retained
=========================  ===========================================  ========
``PREFIX/available``       ``online``; ``offline`` at the end, or as    yes
                           the last will when watch dies
``PREFIX/CAMERA/status``   JSON: fps in and out, latency, drops,        yes
                           reconnects, score, alarm, frames, events;
                           at most once a second (:meth:`Sink.status`)
``PREFIX/CAMERA/alarm``    ``ON`` from an event's start to its end,     yes
                           else ``OFF``
``PREFIX/events``          each event record (``events.jsonl``'s line,  no
                           ``type`` start or end, the same ``id``)
=========================  ===========================================  ========

CAMERA is the source's file label (letters, digits, ``_.-``: never ``+ # /`` nor a
credential). Every message goes out at QoS 1. paho reconnects with backoff
(:data:`RECONNECT_DELAY`); meanwhile event messages wait in a queue of
:data:`QUEUED_EVENTS` (the oldest dropped and counted) and go out in order on
reconnection, after the availability, status and alarm of every camera are published
again (a broker restarted without persistence has lost them). One exception to the
order: a message paho had sent just as the connection died unnoticed is re-sent by paho
after the queue. The URL's credentials are never printed.
"""

from __future__ import annotations

import json
import logging
import os
import secrets
import threading
import time
import urllib.parse
from collections import deque
from dataclasses import dataclass, field

from convlstm_ae.errors import ConfigError
from convlstm_ae.live.outputs import Sink
from convlstm_ae.live.sources import redact

log = logging.getLogger(__name__)
DEFAULT_PREFIX = "convlstm_ae"
PORTS = {"mqtt": 1883, "mqtts": 8883}
QUEUED_EVENTS = 1000  # event messages held while the broker is away
RECONNECT_DELAY = (1, 30)  # seconds: paho's first reconnect delay, doubling to the second
KEEPALIVE = 30  # seconds between pings: how soon a silent broker is noticed
CLOSE_WAIT = 5.0  # seconds close() waits for queued messages to reach the broker


@dataclass(frozen=True)
class MqttTarget:
    """A broker and topic prefix, from :func:`mqtt_target`."""

    host: str
    port: int
    prefix: str
    tls: bool
    username: str | None = field(default=None, repr=False)
    password: str | None = field(default=None, repr=False)

    @property
    def name(self) -> str:
        """The broker as printed: no credentials."""
        return f"{'mqtts' if self.tls else 'mqtt'}://{self.host}:{self.port}/{self.prefix}"


def mqtt_target(url: str) -> MqttTarget:
    """``--mqtt``'s URL, checked, with paho-mqtt importable.

    Raises:
        ConfigError: a scheme other than mqtt:// or mqtts://, no host, a bad port, a
            prefix with ``+``, ``#`` or an empty level; paho-mqtt missing.
    """
    shown = f"--mqtt {redact(url)}"
    parts = urllib.parse.urlsplit(url)
    if parts.scheme not in PORTS or not parts.hostname:
        raise ConfigError(f"{shown}: expected mqtt://[USER:PASS@]HOST[:PORT][/PREFIX] "
                          "(or mqtts://)")
    try:
        port = PORTS[parts.scheme] if parts.port is None else parts.port
    except ValueError:
        port = 0
    if not 0 < port < 65536:
        raise ConfigError(f"{shown}: the port must be a number from 1 to 65535")
    prefix = urllib.parse.unquote(parts.path.strip("/")) or DEFAULT_PREFIX
    if any(c in prefix for c in "+#") or "" in prefix.split("/"):
        raise ConfigError(f"{shown}: the topic prefix {prefix!r} holds '+', '#' or an empty "
                          "level")
    try:
        import paho.mqtt.client  # noqa: F401
    except ModuleNotFoundError:
        raise ConfigError("--mqtt needs paho-mqtt: pip install 'convlstm-ae[mqtt]'") from None
    unquote = urllib.parse.unquote
    return MqttTarget(parts.hostname, port, prefix, parts.scheme == "mqtts",
                      unquote(parts.username) if parts.username else None,
                      unquote(parts.password) if parts.password else None)


class Mqtt(Sink):
    """Publishes watch's availability, status, alarms and events to ``target`` (see the
    module); connects in the background and never stops watch: a broker that is down
    or refuses is warned about once per outage while paho keeps retrying.

    Args:
        target: from :func:`mqtt_target`.
        queued: event messages held while the broker is away.
        reconnect_delay: paho's first and longest reconnect delay, in seconds.
    """

    def __init__(self, target: MqttTarget, queued: int = QUEUED_EVENTS,
                 reconnect_delay: tuple[int, int] = RECONNECT_DELAY) -> None:
        import paho.mqtt.client as paho

        self.target = target
        self.dropped = 0  # event messages dropped, the oldest first, while the broker was away
        self._paho = paho
        self._lock = threading.Lock()  # the state below; never taken in on_publish
        self._connected, self._warned = False, False
        self._pending: deque[tuple[str, str]] = deque()
        self._queued = queued
        self._status: dict[str, str] = {}  # camera -> its last status JSON
        self._alarm: dict[str, str] = {}  # camera -> ON / OFF
        self._published = self._acknowledged = 0
        client = paho.Client(paho.CallbackAPIVersion.VERSION2,
                             client_id=f"convlstm-ae-{os.getpid()}-{secrets.token_hex(3)}")
        if target.username is not None:
            client.username_pw_set(target.username, target.password)
        if target.tls:
            client.tls_set()
        client.will_set(self._topic("available"), "offline", qos=1, retain=True)
        client.reconnect_delay_set(*reconnect_delay)
        client.on_connect, client.on_disconnect = self._on_connect, self._on_disconnect
        client.on_connect_fail, client.on_publish = self._on_connect_fail, self._on_publish
        self._client = client
        client.connect_async(target.host, target.port, keepalive=KEEPALIVE)
        client.loop_start()

    def send(self, record: dict) -> None:
        """Queue the record on ``PREFIX/events`` and set the camera's alarm."""
        camera = record.get("camera") or "unknown"
        with self._lock:
            self._alarm[camera] = "ON" if record.get("type") == "start" else "OFF"
            if len(self._pending) >= self._queued:
                self._pending.popleft()
                self.dropped += 1
                log.warning("MQTT %s: broker away; %d oldest event message(s) dropped so "
                            "far (queue of %d)", self.target.name, self.dropped, self._queued)
            self._pending.append((self._topic("events"), json.dumps(record)))
            if self._connected:
                self._publish(self._topic(camera, "alarm"), self._alarm[camera])
                self._flush()

    def status(self, cameras: list[dict]) -> None:
        """Publish each camera's status (and, the first time, its alarm: OFF), retained."""
        with self._lock:
            for status in cameras:
                camera = status["camera"]
                self._status[camera] = json.dumps(status)
                new = camera not in self._alarm
                self._alarm.setdefault(camera, "OFF")
                if self._connected:
                    self._publish(self._topic(camera, "status"), self._status[camera])
                    if new:
                        self._publish(self._topic(camera, "alarm"), "OFF")

    def close(self, wait: float = CLOSE_WAIT) -> None:
        """Wait at most ``wait`` seconds for queued messages to reach the broker, publish
        ``offline``, and disconnect; what did not get through is warned about."""
        deadline = time.monotonic() + wait
        while time.monotonic() < deadline and not self._delivered():
            time.sleep(0.05)
        with self._lock:
            lost = len(self._pending) + self._published - self._acknowledged
        if lost:
            log.warning("MQTT %s: %d message(s) not delivered before the end", self.target.name,
                        lost)
        info = self._client.publish(self._topic("available"), "offline", qos=1, retain=True)
        if info.rc == self._paho.MQTT_ERR_SUCCESS:
            info.wait_for_publish(timeout=max(deadline - time.monotonic(), 0.5))
        self._client.disconnect()
        self._client.loop_stop()

    def _delivered(self) -> bool:
        with self._lock:
            return not self._pending and self._published == self._acknowledged

    def _topic(self, *levels: str) -> str:
        return "/".join((self.target.prefix, *levels))

    def _publish(self, topic: str, payload: str, retain: bool = True) -> None:
        """Hand one message to paho (the lock held), which keeps it until acknowledged."""
        info = self._client.publish(topic, payload, qos=1, retain=retain)
        self._published += 1
        if info.rc == self._paho.MQTT_ERR_NO_CONN:  # paho holds it for the reconnection
            self._connected = False

    def _flush(self) -> None:
        """Send the queued events in order while connected (the lock held)."""
        while self._connected and self._pending:
            self._publish(*self._pending.popleft(), retain=False)

    def _on_connect(self, client, userdata, flags, reason, properties) -> None:
        if reason.is_failure:
            self._warn(f"refused ({reason})")
            return
        with self._lock:
            self._connected, self._warned = True, False
            if self.dropped:
                log.warning("MQTT %s: connected; %d event message(s) were dropped while the "
                            "broker was away", self.target.name, self.dropped)
            self._publish(self._topic("available"), "online")
            for camera, status in self._status.items():
                self._publish(self._topic(camera, "status"), status)
            for camera, alarm in self._alarm.items():
                self._publish(self._topic(camera, "alarm"), alarm)
            self._flush()

    def _on_disconnect(self, client, userdata, flags, reason, properties) -> None:
        with self._lock:
            self._connected = False
        if reason.is_failure:
            self._warn(f"connection lost ({reason})")

    def _on_connect_fail(self, client, userdata) -> None:
        self._warn("unreachable")

    def _on_publish(self, client, userdata, mid, reason, properties) -> None:
        self._acknowledged += 1  # paho's thread only; called under paho's own lock

    def _warn(self, problem: str) -> None:
        """One warning per outage."""
        if not self._warned:
            self._warned = True
            log.warning("MQTT %s: broker %s; retrying in the background, events queued (at "
                        "most %d)", self.target.name, problem, self._queued)
