"""Event clips of ``watch --clips`` (live/clips.py): the frames from --pre-seconds before an
event to --post-seconds after it, decoded back with OpenCV; named in both event records
and linked from the report; the overlay; bounded memory; one-line failures."""

import os
import re
import subprocess
import sys
from pathlib import Path

import cv2
import numpy as np
import pytest
from test_watch import read_jsonl

from convlstm_ae.live.clips import RING_FPS, ClipRules, Clips, h264_missing
from media import clip, write_avi, write_frames
from test_cli import assert_user_error, run_cli


def decode(path):
    capture = cv2.VideoCapture(str(path))
    frames = []
    while (frame := capture.read())[0]:
        frames.append(frame[1])
    return frames, capture.get(cv2.CAP_PROP_FPS)


def tag(record):
    """The random tag of an event record's id, which its snapshot and clip names end in."""
    return record["id"].rsplit("-", 1)[1]


def watch(media, out, *flags):
    code, printed, err = run_cli("watch", media["model"], media["video"], "--no-realtime",
                                 "--out", out, *flags)
    assert code == 0, err
    return printed, read_jsonl(out / "events.jsonl")


def test_a_clip_holds_the_pre_roll_the_event_and_the_post_roll(media, tmp_path):
    """a.avi: 30 frames at 10 fps, noise (the event) at frames 12-19."""
    printed, (start, end) = watch(media, tmp_path / "out", "--clips", "--pre-seconds", "0.5",
                                  "--post-seconds", "0.5")
    assert start["clip"] == end["clip"] == f"clips/a-a-000012-{tag(end)}.mp4"
    assert (end["start_frame"], end["end_frame"]) == (12, 19)
    frames, fps = decode(tmp_path / "out" / end["clip"])
    assert fps == 10 and len(frames) == 5 + 8 + 5  # frames 7-24
    assert frames[0].shape[:2] == (64, 64)  # the model's frame size
    noisy = [i for i, frame in enumerate(frames) if frame.std() > 20]
    assert noisy == list(range(5, 13))  # frames 12-19 of the video
    assert "event clips ->" in printed and "MB of frames kept" in printed
    assert not list((tmp_path / "out/clips").glob(".*"))  # no temporary left
    code, _, err = run_cli("report", tmp_path / "out", "-o", tmp_path / "report.html")
    assert code == 0, err
    assert f'<a href="out/{end["clip"]}">clip</a>' in (tmp_path / "report.html").read_text()


def test_the_default_five_seconds_are_bounded_by_the_video(media, tmp_path):
    _, (_, end) = watch(media, tmp_path / "out", "--clips")
    frames, _ = decode(tmp_path / "out" / end["clip"])
    assert len(frames) == 30  # 12 before the start, 10 after the end: the whole video


def test_a_clip_starts_no_earlier_than_its_video_in_a_folder(media, tmp_path):
    """The frame times of a folder's second video start again at 0: the first video's
    frames, later by their times, must not enter its pre-roll."""
    write_avi(tmp_path / "in/1.avi", clip(30, noisy=()))
    write_avi(tmp_path / "in/2.avi", clip())
    code, _, err = run_cli("watch", media["model"], tmp_path / "in", "--no-realtime", "--out",
                           tmp_path / "out", "--clips")
    assert code == 0, err
    _, end = read_jsonl(tmp_path / "out/events.jsonl")
    assert end["clip"] == f"clips/in-2-000012-{tag(end)}.mp4"
    frames, _ = decode(tmp_path / "out" / end["clip"])
    assert len(frames) == 30  # 2.avi whole, none of 1.avi


def test_without_clips_the_records_name_none(media, tmp_path):
    _, records = watch(media, tmp_path / "out")
    assert [r["clip"] for r in records] == [None, None]
    assert not (tmp_path / "out/clips").exists()


def test_the_clip_overlay_draws_the_heat_map(media, tmp_path):
    _, (_, end) = watch(media, tmp_path / "out", "--clip-overlay", "--pre-seconds", "0.5",
                        "--post-seconds", "0")
    frames, _ = decode(tmp_path / "out" / end["clip"])
    # no post-roll: the clip ends where the event's end became known, the fifth quiet
    # frame (--release-frames) after it, frame 24
    assert len(frames) == 5 + 8 + 4 and frames[0].shape == (320 + 48, 320, 3)
    colour = [np.abs(f[:320, :, 2].astype(int) - f[:320, :, 0]).mean() for f in frames]
    assert min(colour[7:13]) > 4 * max(colour[:5])  # noise under way is coloured


def codec(path):
    """The four-character code of a video's codec, as OpenCV reads it."""
    capture = cv2.VideoCapture(str(path))
    code = int(capture.get(cv2.CAP_PROP_FOURCC)).to_bytes(4, "little").decode()
    capture.release()
    return code


def test_clips_are_h264_which_browsers_play(media, tmp_path):
    if h264_missing():
        pytest.skip(h264_missing())
    code, _, err = run_cli("watch", media["model"], media["video"], "--no-realtime", "--out",
                           tmp_path / "out", "--clips")
    assert code == 0 and "browsers" not in err, err
    (clip_file,) = (tmp_path / "out/clips").iterdir()
    assert codec(clip_file) in ("avc1", "h264")


