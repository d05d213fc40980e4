"""The page of ``watch --serve`` in a real browser: headless Chromium (tests/chromium.py)
opens the page of a watch of two files before it starts; the event appears without a
reload, a hostile file name shows as text, and the screenshot is not blank. Skipped, with
the reason, without Chromium (``make browser-test-deps``) or the serve extra."""

import threading

import cv2
import numpy as np
import pytest

import chromium
from convlstm_ae.live.clips import ClipRules
from convlstm_ae.live.engine import open_engine
from convlstm_ae.live.events import EventRules
from convlstm_ae.live.sources import open_source
from convlstm_ae.live.watch import Group, Watch, model_scoring
from media import clip, noise_calibrated, write_avi

pytest.importorskip("starlette", reason="the page needs pip install 'convlstm-ae[serve]'")
pytest.importorskip("uvicorn", reason="the page needs pip install 'convlstm-ae[serve]'")
if chromium.available():
    pytest.skip(chromium.available(), allow_module_level=True)

from convlstm_ae.live.serve import page_app  # noqa: E402
from convlstm_ae.live.server import PageServer, listen  # noqa: E402

HOSTILE = '<img src=x onerror="alert(1)">'


def count(selector):
    return f"document.querySelectorAll({selector!r}).length"


def test_an_event_appears_on_the_open_page_without_a_reload(tmp_path, release_tiny):
    model = noise_calibrated(release_tiny(tmp_path / "model", 4), 4)
    files = [write_avi(tmp_path / f"{HOSTILE}.avi", clip()),  # noise at frames 12-19
             write_avi(tmp_path / "calm.avi", clip(20, noisy=(), seed=1))]
    engine = open_engine(model, 2, device="cpu", maps=True)
    sources = [open_source(str(path), engine.frame_size, realtime=False) for path in files]
    scoring = model_scoring(model)
    watch = Watch([Group.of_all(engine, scoring)], sources, tmp_path / "out",
                  rules=EventRules(scoring.threshold), decoders=0, publish=True,
                  clips=ClipRules(0.5, 0.5))
    server = PageServer(page_app(watch.live_state), listen("127.0.0.1:0", None))
    server.start()
    runner = threading.Thread(target=watch.run)
    try:
        with chromium.Chromium(tmp_path / "profile", 1280, 800) as browser:
            browser.open(server.url)
            browser.wait_for(f"{count('.camera')} === 2 && "
                             "document.getElementById('state').textContent === 'running'")
            assert browser.evaluate(count("#events li")) == 0  # nothing scored yet
            runner.start()
            browser.wait_for(f"{count('#events li')} === 1")  # polled, no reload
            runner.join(timeout=60)
            browser.wait_for("document.getElementById('state').textContent"
                             ".includes('ended')")
            names = browser.evaluate(
                "[...document.querySelectorAll('.camera h2')].map(h => h.textContent)")
            assert names == [HOSTILE, "calm"]
            assert "&lt;img src=x" in browser.evaluate(
                "document.querySelector('.camera h2').innerHTML")
            assert browser.evaluate(count("img[onerror], img[src='x']")) == 0  # not HTML
            event = browser.evaluate("document.querySelector('#events li').textContent")
            assert event.startswith(f'{HOSTILE} · {HOSTILE}.avi') and "frames 12–19" in event
            assert "peak score" in event
            assert browser.evaluate(count("#events li a[href$='/clip.mp4']")) == 1
            browser.wait_for("document.querySelector('#events li img').naturalWidth === 64")
            points = browser.evaluate(
                "document.querySelector('.camera polyline.score').getAttribute('points')")
            assert len(points.split()) == 30  # every score of the file
            browser.wait_for("[...document.querySelectorAll('.camera img')]"
                             ".every(i => i.complete && i.naturalWidth >= 320)")
            png = browser.screenshot()
    finally:
        watch.stop()
        if runner.is_alive():
            runner.join(timeout=30)
        server.stop()
    image = cv2.imdecode(np.frombuffer(png, np.uint8), cv2.IMREAD_COLOR)
    assert image.shape == (800, 1280, 3)
    colours = np.unique(image.reshape(-1, 3), axis=0)
    assert len(colours) > 100 and image.std() > 10  # text, curves, frames: not blank
    (tmp_path / "page.png").write_bytes(png)
