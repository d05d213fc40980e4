"""Dataset layouts: one parser per benchmark folder tree, all returning the same records.

Each parser turns a folder into a :class:`~convlstm_ae.data.records.Dataset` of
:class:`~convlstm_ae.data.records.VideoRecord` (a video file or frame folder, the frames
used from it, per-frame 0/1 labels for labelled test videos). Reading frames, sampling
clips and batching are shared and live elsewhere.

Layouts, in the order :func:`open_dataset` tries them:

* ``ucsd``: the original UCSD Anomaly Dataset v1p2 (Mahadevan et al., CVPR 2010).
* ``frames``: the ano_pred / MNAD frame distribution of Ped1, Ped2, Avenue, ShanghaiTech.
* ``shanghaitech``: ShanghaiTech Campus (Luo et al., ICCV 2017).
* ``avenue``: CUHK Avenue (Lu et al., ICCV 2013).
* ``subway``: Subway entrance / exit (Adam et al., TPAMI 2008), split by time.
* ``folder``: your own footage, all of it training video.

Each parser finds its label file; ``labels.py`` reads it: 1 marks an abnormal frame, 0
a normal one.
"""

from __future__ import annotations

import dataclasses
from pathlib import Path

from convlstm_ae.config import dataset_t_prime
from convlstm_ae.data.labels import read_labels, read_subway_labels
from convlstm_ae.data.records import Dataset, VideoRecord
from convlstm_ae.data.video_io import (
    VIDEO_SUFFIXES,
    image_files,
    list_videos,
    read_header,
    read_image,
)
from convlstm_ae.errors import ConfigError, DatasetLayoutError

LAYOUTS = ("ucsd", "frames", "shanghaitech", "avenue", "subway", "folder")  # detection order
DEFAULT_FPS = 25.0
UCSD_FPS = 10.0
SHANGHAITECH_FPS = 24.0
# Frame rate of the ano_pred / MNAD frame distributions, told apart by frame size (W, H).
FRAMES_FPS = {(238, 158): UCSD_FPS, (360, 240): UCSD_FPS, (640, 360): 25.0, (856, 480): 24.0}
# Subway: the first minutes of each scene are the training video (as in Hasan et al. [9]).
SUBWAY_TRAIN_MINUTES = {"entrance": 20.0, "exit": 10.0}
SUBWAY_OTHER_TRAIN_MINUTES = 15.0

EXPECTED = {
    "ucsd": "the UCSD layout Train/Train001/001.tif, Test/Test001/001.tif",
    "frames": "the frames layout training/frames/01/000.jpg, testing/frames/01/000.jpg",
    "shanghaitech": "the ShanghaiTech layout training/videos/01_001.avi, "
                    "testing/frames/01_0014/000.jpg",
    "avenue": "the Avenue layout training_videos/01.avi, testing_videos/01.avi",
    "subway": "the Subway layout: one video, e.g. subway_entrance_turnstiles.AVI, "
              "and <stem>_labels.txt or <stem>_labels.json",
    "folder": "a folder of videos or of frame folders",
}


def open_dataset(
    root: str | Path, *, layout: str | None = None, labels: str | Path | None = None
) -> Dataset:
    """Detect the layout of ``root`` (or take ``layout``) and parse it.

    Args:
        root: the dataset folder.
        layout: one of :data:`LAYOUTS`; None detects it.
        labels: a label file or folder (see :func:`read_labels`) to use instead of the
            one the layout names.
    Raises:
        DatasetLayoutError: ``root`` is not laid out as expected, a label file is
            unreadable, or a frame folder's label count differs from its image count.
        ConfigError: an unknown layout name.
    """
    dataset, problems = scan_dataset(root, layout=layout, labels=labels)
    if problems:
        more = f" (and {len(problems) - 1} more)" if len(problems) > 1 else ""
        raise DatasetLayoutError(problems[0] + more)
    return dataset


