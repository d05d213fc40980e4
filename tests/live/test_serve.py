"""The web page of ``watch --serve`` (live/serve.py, live/server.py, the CLI flags): a real
watch with the real engine on a file and a hostile-named stream, served by uvicorn on
127.0.0.1, queried over HTTP; the token, the escaping, the credentials, the bad flags, and
``watch --serve`` as a process that stays up after its sources end until Ctrl-C."""

import http.client
import json
import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path
from urllib.parse import urlsplit

import cv2
import numpy as np
import pytest
from test_watch import SECRET

from convlstm_ae.live.sources import IterableSource
from media import clip, write_avi
from test_cli import assert_user_error, ctrl_c_reaches_it, run_cli

pytest.importorskip("starlette", reason="the page needs pip install 'convlstm-ae[serve]'")
pytest.importorskip("uvicorn", reason="the page needs pip install 'convlstm-ae[serve]'")

from convlstm_ae.live.serve import label_value, page_app  # noqa: E402
from convlstm_ae.live.server import PageServer, listen  # noqa: E402

HOSTILE = f'<img src=x onerror="alert(1)">&amp;http://viewer:{SECRET}@cam.local/a?token={SECRET}'
SHOWN = '<img src=x onerror="alert(1)">&amp;http://***@cam.local/a?token=***'
TOKEN = "t0ken-for-the-page-0123456789"


def get(url, path, headers=None):
    """(status, headers, body) of GET ``path``; redirects are not followed."""
    parts = urlsplit(url)
    connection = http.client.HTTPConnection(parts.hostname, parts.port, timeout=10)
    try:
        connection.request("GET", path, headers=headers or {})
        response = connection.getresponse()
        return response.status, response.headers, response.read()
    finally:
        connection.close()


def get_json(url, path, headers=None):
    status, _, body = get(url, path, headers)
    assert status == 200, body
    return json.loads(body)


@pytest.fixture(scope="module")
def served(paged_watch, tmp_path_factory):
    """A finished watch of a file (noise at frames 12-19) and a stream with a hostile,
    credential-bearing name (noise from frame 20 to its end), and its page."""
    video = write_avi(tmp_path_factory.mktemp("serve") / "a.avi", clip())
    paged = paged_watch([video, IterableSource(HOSTILE, iter(clip(30, noisy=range(20, 30),
                                                                   seed=2)), 64)])
    paged.watch.run()
    return {"url": paged.url, "state": paged.watch.live_state, "model": paged.model,
            "video": video, "out": paged.out}


@pytest.fixture(scope="module")
def guarded(served):
    """The same state served with a token."""
    server = PageServer(page_app(served["state"], TOKEN), listen("127.0.0.1:0", TOKEN))
    server.start()
    yield server.url
    server.stop()


def test_the_api_gives_each_camera_its_status_score_curve_and_events(served):
    url = served["url"]
    cameras = get_json(url, "/api/cameras")["cameras"]
    assert cameras == [{"id": 0, "name": "a"}, {"id": 1, "name": SHOWN}]
    status = get_json(url, "/api/status")
    assert status["running"] is False and status["threshold"] == 3.0
    for camera in status["cameras"]:
        assert (camera["frames"], camera["events"], camera["drops"]) == (30, 1, 0)
        assert camera["finished"] and camera["fps_out"] == 0.0 and camera["latency_ms"] >= 0
    assert not any(c["alarm"] for c in status["cameras"])  # the open event closed at the end
    curve = get_json(url, "/api/cameras/0/scores")
    assert curve["threshold"] == 3.0 and len(curve["scores"]) == 30
    alarmed = [i for i, score in enumerate(curve["scores"]) if score > 3.0]
    assert alarmed == list(range(12, 20))  # as frames-a.csv's alarm column
    events = get_json(url, "/api/events")["events"]
    assert [(e["id"], e["source"]) for e in events] == [(2, SHOWN), (1, "a")]  # newest first
    assert (events[1]["start_frame"], events[1]["end_frame"], events[1]["frames"]) == (12, 19, 8)
    assert events[1]["duration_s"] == pytest.approx(0.7) and events[1]["peak_score"] > 3
    assert [e["id"] for e in get_json(url, "/api/events?since=1")["events"]] == [2]
    assert get_json(url, "/api/events?since=2")["events"] == []
    written = [json.loads(line) for line in
               (served["out"] / "events.jsonl").read_text().splitlines()]
    ends = {e["id"]: e for e in written if e["type"] == "end"}  # the end records are shown
    assert sorted(e["event_id"] for e in events) == sorted(ends)
    for event in events:
        assert (event["peak_frame"], event["clip"]) == (ends[event["event_id"]]["peak_frame"],
                                                        ends[event["event_id"]]["clip"])


