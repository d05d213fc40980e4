"""One self-contained HTML report of scored videos: a summary, per video its scores over
time with alarms, events and ground truth, event thumbnails, ROC curves and AUC when
labels are given, and the model's config and calibration.

Figures and snapshots are embedded as base64 images and the style sheet is inline, so
the file shows the same anywhere, offline; every name and text read from a file is
HTML-escaped.
"""

from __future__ import annotations

import base64
import json
import tempfile
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from html import escape
from pathlib import Path

import cv2
import numpy as np

from convlstm_ae.atomic import atomic_path, file_label, writable_file
from convlstm_ae.metrics import FrameMetrics, abnormal_runs, evaluate_frames, roc_points
from convlstm_ae.pipeline.evaluate import frame_labels, stored_threshold
from convlstm_ae.pipeline.event_file import Event
from convlstm_ae.pipeline.report_inputs import ReportInput, watch_video_name
from convlstm_ae.release_files import load_calibration, read_model_config
from convlstm_ae.scoring.calibration import DeploymentCalibration
from convlstm_ae.scoring.located import LocatedCalibration
from convlstm_ae.viz.plots import plot_roc, plot_timeline

# score name -> (column, whether higher means more regular)
SCORES = {
    "regularity s(t), Eq. 4": ("regularity", True),
    "patch regularity (beyond the paper)": ("patch_regularity", True),
    "calibrated score (deployment)": ("calibrated_error", False),
}
THUMBNAIL_WIDTH = 400  # px; larger snapshots are shrunk and embedded as JPEG
IMAGE_TYPES = {b"\x89PNG\r\n\x1a\n": "image/png", b"\xff\xd8\xff": "image/jpeg"}
STYLE = """
body{font-family:system-ui,sans-serif;margin:0;background:#f4f5f7;color:#222}
main{max-width:1240px;margin:0 auto;padding:16px 24px}
h1{font-size:1.5em;margin:.4em 0}h2{font-size:1.2em;margin:1.2em 0 .4em}
h3{font-size:1em;margin:0 0 .3em;word-break:break-all}
section.card{background:#fff;border-radius:6px;padding:12px 16px;margin:12px 0;
box-shadow:0 1px 3px rgba(0,0,0,.12)}
table{border-collapse:collapse;font-size:.9em}
td,th{border-bottom:1px solid #ddd;padding:3px 10px;text-align:left;vertical-align:top}
th{background:#eef0f3}td.num{text-align:right;font-variant-numeric:tabular-nums}
img.plot{max-width:100%;height:auto;display:block}
.thumbs{display:flex;flex-wrap:wrap;gap:10px;margin-top:6px}
figure{margin:0;font-size:.8em;width:200px}figure img{width:200px;height:auto;border:1px solid #ccc}
.muted{color:#666;font-size:.85em}
.summary td,.summary th{font-size:1em}
"""


@dataclass(frozen=True)
class Evaluation:
    """Per-video labels and, per score, its metrics and ROC points."""

    labels: dict[str, np.ndarray]
    metrics: dict[str, FrameMetrics]
    curves: dict[str, tuple[np.ndarray, np.ndarray, float]]