def scan_dataset(
    root: str | Path, *, layout: str | None = None, labels: str | Path | None = None
) -> tuple[Dataset, list[str]]:
    """:func:`open_dataset`, but label problems come back as lines instead of raising.

    A label problem is an unreadable label file (then no test video is labelled) or a
    frame folder whose label count differs from its image count (its labels are kept).

    Returns:
        The dataset and the label problems, one line each, path first.
    Raises:
        DatasetLayoutError: ``root`` is not laid out as expected.
        ConfigError: an unknown layout name.
    """
    root = Path(root)
    if layout is not None and layout not in LAYOUTS:
        raise ConfigError(f"unknown dataset layout {layout!r}; expected one of "
                          f"{', '.join(LAYOUTS)}")
    if not root.is_dir():
        raise DatasetLayoutError(f"{root}: no such folder; expected a dataset folder")
    layout = layout or detect_layout(root)
    label_path = None if labels is None else Path(labels)
    dataset, problems = _PARSERS[layout](root, label_path)
    for record in dataset.test:
        if record.labels is not None and record.source.is_dir():
            frames = len(image_files(record.source))
            if len(record.labels) != frames:
                problems.append(f"{record.source}: {len(record.labels)} labels but {frames} frames")
    return dataset, problems


def detect_layout(root: Path) -> str:
    """The first of :data:`LAYOUTS` whose folders ``root`` holds; ``"folder"`` otherwise."""
    if (root / "Train").is_dir() and (root / "Test").is_dir():
        return "ucsd"
    if (root / "training" / "frames").is_dir() and (root / "testing" / "frames").is_dir():
        return "frames"
    if (root / "training" / "videos").is_dir() and (root / "testing" / "frames").is_dir():
        return "shanghaitech"
    if (root / "training_videos").is_dir() and (root / "testing_videos").is_dir():
        return "avenue"
    videos = _video_files(root)
    if len(videos) == 1 and _subway_label_file(videos[0]) is not None:
        return "subway"
    return "folder"


# ---------------------------------------------------------------------------------------
# Layout parsers: (root, label file or None) -> (Dataset, label problems)


def _parse_ucsd(root: Path, labels: Path | None) -> tuple[Dataset, list[str]]:
    """UCSD Anomaly Dataset v1p2 (Mahadevan et al., "Anomaly Detection in Crowded Scenes",
    CVPR 2010), 10 fps::

        UCSDped2/                       (or UCSDped1/)
          Train/Train001/001.tif ...
          Test/Test001/001.tif ...
          Test/Test001_gt/001.bmp ...   pixel masks of some test clips (not videos)
          Test/UCSDped2.m               TestVideoFile{end+1}.gt_frame = [61:180];

    Labels: ``Test/*.m`` (frame ranges, 1-based inclusive, one line per clip in order);
    without it, frame abnormal iff its ``_gt`` mask is non-empty.
    """
    train = _records(_clip_folders(root / "Train", "ucsd"))
    test = _records(_clip_folders(root / "Test", "ucsd"))
    tests = root / "Test"
    found = sorted(p for p in tests.glob("*.m") if not p.name.startswith("."))
    if not found and any(p.is_dir() and p.name.endswith("_gt") for p in tests.iterdir()):
        found = [tests]
    return _labelled("ucsd", root, train, test, labels or _first(found + _generic_labels(root)),
                     fps=UCSD_FPS)


def _parse_frames(root: Path, labels: Path | None) -> tuple[Dataset, list[str]]:
    """The ano_pred (Liu et al., CVPR 2018) / MNAD frame distribution of UCSD Ped1, Ped2,
    CUHK Avenue and ShanghaiTech::

        ucsd_ped2/
          training/frames/01/000.jpg ...
          testing/frames/01/000.jpg ...
          labels.json                          {"01": [0, 0, 1, ...], ...}
          original_labels/ped2.mat             gt{1,k} = [starts; ends], 1-based inclusive
          original_labels/frame_labels_ped2.npy   (1, total): test clips concatenated

    Labels: the first found of ``labels.json``, a ``*.mat`` holding ``gt``, a
    ``frame_labels_*.npy``, a UCSD ``*.m``, in ``root`` or ``root/original_labels``.
    Frame rate from the frame size: 10 for UCSD, 25 for Avenue, 24 for ShanghaiTech,
    else 25.
    """
    train = _records(_clip_folders(root / "training" / "frames", "frames"))
    test = _records(_clip_folders(root / "testing" / "frames", "frames"))
    rates = (_frames_fps(record.source) for record in test + train)
    fps = next((rate for rate in rates if rate is not None), DEFAULT_FPS)
    return _labelled("frames", root, train, test, labels or _first(_generic_labels(root)), fps=fps)