def test_pictures_show_the_latest_frame_and_snapshots_the_peak_frame(served):
    url = served["url"]
    images = []
    for camera in (0, 1):
        status, headers, body = get(url, f"/api/cameras/{camera}/frame.jpg")
        assert status == 200 and headers["content-type"] == "image/jpeg"
        images.append(cv2.imdecode(np.frombuffer(body, np.uint8), cv2.IMREAD_COLOR))
    assert min(images[0].shape[:2]) >= 320  # upscaled as in the overlay
    # the last frame of each: 0 ended flat gray, 1 in noise (the heat's colours: the
    # live state's test; this toy calibration's colour scale leaves them faint)
    assert images[0].std() < 5 and images[1].std() > 20
    status, headers, body = get(url, "/api/events/1/snapshot.png")
    assert status == 200 and headers["content-type"] == "image/png"
    snapshot = cv2.imdecode(np.frombuffer(body, np.uint8), cv2.IMREAD_UNCHANGED)
    assert snapshot.shape == (64, 64) and snapshot.std() > 20  # a noise frame


def test_an_events_clip_is_served_as_the_mp4_watch_wrote(served):
    url = served["url"]
    event = get_json(url, "/api/events?since=0")["events"][-1]  # the file's event
    status, headers, body = get(url, f"/api/events/{event['id']}/clip.mp4")
    assert status == 200 and headers["content-type"] == "video/mp4"
    assert body == (served["out"] / event["clip"]).read_bytes()
    assert get(url, "/api/events/9/clip.mp4")[0] == 404


def test_metrics_are_prometheus_text_with_escaped_camera_labels(served):
    status, headers, body = get(served["url"], "/metrics")
    assert status == 200 and headers["content-type"].startswith("text/plain; version=0.0.4")
    lines = body.decode().splitlines()
    label = SHOWN.replace('"', '\\"')
    for camera in ("a", label):
        for metric, value in (("frames_total", "30"), ("events_total", "1"),
                              ("drops_total", "0"), ("reconnects_total", "0")):
            assert f'convlstm_ae_{metric}{{camera="{camera}"}} {value}' in lines
        assert any(line.startswith(f'convlstm_ae_latency_seconds{{camera="{camera}"}} ')
                   for line in lines)
    assert "# TYPE convlstm_ae_frames_total counter" in lines
    assert label_value('a\\b"c\nd') == 'a\\\\b\\"c\\nd'


def test_no_response_holds_a_credential_and_wrong_requests_get_a_4xx(served):
    url = served["url"]
    for path in ("/", "/page.js", "/page.css", "/api/cameras", "/api/status", "/api/events",
                 "/api/cameras/1/scores", "/metrics"):
        status, headers, body = get(url, path)
        assert status == 200, path
        assert SECRET not in body.decode(), path
        assert headers["x-content-type-options"] == "nosniff"
        assert "default-src 'self'" in headers["content-security-policy"]
    page = get(url, "/")[2].decode()
    assert "innerHTML" not in get(url, "/page.js")[2].decode()  # names go in as text
    assert "http" not in page.replace("http-equiv", "")  # nothing loaded from elsewhere
    assert get(url, "/api/cameras/2/frame.jpg")[0] == 404
    assert get(url, "/api/events/9/snapshot.png")[0] == 404
    assert get(url, "/api/events?since=abc")[0] == 400
    # a loopback page without a token answers loopback host names only (DNS rebinding)
    assert get(url, "/api/status", {"Host": "evil.example"})[0] == 400
    assert get(url, "/api/status", {"Host": "localhost"})[0] == 200


def test_with_a_token_every_request_without_it_gets_401(guarded):
    for path in ("/", "/api/status", "/api/events", "/api/cameras/0/frame.jpg", "/metrics"):
        assert get(guarded, path)[0] == 401, path
        assert get(guarded, path, {"Authorization": "Bearer wrong-token-0123456789"})[0] == 401
        assert get(guarded, path, {"Authorization": TOKEN})[0] == 401  # no "Bearer "
        assert get(guarded, path, {"Authorization": f"Bearer {TOKEN}"})[0] == 200, path
    assert get(guarded, f"/api/status?token={TOKEN}")[0] == 200
    # the browser: /?token= sets a cookie and drops the token from the address
    status, headers, _ = get(guarded, f"/?token={TOKEN}")
    assert status == 303 and headers["location"] == "/"
    cookie = headers["set-cookie"]
    assert "HttpOnly" in cookie and "SameSite=strict" in cookie
    assert get(guarded, "/api/status", {"Cookie": cookie.split(";")[0]})[0] == 200
    assert get(guarded, "/?token=wrong")[0] == 401
    assert get(guarded, "/api/status", {"Host": "evil.example",  # a token beats rebinding
                                        "Authorization": f"Bearer {TOKEN}"})[0] == 200