def build_report(data: ReportInput, labels_path: Path | None = None,
                 title: str = "convlstm-ae report") -> str:
    """The report as one HTML document.

    Raises:
        ConfigError: labels missing or of other lengths for a scored video, or a
            damaged model folder (``CheckpointError``).
    """
    evaluation = evaluate(data, labels_path) if labels_path else None
    config = read_model_config(data.model_dir) if data.model_dir else None
    calibration = load_calibration(data.model_dir) if data.model_dir else None
    threshold = _threshold(data.videos.values(), calibration)
    by_video, other_events = _events_by_video(data)
    sources = ", ".join(str(p) for p in data.tables)
    parts = [f"<h1>{escape(title)}</h1>", f'<p class="muted">from {escape(sources)}</p>',
             _summary(data, evaluation)]
    if evaluation:
        parts.append(_roc_section(evaluation))
    with tempfile.TemporaryDirectory() as folder:
        for index, (name, columns) in enumerate(data.videos.items()):
            labels = evaluation.labels[name] if evaluation else None
            plot = plot_timeline(
                columns["frame"], Path(folder) / f"{index}.png",
                regularity=columns.get("regularity"), calibrated=columns.get("calibrated_error"),
                threshold=threshold if "calibrated_error" in columns else None, labels=labels,
                alarms=columns.get("alarm"),
                events=[(e.start_frame, e.end_frame) for e in by_video[name]])
            parts.append(_video_section(name, columns, labels, by_video[name], plot))
    if other_events:
        parts.append('<section class="card"><h2>Events of other sources</h2>'
                     f"{_thumbnails(other_events)}</section>")
    if config is not None:
        parts.append(_model_section(data.model_dir, config, calibration))
    body = "\n".join(parts)
    return (f'<!DOCTYPE html>\n<html lang="en"><head><meta charset="utf-8">'
            f"<title>{escape(title)}</title><style>{STYLE}</style></head>"
            f"<body><main>\n{body}\n</main></body></html>\n")


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


