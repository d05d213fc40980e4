"""What ``convlstm-ae report`` shows, gathered: per video its scores, ground truth and
events, the metrics of each score when labels are given, the alarm threshold, and the
model's config and calibration; ``viz/report.py`` renders it as one HTML page."""

from __future__ import annotations

import os
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from convlstm_ae.atomic import atomic_path, file_label, writable_file
from convlstm_ae.metrics import FrameMetrics, abnormal_runs, evaluate_frames, roc_points
from convlstm_ae.pipeline.evaluate import frame_labels, stored_threshold
from convlstm_ae.pipeline.event_file import Event
from convlstm_ae.pipeline.report_inputs import ReportInput, watch_video_name
from convlstm_ae.release_files import Calibrations, load_calibration, read_model_config
from convlstm_ae.scoring.calibration import DeploymentCalibration
from convlstm_ae.scoring.located import LocatedCalibration
from convlstm_ae.viz.report import ModelPanel, ReportPage, Thumbnail, VideoPanel, render_report

# score name -> (column, whether higher means more regular)
SCORES = {
    "regularity s(t), Eq. 4": ("regularity", True),
    "patch regularity (beyond the paper)": ("patch_regularity", True),
    "calibrated score (deployment)": ("calibrated_error", False),
}


@dataclass(frozen=True)
class Evaluation:
    """Per-video labels and, per score, its metrics and ROC points."""

    labels: dict[str, np.ndarray]
    metrics: dict[str, FrameMetrics]
    curves: dict[str, tuple[np.ndarray, np.ndarray, float]]


def build_report(data: ReportInput, labels_path: Path | None = None,
                 title: str = "convlstm-ae report", page: Path = Path("report.html")) -> str:
    """The report as one HTML document, to be written at ``page`` (event clips are
    linked relative to it).

    Raises:
        ConfigError: labels missing or of other lengths for a scored video, or a
            damaged model folder (``CheckpointError``).
    """
    evaluation = evaluate(data, labels_path) if labels_path else None
    config = read_model_config(data.model_dir) if data.model_dir else None
    calibration = load_calibration(data.model_dir) if data.model_dir else None
    by_video, other_events = _events_by_video(data)
    videos = [VideoPanel(name, columns, evaluation.labels[name] if evaluation else None,
                         [_thumbnail(e, page.parent) for e in by_video[name]])
              for name, columns in data.videos.items()]
    return render_report(ReportPage(
        title=title, sources=", ".join(str(p) for p in data.tables), summary=_summary(data),
        metrics=evaluation.metrics if evaluation else None,
        curves=evaluation.curves if evaluation else {},
        threshold=_threshold(data.videos.values(), calibration), videos=videos,
        other_events=[_thumbnail(e, page.parent) for e in other_events],
        model=_model(data.model_dir, config, calibration) if config is not None else None))


def write_report(path: Path, html: str) -> Path:
    """Writes the document atomically."""
    writable_file(path)
    with atomic_path(path) as temporary:
        temporary.write_text(html, encoding="utf-8")
    return path


def evaluate(data: ReportInput, labels_path: Path) -> Evaluation:
    """Labels of every video (by frame number) and metrics of each score all videos have.

    Raises:
        ConfigError: a video without labels or with too few.
    """
    names = list(data.videos)
    truth = frame_labels(data.videos, labels_path, [_label_key(n) for n in names], exact=False)
    labels = dict(zip(names, truth, strict=True))
    metrics, curves = {}, {}
    for score, (column, regular) in SCORES.items():
        if all(column in v for v in data.videos.values()):
            values = [1 - v[column] if regular else v[column] for v in data.videos.values()]
            metrics[score] = evaluate_frames(values, truth)
            curves[score] = (*roc_points(values, truth), metrics[score].micro_auc)
    return Evaluation(labels, metrics, curves)


def _threshold(videos: Iterable[dict[str, np.ndarray]], calibration: Calibrations | None
               ) -> float | None:
    """The alarm threshold: the score table's (the one its alarms were raised at), else
    the model's calibrated one."""
    stored = stored_threshold(videos)
    if stored is not None or not calibration:
        return stored
    return calibration["frame"].threshold


def _label_key(name: str) -> str:
    """The name labels use for a video: a watch video ``LABEL: VIDEO`` by its file stem."""
    source, separator, video = name.partition(": ")
    return Path(video).stem if separator else source


def _events_by_video(data: ReportInput) -> tuple[dict[str, list[Event]], list[Event]]:
    """Events per video (source named as the video, or its file stem), and the rest."""
    by_video: dict[str, list[Event]] = {name: [] for name in data.videos}
    other = []
    for event in data.events:
        names = [event.source, Path(event.source).stem]
        if event.video is not None:
            names.insert(0, watch_video_name(file_label(event.source), event.video))
        name = next((n for n in names if n in by_video), None)
        (by_video[name] if name is not None else other).append(event)
    return by_video, other


def _summary(data: ReportInput) -> list[tuple[str, object]]:
    videos = data.videos.values()
    alarms = [v["alarm"] for v in videos if "alarm" in v]
    rows: list[tuple[str, object]] = [
        ("videos", len(data.videos)), ("frames", sum(len(v["frame"]) for v in videos)),
        ("alarm frames", sum(int(a.sum()) for a in alarms) if alarms else "no alarm column"),
        ("alarm runs", sum(len(abnormal_runs(a)) for a in alarms) if alarms else "-"),
        ("events", len(data.events))]
    rates = sorted({float(v["fps"][0]) for v in videos if "fps" in v})
    if rates:
        rows.append(("frame rate", " / ".join(f"{rate:g} fps" for rate in rates)))
    return rows


def _thumbnail(event: Event, folder: Path) -> Thumbnail:
    caption = f"{event.source}: frames {event.start_frame}-{event.end_frame}"
    if event.start_time is not None and event.end_time is not None:
        caption += f", {event.start_time:.1f}-{event.end_time:.1f} s"
    if event.peak_score is not None:
        caption += f", peak {event.peak_score:.3g}"
        caption += f" at frame {event.peak_frame}" if event.peak_frame is not None else ""
    clip = Path(os.path.relpath(event.clip.resolve(), folder.resolve())) if event.clip else None
    return Thumbnail(event.start_frame, event.end_frame, caption, event.snapshot,
                     clip.as_posix() if clip else None)


def _calibration_basis(calibration: DeploymentCalibration | LocatedCalibration) -> str:
    """What a calibration's statistics are per: window positions, or cells of videos."""
    if isinstance(calibration, LocatedCalibration):
        rows, columns = calibration.statistics.mean.shape
        return (f"{rows}x{columns} cells of {calibration.cell_size} px, "
                f"{len(calibration.videos)} videos (levels {calibration.spread:.2f}x apart)")
    position = calibration.position
    return f"T' {position.t_prime}, {len(position.mean)} window position(s)"


def _model(model_dir: Path, config: dict, calibration: Calibrations | None) -> ModelPanel:
    rows = [(kind, c.threshold, c.quantile, _calibration_basis(c))
            for kind, c in calibration.items()] if calibration else None
    name = f"{model_dir.parent.name}/{model_dir.name}"  # e.g. demo/model, caffe/model
    return ModelPanel(name, config, rows)