def _parse_shanghaitech(root: Path, labels: Path | None) -> tuple[Dataset, list[str]]:
    """ShanghaiTech Campus (Luo, Liu, Gao, "A Revisit of Sparse Coding Based Anomaly
    Detection in Stacked RNN Framework", ICCV 2017), 24 fps::

        shanghaitech/
          training/videos/01_001.avi ...
          testing/frames/01_0014/000.jpg ...
          testing/test_frame_mask/01_0014.npy      per-frame 0/1 of each test video
    """
    train = _records(list_videos(root / "training" / "videos"))
    test = _records(_clip_folders(root / "testing" / "frames", "shanghaitech"))
    masks = root / "testing" / "test_frame_mask"
    found = [masks] if masks.is_dir() else []
    return _labelled("shanghaitech", root, train, test,
                     labels or _first(found + _generic_labels(root)), fps=SHANGHAITECH_FPS)


def _parse_avenue(root: Path, labels: Path | None) -> tuple[Dataset, list[str]]:
    """CUHK Avenue (Lu, Shi, Jia, "Abnormal Event Detection at 150 FPS in MATLAB",
    ICCV 2013), 25 fps::

        avenue/
          training_videos/01.avi ...
          testing_videos/01.avi ...
          testing_label_mask/1_label.mat ...   volLabel: 1xN cell of HxW pixel masks

    Labels: ``testing_label_mask/`` (frame abnormal iff its mask is non-empty), else as
    the frames layout (``labels.json``, ``avenue.mat`` ...). The two Avenue conventions
    differ in 441 frames; ``label_convention`` names the one used.
    """
    train = _records(list_videos(root / "training_videos"))
    test = _records(list_videos(root / "testing_videos"))
    masks = root / "testing_label_mask"
    found = [masks] if masks.is_dir() else []
    return _labelled("avenue", root, train, test, labels or _first(found + _generic_labels(root)),
                     fps=DEFAULT_FPS)


def _parse_subway(root: Path, labels: Path | None) -> tuple[Dataset, list[str]]:
    """Subway entrance / exit (Adam et al., "Robust Real-Time Unusual Event Detection
    Using Multiple Fixed-Location Monitors", TPAMI 2008), one long video per scene::

        subway/
          subway_entrance_turnstiles.AVI
          subway_entrance_turnstiles_labels.txt    "start end" per line, 1-based inclusive

    The first minutes (:data:`SUBWAY_TRAIN_MINUTES`: entrance 20, exit 10, others 15)
    are the training video, the rest the test video. Label ranges count frames of the
    whole video; the test labels start at the first test frame. T' is None: the memory
    is kept for the whole video.
    """
    videos = _video_files(root)
    if len(videos) != 1:
        raise DatasetLayoutError(f"{root}: holds {len(videos)} video files; expected "
                                 f"{EXPECTED['subway']}")
    video = videos[0]
    stem = video.stem.lower()
    name = next((scene for scene in SUBWAY_TRAIN_MINUTES if scene in stem), video.stem)
    minutes = SUBWAY_TRAIN_MINUTES.get(name, SUBWAY_OTHER_TRAIN_MINUTES)
    total, fps = _video_header(video)
    fps = fps or DEFAULT_FPS
    start = round(minutes * 60 * fps)
    if total is None or total <= start:
        raise DatasetLayoutError(f"{video}: {total or 'unknown number of'} frames, not more "
                                 f"than the {minutes:g} training minutes ({start} frames at "
                                 f"{fps:g} fps)")
    train = (VideoRecord(name, video, None, 0, start),)
    test = VideoRecord(name, video, None, start)
    label_path = labels or _subway_label_file(video)
    problems = []
    convention = "no labels found"
    if label_path is not None:
        try:
            test = dataclasses.replace(
                test, labels=read_subway_labels(label_path, total)[start:])
            convention = (f"{label_path.name}: abnormal frame ranges of the whole video, "
                          f"1-based inclusive; the test video starts at frame {start + 1}")
        except DatasetLayoutError as error:
            convention = f"{label_path.name}: unreadable"
            problems.append(str(error))
    t_prime = dataset_t_prime("subway")
    return Dataset("subway", root, train, (test,), convention, t_prime, fps), problems


def _parse_folder(root: Path, labels: Path | None) -> tuple[Dataset, list[str]]:
    """Your own footage: every video or frame folder in ``root`` is a training video::

        my_camera/
          monday.mp4
          tuesday/000.jpg ...

    No test videos, no labels (not in the paper). Frame rate: the first one its videos
    state (:func:`stated_rate`), else 25.
    """
    train = _records(list_videos(root))
    fps = stated_rate([r.source for r in train]) or DEFAULT_FPS
    return Dataset("folder", root, tuple(train), (), "no labels (folder layout)",
                   dataset_t_prime("folder"), fps), []