def busy_port():
    holder = socket.socket()
    holder.bind(("127.0.0.1", 0))
    holder.listen()
    return holder


@pytest.mark.parametrize(("flags", "named"), [
    (["--serve", "127.0.0.1"], "--serve '127.0.0.1': expected HOST:PORT"),
    (["--serve", "127.0.0.1:99999"], "expected HOST:PORT"),
    (["--serve", ":8080"], "expected HOST:PORT"),
    (["--serve", "999.1.1.1:8080"], "--serve 999.1.1.1:8080: cannot resolve the host"),
    (["--serve", "0.0.0.0:0"], "needs --serve-token or --serve-token-file"),
    (["--serve", "192.0.2.1:8080", "--serve-token", TOKEN], "cannot listen there"),
    (["--serve", "127.0.0.1:0", "--serve-token", "short"], "at least 16 printable ASCII"),
    (["--serve", "127.0.0.1:0", "--serve-token", TOKEN, "--serve-token-file", "t"],
     "not both"),
    (["--serve", "127.0.0.1:0", "--serve-token-file", "missing-file"],
     "--serve-token-file missing-file: cannot read the token"),
    (["--serve-token", TOKEN], "need --serve HOST:PORT"),
])
def test_bad_serve_flags_are_one_line_errors_before_any_work(served, tmp_path, flags, named):
    code, _, err = run_cli("watch", served["model"], served["video"], "--out", tmp_path / "out",
                           *flags)
    assert_user_error(code, err, named)
    assert TOKEN not in err
    assert not list((tmp_path / "out").glob("frames-*.csv"))


def test_a_port_in_use_and_a_missing_extra_are_one_line_errors(served, tmp_path, monkeypatch):
    with busy_port() as holder:
        port = holder.getsockname()[1]
        code, _, err = run_cli("watch", served["model"], served["video"], "--out",
                               tmp_path / "out", "--serve", f"127.0.0.1:{port}")
    assert_user_error(code, err, f"--serve 127.0.0.1:{port}: cannot listen there (Address "
                      "already in use)")
    import convlstm_ae.live

    monkeypatch.setitem(sys.modules, "starlette", None)  # as where the extra is missing
    monkeypatch.setitem(sys.modules, "uvicorn", None)
    monkeypatch.delitem(sys.modules, "convlstm_ae.live.server")
    monkeypatch.delattr(convlstm_ae.live, "server")
    code, _, err = run_cli("watch", served["model"], served["video"], "--out",
                           tmp_path / "out", "--serve", "127.0.0.1:0")
    assert_user_error(code, err, "--serve needs uvicorn", "pip install 'convlstm-ae[serve]'")


def test_watch_serve_stays_up_after_the_sources_end_until_ctrl_c(served, tmp_path):
    token_file = tmp_path / "token"
    token_file.write_text(TOKEN + "\n")
    second = write_avi(tmp_path / "b.avi", clip(20, noisy=(), seed=1))
    env = {**os.environ, "PYTHONPATH": str(Path(__file__).parents[2] / "src")}
    process = subprocess.Popen(
        [sys.executable, "-m", "convlstm_ae.cli", "watch", str(served["model"]),
         str(served["video"]), str(second), "--no-realtime", "--out", str(tmp_path / "out"),
         "--device", "cpu", "--serve", "127.0.0.1:0", "--serve-token-file", str(token_file)],
        env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
        preexec_fn=ctrl_c_reaches_it)
    try:
        lines = []
        while not (lines and lines[-1].startswith("the sources ended")):
            line = process.stdout.readline()
            assert line, f"watch ended early: {lines} {process.stderr.read()}"
            lines.append(line.strip())
        (page,) = [line.split()[2] for line in lines if line.startswith("page -> ")]
        assert TOKEN not in "\n".join(lines)
        assert get(page, "/api/status")[0] == 401
        status = get_json(page, "/api/status", {"Authorization": f"Bearer {TOKEN}"})
        assert [(c["name"], c["frames"]) for c in status["cameras"]] == [("a", 30), ("b", 20)]
        events = get_json(page, "/api/events", {"Authorization": f"Bearer {TOKEN}"})["events"]
        assert [e["source"] for e in events] == ["a"]
        time.sleep(0.5)
        assert process.poll() is None  # still serving
        process.send_signal(signal.SIGINT)
        out, err = process.communicate(timeout=30)
    finally:
        if process.poll() is None:
            process.kill()
            process.communicate()
    assert process.returncode == 0, err
    assert "Traceback" not in err
    with pytest.raises(OSError):  # the port is closed
        get(page, "/api/status")
