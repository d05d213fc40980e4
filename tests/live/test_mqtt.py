"""``watch --mqtt`` (live/mqtt.py) against a real Mosquitto broker started on 127.0.0.1:
availability, status, alarms and event starts and ends; a broker down at the start; a
broker restarted mid-run losing no event. Skips where Debian's ``mosquitto`` is missing
(``make mqtt-test-deps`` installs it)."""

import json
import logging
import os
import pwd
import shutil
import socket
import subprocess
import sys
import threading
import time
from pathlib import Path

import numpy as np
import pytest
from test_watch import SECRET, read_jsonl, wait_for

from convlstm_ae.live.engine import open_engine
from convlstm_ae.live.events import EventRules
from convlstm_ae.live.models import Group, model_scoring
from convlstm_ae.live.mqtt import DEFAULT_PREFIX, Mqtt, mqtt_target
from convlstm_ae.live.sources import open_source
from convlstm_ae.live.watch import Watch
from media import clip, write_avi
from test_cli import assert_user_error, run_cli

paho = pytest.importorskip("paho.mqtt.client", reason="paho-mqtt missing: pip install "
                           "'convlstm-ae[mqtt]'")
MOSQUITTO = shutil.which("mosquitto") or next(
    (p for p in ("/usr/sbin/mosquitto",) if Path(p).is_file()), None)
needs_broker = pytest.mark.skipif(MOSQUITTO is None, reason="no mosquitto broker installed "
                                  "(Debian: apt-get install mosquitto, or make mqtt-test-deps)")
MOSQUITTO_PASSWD = shutil.which("mosquitto_passwd") or next(
    (p for p in ("/usr/bin/mosquitto_passwd",) if Path(p).is_file()), None)


def free_port():
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


