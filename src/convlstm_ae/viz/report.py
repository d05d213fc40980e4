"""One self-contained HTML page of scored videos: a summary, per video its scores over
time with alarms, events and ground truth, event thumbnails, ROC curves and AUC when
labels are given, and the model's config and calibration. ``pipeline/report.py``
gathers what it shows into a :class:`ReportPage`.

Figures and snapshots are embedded as base64 images and the style sheet is inline, so
the file shows the same anywhere, offline; every name and text read from a file is
HTML-escaped.
"""

from __future__ import annotations

import base64
import json
import tempfile
import urllib.parse
from collections.abc import Sequence
from dataclasses import dataclass
from html import escape
from pathlib import Path

import cv2
import numpy as np

from convlstm_ae.metrics import FrameMetrics
from convlstm_ae.viz.plots import plot_roc, plot_timeline

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
class Thumbnail:
    """An event as the page shows it: its first and last frame, a caption, a snapshot,
    and a link to its clip (relative to the page)."""

    start_frame: int
    end_frame: int
    caption: str
    snapshot: Path | None
    clip: str | None = None


@dataclass(frozen=True)
class VideoPanel:
    """One video: its columns (``frame`` always), ground truth if any, its events."""

    name: str
    columns: dict[str, np.ndarray]
    labels: np.ndarray | None
    events: list[Thumbnail]


@dataclass(frozen=True)
class ModelPanel:
    """The model folder's name, its config, and per calibrated score kind (kind,
    threshold, quantile, what it was fitted on); None: no calibration."""

    name: str
    config: dict
    calibration: list[tuple[str, float, float, str]] | None


@dataclass(frozen=True)
class ReportPage:
    """Everything the page shows."""

    title: str
    sources: str  # the tables read, as one line
    summary: list[tuple[str, object]]  # (what, how many)
    metrics: dict[str, FrameMetrics] | None  # per score; None: no labels
    curves: dict[str, tuple[np.ndarray, np.ndarray, float]]  # per score: ROC and AUC
    threshold: float | None  # the alarm threshold the calibrated score is drawn against
    videos: list[VideoPanel]
    other_events: list[Thumbnail]  # events of no scored video
    model: ModelPanel | None


def render_report(page: ReportPage) -> str:
    """The page as one HTML document."""
    parts = [f"<h1>{escape(page.title)}</h1>",
             f'<p class="muted">from {escape(page.sources)}</p>', _summary(page)]
    if page.metrics is not None:
        parts.append(_roc_section(page.metrics, page.curves))
    with tempfile.TemporaryDirectory() as folder:
        for index, video in enumerate(page.videos):
            columns = video.columns
            plot = plot_timeline(
                columns["frame"], Path(folder) / f"{index}.png",
                regularity=columns.get("regularity"), calibrated=columns.get("calibrated_error"),
                threshold=page.threshold if "calibrated_error" in columns else None,
                labels=video.labels, alarms=columns.get("alarm"),
                events=[(e.start_frame, e.end_frame) for e in video.events])
            parts.append(_video_section(video, plot))
    if page.other_events:
        parts.append('<section class="card"><h2>Events of other sources</h2>'
                     f"{_thumbnails(page.other_events)}</section>")
    if page.model is not None:
        parts.append(_model_section(page.model))
    body = "\n".join(parts)
    return (f'<!DOCTYPE html>\n<html lang="en"><head><meta charset="utf-8">'
            f"<title>{escape(page.title)}</title><style>{STYLE}</style></head>"
            f"<body><main>\n{body}\n</main></body></html>\n")


def _summary(page: ReportPage) -> str:
    rows = list(page.summary)
    for score, m in (page.metrics or {}).items():
        rows.append((f"AUC micro / macro, EER: {score}",
                     f"{m.micro_auc:.3f} / {m.macro_auc:.3f}, {m.eer:.3f}"))
    cells = "".join(f'<tr><th>{escape(str(k))}</th><td class="num">{escape(str(v))}</td></tr>'
                    for k, v in rows)
    return f'<section class="card"><h2>Summary</h2><table class="summary">{cells}</table></section>'


def _roc_section(metrics: dict[str, FrameMetrics],
                 curves: dict[str, tuple[np.ndarray, np.ndarray, float]]) -> str:
    with tempfile.TemporaryDirectory() as folder:
        image = _image(plot_roc(curves, Path(folder) / "roc.png").read_bytes())
    header = "<tr><th>score</th><th>micro AUC</th><th>macro AUC</th><th>EER</th></tr>"
    rows = "".join(f'<tr><td>{escape(s)}</td><td class="num">{m.micro_auc:.3f}</td>'
                   f'<td class="num">{m.macro_auc:.3f}</td><td class="num">{m.eer:.3f}</td></tr>'
                   for s, m in metrics.items())
    return (f'<section class="card"><h2>ROC (frame level, all videos pooled)</h2>'
            f'<div style="display:flex;gap:24px;align-items:center;flex-wrap:wrap">'
            f'<img class="plot" alt="ROC curves" style="width:420px" src="{image}">'
            f"<table>{header}{rows}</table></div></section>")


def _video_section(video: VideoPanel, plot: Path) -> str:
    name, columns = video.name, video.columns
    facts = [f"{len(columns['frame'])} frames"]
    if "alarm" in columns:
        facts.append(f"{int(columns['alarm'].sum())} alarm frames")
    facts.append(f"{len(video.events)} events")
    if video.labels is not None:
        facts.append(f"{int(video.labels.sum())} abnormal frames (ground truth)")
    thumbs = _thumbnails(video.events) if video.events else ""
    return (f'<section class="card"><h3>{escape(name)}</h3>'
            f'<p class="muted">{escape(", ".join(facts))}</p>'
            f'<img class="plot" alt="scores of {escape(name)}" src="{_image(plot.read_bytes())}">'
            f"{thumbs}</section>")


def _thumbnails(events: Sequence[Thumbnail]) -> str:
    figures = [f"<figure>{_snapshot(e.snapshot)}<figcaption>{escape(e.caption)}"
               f"{_clip_link(e.clip)}</figcaption></figure>" for e in events]
    return f'<div class="thumbs">{"".join(figures)}</div>'


def _clip_link(href: str | None) -> str:
    return f' <a href="{escape(urllib.parse.quote(href))}">clip</a>' if href else ""


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


def _model_section(model: ModelPanel) -> str:
    flat = {f"{key}.{k}" if isinstance(value, dict) else key: v
            for key, value in model.config.items()
            for k, v in (value.items() if isinstance(value, dict) else [(key, value)])}
    rows = "".join(f"<tr><th>{escape(str(k))}</th><td>{escape(_text(v))}</td></tr>"
                   for k, v in flat.items())
    parts = [f'<section class="card"><h2>Model: {escape(model.name)}</h2>',
             f"<table>{rows}</table>"]
    if model.calibration:
        cal = "".join(f'<tr><td>{escape(kind)}</td><td class="num">{threshold:.4g}</td>'
                      f'<td class="num">{quantile:g}</td><td>{escape(basis)}</td></tr>'
                      for kind, threshold, quantile, basis in model.calibration)
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
