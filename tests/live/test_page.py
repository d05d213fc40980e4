"""The page of ``watch --serve`` in a real browser: headless Chromium (tests/chromium.py)
opens the page of a watch of two files before it starts; the event appears without a
reload, a hostile file name shows as text, the screenshot is not blank, and the event's
clip plays in its ``<video>``. Skipped, with the reason, without Chromium (``make
browser-test-deps``), the serve extra, or (the clip) the clips extra."""

import threading

import cv2
import numpy as np
import pytest

import chromium
from convlstm_ae.live.clips import h264_missing
from convlstm_ae.live.sources import open_source
from convlstm_ae.scoring.located import LocatedDesign
from media import clip, located_model, write_avi

pytest.importorskip("starlette", reason="the page needs pip install 'convlstm-ae[serve]'")
pytest.importorskip("uvicorn", reason="the page needs pip install 'convlstm-ae[serve]'")
if chromium.available():
    pytest.skip(chromium.available(), allow_module_level=True)

HOSTILE = '<img src=x onerror="alert(1)">'


def count(selector):
    return f"document.querySelectorAll({selector!r}).length"


def test_an_event_appears_on_the_open_page_without_a_reload(tmp_path, paged_watch):
    files = [write_avi(tmp_path / f"{HOSTILE}.avi", clip()),  # noise at frames 12-19
             write_avi(tmp_path / "calm.avi", clip(20, noisy=(), seed=1))]
    paged = paged_watch(files)
    watch = paged.watch
    runner = threading.Thread(target=watch.run)
    try:
        with chromium.Chromium(tmp_path / "profile", 1280, 800) as browser:
            browser.open(paged.url)
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
            assert browser.evaluate(count("#events li video[src*='/clip.mp4']")) == 1
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
    image = cv2.imdecode(np.frombuffer(png, np.uint8), cv2.IMREAD_COLOR)
    assert image.shape == (800, 1280, 3)
    colours = np.unique(image.reshape(-1, 3), axis=0)
    assert len(colours) > 100 and image.std() > 10  # text, curves, frames: not blank
    (tmp_path / "page.png").write_bytes(png)


def test_a_camera_in_its_warm_up_says_so_on_the_page(tmp_path, media, paged_watch):
    """A located score whose running level remembers 1,000 frames: a file of 40 frames
    played at 10 fps is in its warm-up throughout, and the page says so."""
    model = located_model(media["model"], tmp_path / "model",
                          LocatedDesign(adapt="stream", stream_frames=1000),
                          [clip(20, noisy=(), seed=seed) for seed in range(2)])
    video = write_avi(tmp_path / "calm.avi", clip(40, noisy=(), seed=3))
    paged = paged_watch([open_source(str(video), 64, realtime=True)], scored_by=model)
    runner = threading.Thread(target=paged.watch.run)
    try:
        with chromium.Chromium(tmp_path / "profile", 1280, 800) as browser:
            browser.open(paged.url)
            browser.wait_for(f"{count('.camera')} === 1")
            runner.start()
            browser.wait_for("document.querySelector('.camera .badge') !== null && "
                             "document.querySelector('.camera .badge').textContent "
                             "=== 'warming up'")
            runner.join(timeout=60)
    finally:
        paged.watch.stop()
        runner.join(timeout=60)


def test_a_camera_faster_than_its_model_shows_the_frames_skipped_for_the_rate(tmp_path,
                                                                             paged_watch):
    """A 25-fps file scored at 10 fps: its status on the page counts the frames left out
    (30 of 50), apart from drops."""
    video = write_avi(tmp_path / "fast.avi", clip(50, noisy=()), fps=25)
    paged = paged_watch([open_source(str(video), 64, realtime=False, rate=10)])
    with chromium.Chromium(tmp_path / "profile", 1280, 800) as browser:
        browser.open(paged.url)
        browser.wait_for(f"{count('.camera')} === 1")
        paged.watch.run()
        browser.wait_for("document.querySelector('.camera .status').textContent"
                         ".includes('30 skipped for the frame rate')")
        assert "drops 0" in browser.evaluate("document.querySelector('.camera .status')"
                                             ".textContent")


def test_an_events_clip_plays_in_its_video_element(tmp_path, paged_watch):
    if h264_missing():
        pytest.skip(f"no clip a browser plays: {h264_missing()}")
    paged = paged_watch([write_avi(tmp_path / "a.avi", clip())])  # noise at frames 12-19
    paged.watch.run()
    with chromium.Chromium(tmp_path / "profile") as browser:
        browser.open(paged.url)
        browser.wait_for(f"{count('#events li video')} === 1")
        video = "document.querySelector('#events li video')"
        browser.wait_for(f"{video}.readyState >= 2 || {video}.error", timeout=30)
        error = browser.evaluate(f"{video}.error && {video}.error.code")
        assert error is None, f"the browser cannot play the clip (MediaError {error})"
        # frames 7-24 (0.5 s either side of the event) at 10 fps, at the model's size
        assert browser.evaluate(f"{video}.duration") == pytest.approx(1.8, abs=0.11)
        assert browser.evaluate(f"[{video}.videoWidth, {video}.videoHeight]") == [64, 64]
        played = browser.evaluate(f"{video}.play().then(() => new Promise(done => "
                                  f"setTimeout(() => done({video}.currentTime), 500)))")
        assert played > 0