class Broker:
    """Mosquitto on 127.0.0.1 at ``port``, stopped and started again at will; with
    ``persistence`` it keeps sessions (and their queued messages) across a restart."""

    def __init__(self, folder, persistence=False, password_file=None):
        self.port = free_port()
        self.config = folder / "mosquitto.conf"
        lines = [f"listener {self.port} 127.0.0.1",
                 f"allow_anonymous {str(password_file is None).lower()}",
                 f"persistence {str(persistence).lower()}"]
        if persistence:
            lines.append(f"persistence_location {folder}/")
        if password_file is not None:  # read as this user (root would drop to mosquitto's,
            # who cannot enter pytest's private temporary folders)
            lines += [f"password_file {password_file}",
                      f"user {pwd.getpwuid(os.geteuid()).pw_name}"]
        self.config.write_text("\n".join(lines) + "\n")
        self.process = None
        self.start()

    def start(self):
        self.process = subprocess.Popen([MOSQUITTO, "-c", str(self.config)],
                                        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        deadline = time.monotonic() + 10
        while True:
            try:
                socket.create_connection(("127.0.0.1", self.port), timeout=0.2).close()
                return
            except OSError:
                assert self.process.poll() is None, "mosquitto exited"
                assert time.monotonic() < deadline, "mosquitto did not listen"
                time.sleep(0.05)

    def stop(self):
        self.process.terminate()
        self.process.wait(timeout=10)


@pytest.fixture
def broker(tmp_path):
    broker = Broker(tmp_path)
    yield broker
    broker.stop()


class Subscriber:
    """A paho client recording every message under ``prefix`` as (topic, payload,
    retained); ``persistent``: a session the broker keeps (QoS 1) while it is away."""

    def __init__(self, port, prefix, persistent=False):
        self.messages, self.prefix = [], prefix
        self.client = paho.Client(paho.CallbackAPIVersion.VERSION2,
                                  client_id="test-subscriber" if persistent else "",
                                  clean_session=not persistent)
        self.client.reconnect_delay_set(1, 1)
        self.client.on_connect = lambda c, *_: c.subscribe(f"{prefix}/#", qos=1)
        self.client.on_message = lambda c, u, m: self.messages.append(
            (m.topic, m.payload.decode(), bool(m.retain)))
        self.client.connect("127.0.0.1", port)
        self.client.loop_start()

    def payloads(self, topic):
        return [payload for t, payload, _ in self.messages if t == f"{self.prefix}/{topic}"]

    def events(self):
        return [json.loads(payload) for payload in self.payloads("events")]

    def close(self):
        self.client.disconnect()
        self.client.loop_stop()


@pytest.mark.parametrize(("url", "named"), [
    ("http://127.0.0.1:1883/x", "expected mqtt://"),
    ("mqtt:///prefix", "expected mqtt://"),
    ("mqtt://host:99999/x", "port must be a number"),
    ("mqtt://host:abc/x", "port must be a number"),
    ("mqtt://host/a/+/b", "holds '+', '#'"),
    ("mqtt://host/a//b", "empty level"),
    (f"ftp://user:{SECRET}@host/x", "--mqtt ftp://***@host/x"),
    (f"mqtt://user:{SECRET}@host:0/x", "--mqtt mqtt://***@host:0/x"),
])
def test_a_bad_mqtt_url_is_one_line_naming_the_flag(media, tmp_path, url, named):
    code, _, err = run_cli("watch", media["model"], media["video"], "--no-realtime", "--out",
                           tmp_path / "out", "--mqtt", url)
    assert_user_error(code, err, "--mqtt", named)
    assert SECRET not in err
    assert not list((tmp_path / "out").glob("frames-*.csv"))  # nothing was scored


def test_mqtt_urls_default_port_and_prefix_and_hide_credentials():
    target = mqtt_target(f"mqtt://cam%40home:{SECRET}@broker.lan")
    assert (target.host, target.port, target.prefix) == ("broker.lan", 1883, DEFAULT_PREFIX)
    assert (target.username, target.password) == ("cam@home", SECRET)
    assert SECRET not in repr(target) and SECRET not in target.name
    assert mqtt_target("mqtts://h:8884/site/cams").name == "mqtts://h:8884/site/cams"


def test_without_paho_the_error_names_the_extra(media, tmp_path, monkeypatch):
    monkeypatch.setitem(sys.modules, "paho.mqtt.client", None)  # as if not installed
    code, _, err = run_cli("watch", media["model"], media["video"], "--out", tmp_path / "out",
                           "--mqtt", "mqtt://127.0.0.1/x")
    assert_user_error(code, err, "--mqtt", "pip install 'convlstm-ae[mqtt]'")


@needs_broker
def test_watch_publishes_availability_status_alarms_and_event_starts_and_ends(
        media, tmp_path, broker, caplog):
    """The clip plays in real time (3 s at 10 fps): statuses come once a second."""
    live = Subscriber(broker.port, "site/cams")
    wait_for(lambda: live.client.is_connected(), timeout=10)
    with caplog.at_level(logging.INFO):
        code, out, err = run_cli(
            "watch", media["model"], f"front.door={media['video']}", "--out",
            tmp_path / "out", "--mqtt", f"mqtt://user:{SECRET}@127.0.0.1:{broker.port}/site/cams")
    assert code == 0, err
    assert SECRET not in out + err + caplog.text
    written = read_jsonl(tmp_path / "out/events.jsonl")
    camera = written[0]["camera"]
    assert camera == "front.door"
    wait_for(lambda: len(live.events()) == 2, timeout=10)
    start, end = live.events()
    assert (start["type"], end["type"]) == ("start", "end") and start["id"] == end["id"]
    assert [start, end] == written  # as events.jsonl has them
    assert live.payloads("available")[0] == "online"
    assert live.payloads(f"{camera}/alarm") == ["OFF", "ON", "OFF"]
    statuses = [json.loads(p) for p in live.payloads(f"{camera}/status")]
    assert statuses and statuses[-1]["camera"] == camera
    assert {"fps_in", "fps_out", "latency_ms", "drops", "reconnects", "alarm"} <= set(statuses[0])
    live.close()
    late = Subscriber(broker.port, "site/cams")  # what the broker kept: retained, latest
    wait_for(lambda: len(late.messages) >= 3, timeout=10)
    retained = {t: p for t, p, kept in late.messages if kept}
    assert retained["site/cams/available"] == "offline"
    assert retained[f"site/cams/{camera}/alarm"] == "OFF"
    assert json.loads(retained[f"site/cams/{camera}/status"])["camera"] == camera
    assert not late.events()  # events are not retained
    late.close()


def test_a_broker_down_at_the_start_is_one_warning_and_watch_runs_on(media, tmp_path):
    code, out, err = run_cli("watch", media["model"], media["video"], "--no-realtime", "--out",
                             tmp_path / "out", "--mqtt", f"mqtt://127.0.0.1:{free_port()}/x")
    assert code == 0, err
    assert "30 frames scored, 1 event(s)" in out
    assert err.count("broker unreachable; retrying in the background") == 1, err
    assert "2 message(s) not delivered before the end" in err


@needs_broker
def test_a_broker_restarted_mid_run_loses_no_event(media, tmp_path, caplog):
    """Noise bursts every 2 s of a 12-s clip played in real time; the broker is down for
    3 s from the first event's end on, while at least one more event happens."""
    frames = clip(120, noisy=[i for start in range(10, 120, 20) for i in range(start, start + 6)])
    video = write_avi(tmp_path / "bursts.avi", frames)
    broker = Broker(tmp_path, persistence=True)  # keeps the subscriber's session
    live = Subscriber(broker.port, "cams", persistent=True)
    # the subscriber (1 s) is back before watch (3 s), as a home server that never leaves:
    # what is tested is watch's queue, not the broker's store for an absent subscriber,
    # whose session missed QoS-1 messages the broker had acknowledged to watch in about
    # 1 run of 6 here
    sink = Mqtt(mqtt_target(f"mqtt://127.0.0.1:{broker.port}/cams"), reconnect_delay=(3, 3))
    group = Group.of_all(open_engine(media["model"], 1, device="cpu"),
                         model_scoring(media["model"]))
    watch = Watch([group], [open_source(str(video), 64)], tmp_path / "out",
                  rules=EventRules(3.0), sinks=[sink])
    runner = threading.Thread(target=watch.run)
    # the sink's warnings, also where an earlier run_cli stopped its logger propagating
    warnings = logging.getLogger("convlstm_ae.live.mqtt")
    warnings.addHandler(caplog.handler)
    runner.start()
    events = tmp_path / "out/events.jsonl"
    try:
        wait_for(lambda: any(e["type"] == "end" for e in live.events()), timeout=30)
        broker.stop()
        written_while_down = len(read_jsonl(events))
        time.sleep(3)
        written_while_down = len(read_jsonl(events)) - written_while_down
        broker.start()
        runner.join(timeout=60)
        assert not runner.is_alive()
        written = read_jsonl(events)
        wait_for(lambda: len(live.events()) >= len(written), timeout=20)
    finally:
        watch.stop()
        runner.join(timeout=30)
        live.close()
        broker.stop()
        warnings.removeHandler(caplog.handler)
    assert written_while_down >= 1  # records that happened while the broker was away
    assert len(written) >= 8 and sink.dropped == 0
    assert "broker connection lost" in caplog.text  # the outage was seen
    # the broker acknowledged every message by the end: the sink's close warns otherwise
    # ("N message(s) not delivered before the end", as where the broker is down)
    assert "not delivered" not in caplog.text
    received = live.events()
    assert sorted(json.dumps(e) for e in received) == sorted(json.dumps(e) for e in written)
    for record in written:  # each id: its start, then its end
        kinds = [e["type"] for e in received if e["id"] == record["id"]]
        assert kinds == ["start", "end"]
    assert np.all(np.diff([e["start_frame"] for e in received if e["type"] == "start"]) > 0)


@needs_broker
@pytest.mark.skipif(MOSQUITTO_PASSWD is None, reason="no mosquitto_passwd to write the "
                    "broker's password file (Debian: apt-get install mosquitto)")
@pytest.mark.parametrize("credentials", ["", f"watch:{SECRET}@"], ids=["none", "wrong"])
def test_a_broker_refusing_the_connection_is_one_warning_and_every_camera_runs_on(
        media, tmp_path, credentials):
    """Mosquitto with a password file and no anonymous clients; watch connects without
    credentials or with a wrong password: as for a failing webhook, the sink is
    degraded, never the scoring (exit 0)."""
    passwords = tmp_path / "passwords"
    subprocess.run([MOSQUITTO_PASSWD, "-b", "-c", str(passwords), "watch", "right-one"],
                   check=True, capture_output=True)
    broker = Broker(tmp_path, password_file=passwords)
    try:
        code, out, err = run_cli(
            "watch", media["model"], f"door={media['video']}", f"yard={media['folder']}",
            "--no-realtime", "--out", tmp_path / "out",
            "--mqtt", f"mqtt://{credentials}127.0.0.1:{broker.port}/cams")
        assert broker.process.poll() is None  # it refused; it was there all along
    finally:
        broker.stop()
    assert code == 0, err
    assert "door: 30 frames scored, 1 event(s)" in out
    assert "yard: 50 frames scored, 1 event(s)" in out  # a.avi, then b.avi (20 frames)
    assert err.count("broker refused") == 1, err  # one warning, however many retries
    assert (f"MQTT mqtt://127.0.0.1:{broker.port}/cams: broker refused (Not authorized); "
            "retrying in the background") in err
    assert "Traceback" not in err and SECRET not in out + err
    assert "watch:" not in err  # no user name either
    assert len(read_jsonl(tmp_path / "out/events.jsonl")) == 4  # both cameras' events