_PARSERS = {
    "ucsd": _parse_ucsd,
    "frames": _parse_frames,
    "shanghaitech": _parse_shanghaitech,
    "avenue": _parse_avenue,
    "subway": _parse_subway,
    "folder": _parse_folder,
}


def _clip_folders(folder: Path, layout: str) -> list[Path]:
    """Clip folders in ``folder``: subfolders, less dot-folders and UCSD ``_gt`` masks."""
    if not folder.is_dir():
        raise DatasetLayoutError(f"{folder}: no such folder; expected {EXPECTED[layout]}")
    clips = sorted(p for p in folder.iterdir()
                   if p.is_dir() and not p.name.startswith(".") and not p.name.endswith("_gt"))
    if not clips:
        raise DatasetLayoutError(f"{folder}: holds no clip folders; expected {EXPECTED[layout]}")
    return clips


def _video_files(folder: Path) -> list[Path]:
    return sorted(p for p in folder.iterdir() if p.is_file() and not p.name.startswith(".")
                  and p.suffix.lower() in VIDEO_SUFFIXES)


def _records(sources: list[Path]) -> list[VideoRecord]:
    return [VideoRecord(p.stem if p.is_file() else p.name, p, None) for p in sources]


def frame_rate(video: Path) -> float | None:
    """The frame rate of one video: its header's for a video file; for a frame folder,
    that of the dataset layout it sits in (a clip folder of UCSD's ``Train/`` or
    ``Test/``: 10; of the frames layout: by frame size, see :data:`FRAMES_FPS`; of
    ShanghaiTech's ``testing/frames/``: 24). None where nothing states it (a ``.npy``
    array, a frame folder of one's own)."""
    if video.is_file():
        return _video_header(video)[1] if video.suffix.lower() in VIDEO_SUFFIXES else None
    parent = video.parent
    if parent.name in ("Train", "Test") and detect_layout(parent.parent) == "ucsd":
        return UCSD_FPS
    if parent.name == "frames" and parent.parent.name in ("training", "testing"):
        layout = detect_layout(parent.parent.parent)
        if layout == "shanghaitech":
            return SHANGHAITECH_FPS
        if layout == "frames":
            return _frames_fps(video)
    return None


def stated_rate(videos: list[Path]) -> float | None:
    """The first frame rate that one of ``videos`` states (:func:`frame_rate`); None where
    none does."""
    return next((rate for rate in map(frame_rate, videos) if rate is not None), None)


def _frames_fps(folder: Path) -> float | None:
    """The frames layout's frame rate, from the size of a clip folder's first frame."""
    files = image_files(folder)
    image = read_image(files[0], gray=False) if files else None
    return None if image is None else FRAMES_FPS.get((image.shape[1], image.shape[0]))


def _video_header(path: Path) -> tuple[int | None, float | None]:
    """(frame count, fps) as the video's header states them; None where unknown."""
    header = read_header(path)
    return (None, None) if header is None else (header.num_frames, header.fps)


def _subway_label_file(video: Path) -> Path | None:
    for suffix in (".txt", ".json"):
        candidate = video.with_name(f"{video.stem}_labels{suffix}")
        if candidate.is_file():
            return candidate
    return None


def _first(paths: list[Path]) -> Path | None:
    return paths[0] if paths else None


def _generic_labels(root: Path) -> list[Path]:
    """Label files the frames layout looks for, in order of preference."""
    folders = [root, root / "original_labels"]
    found = [root / "labels.json"] if (root / "labels.json").is_file() else []
    for pattern in ("*.mat", "frame_labels_*.npy", "*.m"):
        for folder in folders:
            if folder.is_dir():
                found += sorted(p for p in folder.glob(pattern) if not p.name.startswith("."))
    return found


def _labelled(
    layout: str, root: Path, train: list[VideoRecord], test: list[VideoRecord],
    label_path: Path | None, *, fps: float,
) -> tuple[Dataset, list[str]]:
    """The dataset with the labels of ``label_path`` attached to its test videos."""
    problems = []
    convention = "no labels found"
    if label_path is not None:
        lengths = [len(image_files(r.source)) if r.source.is_dir() else _video_header(r.source)[0]
                   for r in test]
        try:
            labels, convention = read_labels(label_path, [r.name for r in test], lengths)
            test = [dataclasses.replace(r, labels=labels.get(r.name)) for r in test]
        except DatasetLayoutError as error:
            convention = f"{label_path.name}: unreadable"
            problems.append(str(error))
    return Dataset(layout, root, tuple(train), tuple(test), convention, dataset_t_prime(layout),
                   fps), problems