def test_without_pyav_clips_are_mp4v_with_one_warning(media, tmp_path, monkeypatch):
    monkeypatch.setitem(sys.modules, "av", None)  # as where the clips extra is missing
    code, _, err = run_cli("watch", media["model"], media["video"], "--no-realtime", "--out",
                           tmp_path / "out", "--clips")
    assert code == 0, err
    warned = [line for line in err.splitlines() if "clips" in line]
    assert warned == ["event clips are mp4v MP4s, which browsers do not play: PyAV is not "
                      "installed (pip install 'convlstm-ae[clips]')"]
    (clip_file,) = (tmp_path / "out/clips").iterdir()
    assert codec(clip_file) == "FMP4" and len(decode(clip_file)[0]) == 30


def test_the_ring_holds_pre_seconds_plus_one_at_thirty_frames_a_second():
    rules = ClipRules(pre_seconds=2.0)
    ring = Clips(["a", "b"], 64, rules)
    assert ring._frames.shape == (2, 3 * RING_FPS, 64, 64)
    assert ring._frames.nbytes == 2 * rules.ring_bytes(64)
    ring.close()


@pytest.mark.parametrize(("flags", "named"), [
    (["--clips", "--pre-seconds", "-1"], "--pre-seconds must lie in [0, 60]"),
    (["--clips", "--pre-seconds", "1e9"], "--pre-seconds must lie in [0, 60]"),
    (["--clips", "--post-seconds", "nan"], "--post-seconds must lie in"),
])
def test_bad_clip_flags_are_one_line_errors(media, tmp_path, flags, named):
    code, _, err = run_cli("watch", media["model"], media["video"], "--out", tmp_path / "out",
                           *flags)
    assert_user_error(code, err, named)


# a full disk: the clips folder an 8 kB tmpfs of a mount namespace of its own, where the
# clip (18 kB) does not fit; after watch, what the folder holds is printed
FULL_DISK = ('mount -t tmpfs -o size=8k full "$0" || exit 99; "$@"; code=$?; '
             'echo "left: $(ls -A "$0")"; exit $code')


def test_a_clip_that_cannot_be_written_is_one_line(media, tmp_path):
    if subprocess.run(["unshare", "-rm", "true"], capture_output=True).returncode:
        pytest.skip("no mount namespace for a full disk (unshare -rm)")
    clips = tmp_path / "out/clips"
    clips.mkdir(parents=True)
    paths = [str(Path(__file__).parents[2] / "src"), os.environ.get("PYTHONPATH", "")]
    process = subprocess.run(
        ["unshare", "-rm", "sh", "-c", FULL_DISK, str(clips), sys.executable, "-m",
         "convlstm_ae.cli", "watch", str(media["model"]), str(media["video"]),
         "--no-realtime", "--out", str(tmp_path / "out"), "--clips", "--device", "cpu"],
        env={**os.environ, "PYTHONPATH": os.pathsep.join(paths)}, capture_output=True,
        text=True, timeout=300)
    err = process.stderr
    errors = [line for line in err.splitlines() if line.startswith("convlstm-ae: error:")]
    assert process.returncode == 1 and "Traceback" not in err and len(errors) == 1, err
    assert re.search(r"clips/a-a-000012-[0-9a-f]{6}\.mp4: the clip could not be written",
                     errors[0])
    assert err.strip().splitlines()[-1] == errors[0]  # after the status lines
    assert process.stdout.splitlines()[-1] == "left: "  # nothing half-written
    assert len(read_jsonl(tmp_path / "out/events.jsonl")) == 2  # the rest was written


def test_events_of_the_same_frame_never_overwrite_each_others_files(media, tmp_path):
    """A folder holding the same clip twice under one stem (``cam.npy``, and ``cam/`` as
    PNG frames), watched twice into one output folder: four events, all at frame 12 of a
    video named ``cam``; each keeps its own snapshot and clip, none replaced."""
    frames = clip()
    write_frames(tmp_path / "in/cam", frames)
    np.save(tmp_path / "in/cam.npy", frames)
    for _ in range(2):
        code, _, err = run_cli("watch", media["model"], tmp_path / "in", "--no-realtime",
                               "--fps", "10", "--out", tmp_path / "out", "--clips",
                               "--post-seconds", "0.5")
        assert code == 0, err
    ends = [r for r in read_jsonl(tmp_path / "out/events.jsonl") if r["type"] == "end"]
    assert [(e["video"], e["start_frame"]) for e in ends] == [("cam", 12), ("cam.npy", 12)] * 2
    assert len({e["peak_frame"] for e in ends}) == 1  # the same frame: the same old name
    for kind, folder in (("snapshot", "snapshots"), ("clip", "clips")):
        names = [e[kind] for e in ends]
        assert len(set(names)) == 4, names
        assert sorted(p.name for p in (tmp_path / "out" / folder).iterdir()) == sorted(
            name.split("/")[1] for name in names)  # each there, nothing else (no temporary)
        for name, end in zip(names, ends, strict=True):
            assert re.fullmatch(rf"{folder}/in-cam-0000\d\d-{tag(end)}\.(png|mp4)", name)
    # each clip its own event's: frames 0-24 (the video's start to 0.5 s after the end)
    assert [len(decode(tmp_path / "out" / e["clip"])[0]) for e in ends] == [25] * 4