def _threshold(videos: Iterable[dict[str, np.ndarray]], calibration: dict | None
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


def _summary(data: ReportInput, evaluation: Evaluation | None) -> str:
    videos = data.videos.values()
    alarms = [v["alarm"] for v in videos if "alarm" in v]
    rows = [("videos", len(data.videos)), ("frames", sum(len(v["frame"]) for v in videos)),
            ("alarm frames", sum(int(a.sum()) for a in alarms) if alarms else "no alarm column"),
            ("alarm runs", sum(len(abnormal_runs(a)) for a in alarms) if alarms else "-"),
            ("events", len(data.events))]
    rates = sorted({float(v["fps"][0]) for v in videos if "fps" in v})
    if rates:
        rows.append(("frame rate", " / ".join(f"{rate:g} fps" for rate in rates)))
    if evaluation:
        for score, m in evaluation.metrics.items():
            rows.append((f"AUC micro / macro, EER: {score}",
                         f"{m.micro_auc:.3f} / {m.macro_auc:.3f}, {m.eer:.3f}"))
    cells = "".join(f'<tr><th>{escape(str(k))}</th><td class="num">{escape(str(v))}</td></tr>'
                    for k, v in rows)
    return f'<section class="card"><h2>Summary</h2><table class="summary">{cells}</table></section>'


def _roc_section(evaluation: Evaluation) -> str:
    with tempfile.TemporaryDirectory() as folder:
        image = _image(plot_roc(evaluation.curves, Path(folder) / "roc.png").read_bytes())
    header = "<tr><th>score</th><th>micro AUC</th><th>macro AUC</th><th>EER</th></tr>"
    rows = "".join(f'<tr><td>{escape(s)}</td><td class="num">{m.micro_auc:.3f}</td>'
                   f'<td class="num">{m.macro_auc:.3f}</td><td class="num">{m.eer:.3f}</td></tr>'
                   for s, m in evaluation.metrics.items())
    return (f'<section class="card"><h2>ROC (frame level, all videos pooled)</h2>'
            f'<div style="display:flex;gap:24px;align-items:center;flex-wrap:wrap">'
            f'<img class="plot" alt="ROC curves" style="width:420px" src="{image}">'
            f"<table>{header}{rows}</table></div></section>")


def _video_section(name: str, columns: dict[str, np.ndarray], labels: np.ndarray | None,
                   events: Sequence[Event], plot: Path) -> str:
    facts = [f"{len(columns['frame'])} frames"]
    if "alarm" in columns:
        facts.append(f"{int(columns['alarm'].sum())} alarm frames")
    facts.append(f"{len(events)} events")
    if labels is not None:
        facts.append(f"{int(labels.sum())} abnormal frames (ground truth)")
    thumbs = _thumbnails(events) if events else ""
    return (f'<section class="card"><h3>{escape(name)}</h3>'
            f'<p class="muted">{escape(", ".join(facts))}</p>'
            f'<img class="plot" alt="scores of {escape(name)}" src="{_image(plot.read_bytes())}">'
            f"{thumbs}</section>")


def _thumbnails(events: Sequence[Event]) -> str:
    figures = []
    for event in events:
        caption = f"{event.source}: frames {event.start_frame}-{event.end_frame}"
        if event.start_time is not None and event.end_time is not None:
            caption += f", {event.start_time:.1f}-{event.end_time:.1f} s"
        if event.peak_score is not None:
            caption += f", peak {event.peak_score:.3g}"
            caption += f" at frame {event.peak_frame}" if event.peak_frame is not None else ""
        picture = _snapshot(event.snapshot)
        figures.append(f"<figure>{picture}<figcaption>{escape(caption)}</figcaption></figure>")
    return f'<div class="thumbs">{"".join(figures)}</div>'


def _snapshot(path: Path | None) -> str:
    """An embedded snapshot (as a JPEG at most ``THUMBNAIL_WIDTH`` wide), or a line saying
    why there is none."""
    if path is None:
        return '<p class="muted">no snapshot</p>'
    try:
        data = path.read_bytes()
    except OSError:
        return f'<p class="muted">snapshot not found: {escape(str(path))}</p>'
    image = cv2.imdecode(np.frombuffer(data, np.uint8), cv2.IMREAD_COLOR)
    if image is None:
        return f'<p class="muted">snapshot is no readable image: {escape(str(path))}</p>'
    if image.shape[1] > THUMBNAIL_WIDTH:
        height = round(image.shape[0] * THUMBNAIL_WIDTH / image.shape[1])
        image = cv2.resize(image, (THUMBNAIL_WIDTH, max(height, 1)), interpolation=cv2.INTER_AREA)
    jpeg = cv2.imencode(".jpg", image, [cv2.IMWRITE_JPEG_QUALITY, 85])[1].tobytes()
    return f'<img class="thumb" alt="{escape(path.name)}" src="{_image(jpeg)}">'


def _calibration_basis(calibration: DeploymentCalibration | LocatedCalibration) -> str:
    """What a calibration's statistics are per: window positions, or cells of videos."""
    if isinstance(calibration, LocatedCalibration):
        rows, columns = calibration.statistics.mean.shape
        return (f"{rows}x{columns} cells of {calibration.cell_size} px, "
                f"{len(calibration.videos)} videos (levels {calibration.spread:.2f}x apart)")
    position = calibration.position
    return f"T' {position.t_prime}, {len(position.mean)} window position(s)"


def _model_section(model_dir: Path, config: dict, calibration: dict | None) -> str:
    flat = {f"{key}.{k}" if isinstance(value, dict) else key: v
            for key, value in config.items()
            for k, v in (value.items() if isinstance(value, dict) else [(key, value)])}
    rows = "".join(f"<tr><th>{escape(str(k))}</th><td>{escape(_text(v))}</td></tr>"
                   for k, v in flat.items())
    name = f"{model_dir.parent.name}/{model_dir.name}"  # e.g. demo/model, caffe/model
    parts = [f'<section class="card"><h2>Model: {escape(name)}</h2>',
             f"<table>{rows}</table>"]
    if calibration:
        cal = "".join(f'<tr><td>{escape(kind)}</td><td class="num">{c.threshold:.4g}</td>'
                      f'<td class="num">{c.quantile:g}</td>'
                      f'<td>{escape(_calibration_basis(c))}</td></tr>'
                      for kind, c in calibration.items())
        parts.append("<h3>Calibration (held-out normal frames)</h3><table><tr><th>score</th>"
                     "<th>threshold</th><th>quantile</th><th>fitted on</th></tr>"
                     f"{cal}</table>")
    else:
        parts.append('<p class="muted">no calibration.json: no deployment score</p>')
    return "".join(parts) + "</section>"


def _text(value: object) -> str:
    return json.dumps(value) if isinstance(value, list | dict) else str(value)


def _image(data: bytes) -> str:
    """A data URL of PNG or JPEG bytes."""
    kind = next(t for magic, t in IMAGE_TYPES.items() if data.startswith(magic))
    return f"data:{kind};base64,{base64.b64encode(data).decode('ascii')}"
