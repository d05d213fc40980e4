"""The loop of ``convlstm-ae watch``: frames of every source, scored together, into
per-frame logs, events, snapshots and notifications.

Sources are grouped by model, each :class:`~convlstm_ae.live.models.Group` scored by one
engine of its streams (two sources of the same model share it), one frame per source per
step. Each source is scored at most at its model's frame rate
(:func:`~convlstm_ae.release_files.scoring_rate`): a faster one has frames left out in its
decoder (:mod:`convlstm_ae.data.rate`). A step runs once every source that can deliver has
a frame: finished sources and live sources that are reconnecting are skipped at once. A
source that drops its oldest frames when behind (a camera, a stream URL, a file played in
real time) is skipped for a step when it has no frame and another source has more than one
queued, or after ``max_wait`` seconds, so no source waits for a slower one and none falls
behind by its start time. Files played with ``--no-realtime`` are never skipped (their
next frame is only a decode away). A skipped stream's slot gets a blank frame whose result
is discarded, and its memory, clock and running level are held as they were, so every
source's frames are scored in order with an unbroken memory: a file (at most at its
model's rate) exactly as ``convlstm-ae score --windows reset`` scores it. This keeps one
batched call per group and step.

Frames come from the sources' shared-memory rings (:mod:`convlstm_ae.live.ring`), filled
by decoder processes (:mod:`convlstm_ae.live.decoders`); a step gathers them into the
engine's input buffer with one numpy operation, and its scores, events and status are
arrays over the B streams: no Python work per frame but for events (rare) and overlays.
Rows and events go to one writer thread (:class:`~convlstm_ae.live.outputs.OutputWriter`).

Sources can be added while it runs (:meth:`Watch.add_camera`, e.g. on SIGHUP): between
two steps the source gets a stream, a new block of rings and its own decoder. Its stream
is a removed source's of the same engine where there is one (:meth:`Watch.remove_camera`
frees it): its rows over the streams are reset to a new source's, and its engine slot's
memory and located score restart with its first frame, as at a new video. Otherwise the
arrays over the streams grow by one, and its model's engine grows by a stream with a
fresh memory (or a new engine joins). Either way the other streams keep their memory and
slots, and the work of a step is bounded by the most sources each engine has scored at
once, however often cameras come and go.
"""

from __future__ import annotations

import glob
import logging
import queue
import secrets
import threading
import time
from collections import deque
from collections.abc import Sequence
from dataclasses import dataclass, replace
from pathlib import Path

import numpy as np

from convlstm_ae.atomic import file_label, writable_folder
from convlstm_ae.errors import ConfigError
from convlstm_ae.live.clips import ClipRules, Clips, HeatStyle
from convlstm_ae.live.decoders import Decoders, default_workers
from convlstm_ae.live.engine import Engine
from convlstm_ae.live.events import EventMachine, EventRules
from convlstm_ae.live.live_state import LiveState
from convlstm_ae.live.models import Group, GroupScorer, Scoring, check_groups
from convlstm_ae.live.outputs import EVENT_CLIPS, EVENT_SNAPSHOTS, OutputWriter, Rows, Sink
from convlstm_ae.live.ring import FrameRings, RingSet, Taken
from convlstm_ae.live.sources import Source
from convlstm_ae.live.status_lines import StatusLines
from convlstm_ae.pipeline.event_file import EVENTS_FILE, Event
from convlstm_ae.rows import placed, put
from convlstm_ae.scoring.located import HOW_TO_FIT
from convlstm_ae.viz.overlay import (
    CURVE_FRAMES,
    OVERLAY_FPS,
    OverlayVideo,
    draw_overlay,
    overlay_path,
    upscale,
)

log = logging.getLogger(__name__)
MAX_WAIT = 1.0
POLL = 0.001  # seconds between looks at the rings while a step waits for frames


@dataclass
class SourceReport:
    """What happened to one source; ``frames`` counts the scored ones, ``drops`` those
    lost because scoring fell behind, ``skipped`` those left out to score at its model's
    frame rate."""

    name: str
    frames: int = 0
    events: int = 0
    drops: int = 0
    skipped: int = 0
    reconnects: int = 0
    error: str | None = None
    connected: bool = True  # False while a live source is reconnecting
    finished: bool = False  # it delivers no more frames


@dataclass(frozen=True)
class _Launched:
    """A step on the engines, its results not read yet."""

    taken: Taken
    batch: np.ndarray  # (B, S, S) its frames
    new_video: np.ndarray  # (rows,) bool: the rows of ``taken`` that began a video (their
    # memory restarted)


class Watch:
    """Scores ``sources`` through the engines of ``groups`` (one stream each) until they
    all end, :meth:`stop` is called, or Ctrl-C; writes into ``out``.

    Args:
        groups: each model's engine, scoring (e(t), calibration and threshold) and
            sources; together they score every source once, at one frame size.
        sources: not started yet; :meth:`run` starts and stops their decoders.
        out: output folder: ``frames-NAME.csv`` per source, ``events.jsonl``,
            ``snapshots/``, ``clips/``.
        rules: event hysteresis, the same for every source or one per source; its
            threshold is the alarm level too.
        masks: each source's ignored cells of the located live score ((h, w) bool, see
            :mod:`convlstm_ae.live.cameras`; None: none), zeroed before the frame's score
            and hatched in the pictures; needs its model's located score.
        sinks: where event records (a start and an end per event) and the status are
            delivered, besides ``events.jsonl`` (:class:`~convlstm_ae.live.outputs.Sink`).
        max_wait: seconds a step waits for a source that drops frames and has none, when
            no other source has more than one queued.
        overlay: write each source's overlay video here (``NAME-SOURCE.mp4`` beside it
            when there are several); needs engines that return error maps.
        decoders: decoder processes (:mod:`convlstm_ae.live.decoders`); 0 decodes in
            threads of this process; default :func:`default_workers`.
        clips: write an MP4 per event (:mod:`convlstm_ae.live.clips`); its overlay needs
            engines that return error maps.
        publish: keep :attr:`live_state` up to date for the web page (``--serve``): it
            is one more of the sinks (events, status), and gets each step's frames,
            scores and maps.
    """

    def __init__(self, groups: Sequence[Group], sources: Sequence[Source], out: Path, *,
                 rules: EventRules | Sequence[EventRules],
                 masks: Sequence[np.ndarray | None] = (), sinks: Sequence[Sink] = (),
                 max_wait: float = MAX_WAIT, overlay: Path | None = None,
                 decoders: int | None = None, clips: ClipRules | None = None,
                 publish: bool = False) -> None:
        check_groups(groups, len(sources))
        if decoders is not None and decoders < 0:
            raise ConfigError(f"--decoders must be 0 or more, got {decoders}")
        by_stream = {stream: k for k, group in enumerate(groups) for stream in group.streams}
        masks = list(masks) or [None] * len(sources)
        self.frame_size = groups[0].engine.frame_size
        self._overlay, self._clip_rules = overlay, clips
        for stream, mask in enumerate(masks):
            self._check(groups[by_stream[stream]].scoring, mask)
        rules = [rules] * len(sources) if isinstance(rules, EventRules) else list(rules)
        self.sources: list[Source] = []
        self.out = writable_folder(out)
        self.sinks = list(sinks)
        self.max_wait = max_wait
        self.decoders = default_workers(len(sources)) if decoders is None else decoders
        self.reports: list[SourceReport] = []  # of each stream's source now
        self._retired: list[SourceReport] = []  # of removed sources whose stream was reused
        self._stop = threading.Event()
        size = self.frame_size
        # per stream, set by _place: stream k is the k-th source, started or added, or
        # the last one added into a removed source's stream
        self._labels: list[str] = []
        self._videos: list[list[str]] = []
        self._live = np.zeros(0, bool)
        self._drops = np.zeros(0, bool)  # drops its oldest frames when behind: may be skipped
        self._events = EventMachine([], [], [])
        self._ids: list[str | None] = []  # of each stream's open event
        self._clip_paths: list[Path | None] = []  # and its clip
        # the frames of a step, two taking turns: one is read while the next is scored
        self._batches = [np.zeros((0, size, size), np.uint8) for _ in range(2)]
        self._launched: _Launched | None = None  # the step on the engines now
        self._scorers = [GroupScorer(group) for group in groups]
        self._scorer_of: list[GroupScorer] = []
        self._heat: list[HeatStyle | None] = []
        self._peaks = np.zeros((0, size, size), np.uint8)
        self._epoch = np.zeros(0, np.int64)  # the video or connection scored last
        self._frames = np.zeros(0, np.int64)
        self._since_restart = np.zeros(0, np.int64)  # frames scored since the memory restarted
        self._overlays: list[OverlayVideo] = []
        self._curves: list[deque] = []
        self._masks: list[np.ndarray | None] = []
        self._removed = np.zeros(0, bool)
        self._tags: set[str] = set()  # of the ids given so far (see _new_id)
        self._changes: queue.SimpleQueue[tuple] = queue.SimpleQueue()  # applied between steps
        # each stream's engine and scoring, also of cameras added but not started yet
        self._lock = threading.Lock()
        self._models: list[tuple[Engine, Scoring]] = []
        self._free: list[int] = []  # removed streams, not given to a new camera yet
        for stream, source in enumerate(sources):
            scorer = self._scorers[by_stream[stream]]
            self._models.append((scorer.engine, scorer.scoring))
            self._place(stream, source, scorer, rules[stream], several=len(sources) > 1)
        self._clips: Clips | None = None
        self.live_state = LiveState(
            [s.name for s in self.sources], float(self._events.threshold[0]), self.out,
            frame_size=size, heat=self._heat) if publish else None
        if self.live_state is not None:
            self.sinks.append(self.live_state)
        for stream, mask in enumerate(masks):
            self._apply(stream, self._events.rules[stream], mask)
        self._rings = RingSet()
        self._decoders: list[Decoders] = []  # one per block of rings in use
        # of emptied blocks: each one's decoders and the thread stopping them
        self._stopping: list[tuple[Decoders, threading.Thread]] = []
        self._writer: OutputWriter | None = None
        self._status: StatusLines | None = None

    def _check(self, scoring: Scoring, mask: np.ndarray | None) -> None:
        """What a source's model must have for the watch's outputs and the source's mask.

        Raises:
            ConfigError: an overlay or clip overlay without the model's heat scale, a mask
                without its located score.
        """
        heat = scoring.heat(self.frame_size)
        if self._overlay and heat is None:
            raise ConfigError(f"{self._overlay}: the overlay's colour scale needs the model's "
                              "patch calibration (convlstm-ae calibrate MODEL NORMAL_FOOTAGE)")
        if self._clip_rules and self._clip_rules.overlay and heat is None:
            raise ConfigError("--clip-overlay: the overlay's colour scale needs the model's "
                              "patch calibration (convlstm-ae calibrate MODEL NORMAL_FOOTAGE)")
        if mask is not None and scoring.located is None:
            raise ConfigError(f"a mask needs the model's located live score ({HOW_TO_FIT})")

    def _place(self, stream: int, source: Source, scorer: GroupScorer, rules: EventRules,
               several: bool) -> None:
        """The per-stream state of a new source at ``stream``, scored by ``scorer``: one
        more stream, or a removed one's rows reset (its report kept among the retired);
        ``several``: its overlay video is named after it."""
        label = file_label(source.name)
        taken = {old for old, removed in zip(self._labels, self._removed, strict=True)
                 if not removed}
        number = 1
        while label in taken:  # a, a -> a, a-2
            number += 1
            label = f"{file_label(source.name)}-{number}"
        if stream < len(self.sources):
            self._retired.append(self.reports[stream])
            if self._overlay:
                self._overlays[stream].close()
        put(self.sources, stream, source)
        put(self.reports, stream, SourceReport(source.name))
        put(self._labels, stream, label)
        put(self._videos, stream, source.video_names)
        self._live = placed(self._live, stream, source.live)
        self._drops = placed(self._drops, stream, source.drop_oldest)
        self._events.add(stream, source.name, source.video_names, rules)
        put(self._ids, stream, None)
        put(self._clip_paths, stream, None)
        self._batches = [placed(batch, stream, 0) for batch in self._batches]
        put(self._scorer_of, stream, scorer)
        put(self._heat, stream, scorer.scoring.heat(self.frame_size))
        self._peaks = placed(self._peaks, stream, 0)
        # no video scored yet: its first frame restarts the memory and located score
        self._epoch = placed(self._epoch, stream, -1)
        self._frames = placed(self._frames, stream, 0)
        self._since_restart = placed(self._since_restart, stream, 0)
        if self._overlay:
            put(self._overlays, stream, OverlayVideo(
                overlay_path(self._overlay, label, several), OVERLAY_FPS))
        put(self._curves, stream, deque(maxlen=CURVE_FRAMES))
        put(self._masks, stream, None)
        self._removed = placed(self._removed, stream, False)

    def stop(self) -> None:
        """End :meth:`run` after the current step (from another thread)."""
        self._stop.set()

    @property
    def rules(self) -> list[EventRules]:
        """Each source's event rules now."""
        return list(self._events.rules)

    def scoring_of(self, stream: int) -> Scoring:
        """The scoring of source ``stream``'s model (also of a camera added, not started)."""
        return self._models[stream][1]

    def engine_of(self, stream: int) -> Engine:
        """The engine of source ``stream``'s model (also of a camera added, not started)."""
        return self._models[stream][0]

    def add_camera(self, source: Source, engine: Engine, scoring: Scoring, rules: EventRules,
                   mask: np.ndarray | None) -> int:
        """Start ``source`` (not started yet), from any thread: before the next step the
        loop gives it a ring and a decoder, its rows, events, page entry and status, and
        scores it with a fresh memory by ``engine``: a running one of its model (in the
        stream of a source of ``engine`` removed before, else grown by one stream, the
        others' memory kept) or a new one of one stream, on the same frame size. The other
        sources run on untouched. Returns its stream number (a removed source's, reused).

        Raises:
            ConfigError: an engine of another frame size; what :meth:`_check` refuses.
        """
        if engine.frame_size != self.frame_size:
            raise ConfigError(f"the engines score {self.frame_size} and {engine.frame_size} "
                              "px frames: one watch takes one size")
        self._check(scoring, mask)
        with self._lock:
            stream = next((k for k in self._free if self._models[k][0] is engine),
                          len(self._models))
            if stream in self._free:
                self._free.remove(stream)
            put(self._models, stream, (engine, scoring))
            self._changes.put(("add", stream, source, engine, scoring, rules, mask))
        return stream

    def update_camera(self, stream: int, rules: EventRules, mask: np.ndarray | None) -> None:
        """Give source ``stream`` new event rules and mask (ignored cells, see ``masks``),
        from any thread; the loop applies them before its next step, the other sources
        untouched."""
        self._check(self.scoring_of(stream), mask)
        self._changes.put(("update", stream, rules, mask))

    def remove_camera(self, stream: int) -> None:
        """Stop source ``stream``, from any thread: before its next step the loop halts its
        decoding (waited for off the loop, see :meth:`_stop_decoders`), closes its open
        event and clip, as at the end of a video, and scores it no more; it leaves the
        status (the page, MQTT); the other sources run on untouched. Its stream (its
        engine slot and rows) goes to the next camera added of the same engine."""
        with self._lock:
            self._free.append(stream)
            self._changes.put(("remove", stream))

    def _add(self, stream: int, source: Source, engine: Engine, scoring: Scoring,
             rules: EventRules, mask: np.ndarray | None) -> None:
        scorer = next((s for s in self._scorers if s.engine is engine), None)
        if stream < len(self.sources):  # a removed source's stream, of this engine
            assert self._scorer_of[stream] is scorer
        elif scorer is None:
            scorer = GroupScorer(Group(engine, scoring, (stream,)))
            self._scorers.append(scorer)
        else:
            scorer.add(stream)
        self._place(stream, source, scorer, rules, several=True)
        block = self._rings.create([stream], [source.queue_frames], [source.drop_oldest],
                                   self.frame_size)
        block.connected[0] = not source.live
        self._writer.add(stream, self._labels[stream], source.video_names)
        self._status.add(stream, source)
        if self._clips:
            self._clips.add_stream(stream, self._labels[stream], self._heat[stream])
        if self.live_state is not None:
            self.live_state.add_camera(stream, source.name, rules.threshold,
                                       self._heat[stream])
        self._apply(stream, rules, mask)
        self._start_decoders([source], block)
        log.info("%s: added as stream %d; its model scores %d source(s) in %d slot(s)",
                 source.name, stream, int((~self._removed[scorer.streams]).sum()),
                 len(scorer.streams))

    def _remove(self, stream: int) -> None:
        self._count()  # its counts, before its ring goes
        self._removed[stream] = True
        self.reports[stream].finished = True
        empty = self._rings.retire(stream)
        if empty is not None:  # its block's decoders have nothing left to decode
            self._stop_decoders(empty)
        for ended, event in self._events.close(np.array([stream])):
            self._end(ended, event)
        if self._clips:
            self._clips.cut(np.array([stream]))
        if self.live_state is not None:
            self.live_state.remove_camera(stream)
        log.info("%s: removed; %d frames scored", self.sources[stream].name,
                 int(self._frames[stream]))

    def _stop_decoders(self, block: FrameRings) -> None:
        """Stop the decoders of ``block``, none of whose rings is in use, in a thread of
        their own: a grab loop stuck in a read (a silent network camera) is waited for
        there, while the loop scores on; :meth:`_close_stopped` closes the block."""
        decoders = next(d for d in self._decoders if d.rings is block)
        self._decoders.remove(decoders)
        stopper = threading.Thread(target=decoders.stop, daemon=True, name="stop decoders")
        stopper.start()
        self._stopping.append((decoders, stopper))

    def _close_stopped(self) -> None:
        """Close the blocks whose decoders are stopped and have all ended; a block a
        thread stuck in a read may still write into stays open, unread, until it ends or
        the watch does."""
        ended = [(decoders, stopper) for decoders, stopper in self._stopping
                 if not stopper.is_alive() and decoders.ended]
        for decoders, stopper in ended:
            self._stopping.remove((decoders, stopper))
            self._rings.close_block(decoders.rings)

    def _apply(self, stream: int, rules: EventRules, mask: np.ndarray | None) -> None:
        self._events.set_rules(stream, rules)
        self._masks[stream] = mask
        scorer = self._scorer_of[stream]
        if scorer.located is not None:
            scorer.located.ignore(scorer.local(stream), mask)
        if self.live_state is not None:
            self.live_state.set_camera(stream, rules.threshold, mask)

    def report(self) -> list[SourceReport]:
        """What happened to each source so far, those whose stream went to a camera added
        later first; callable from another thread while :meth:`run` runs, and after it."""
        self._count()
        return [replace(r) for r in [*self._retired, *self.reports]]

    def _count(self) -> None:
        """Bring each running source's report up to the rings' counts."""
        rings = self._rings
        if rings.blocks and not rings.closed:
            drops, available = rings.drops(), rings.available()
            reconnects, connected, finished, skipped = (rings.counts(name) for name in (
                "reconnects", "connected", "finished", "skipped"))
            for stream, report in enumerate(self.reports[:len(drops)]):
                if self._removed[stream]:  # as it was removed
                    continue
                report.frames = int(self._frames[stream])
                report.drops = int(drops[stream])
                report.skipped = int(skipped[stream])
                report.reconnects = int(reconnects[stream])
                report.error = rings.error_of(stream)
                report.connected = bool(connected[stream])
                report.finished = bool(finished[stream]) and not available[stream]

    def run(self) -> list[SourceReport]:
        """Score until every source ends, :meth:`stop`, or Ctrl-C (a normal end here).
        Everything scored is written and open events are closed before it returns."""
        (self.out / EVENT_SNAPSHOTS).mkdir(exist_ok=True)
        if self._clip_rules:
            self._clips = Clips(self._labels, self.frame_size, self._clip_rules,
                                self._heat if self._clip_rules.overlay else None)
        block = self._rings.create(range(len(self.sources)),
                                   [s.queue_frames for s in self.sources],
                                   [s.drop_oldest for s in self.sources], self.frame_size)
        # a live source counts as connected from its first frame on: a camera still
        # opening (an RTSP open can take seconds) holds up no step
        block.connected[self._live] = 0
        try:
            self._writer = OutputWriter(self.out, self._labels, self._videos,
                                        self.out / EVENTS_FILE, self.sinks)
            self._status = StatusLines(self.sources, self._rings)
            self._start_decoders(self.sources, block)
            try:
                self._loop()
            except KeyboardInterrupt:
                log.info("interrupted: closing the outputs")
            finally:
                self._finish()
        finally:
            self._rings.close()
        return self.report()

    def _start_decoders(self, sources: Sequence[Source], block: FrameRings) -> None:
        """Decode ``sources`` into ``block``, ring i source i, in at most
        :attr:`decoders` processes."""
        decoders = Decoders(sources, block, min(self.decoders, len(sources)))
        self._decoders.append(decoders)
        decoders.start()

    def _loop(self) -> None:
        rings, waiting_since = self._rings, None
        while not self._stop.is_set():
            if not self._changes.empty():
                self._drain()
            while not self._changes.empty():
                kind, *change = self._changes.get()
                {"add": self._add, "update": self._apply, "remove": self._remove}[kind](*change)
            cameras = self._status.refresh(self._labels, self._events.active, ~self._removed)
            if cameras is not None:  # once a second
                for decoders in self._decoders:
                    decoders.reap()
                self._close_stopped()
                self._send_status(cameras)
            # finished read before the counts: no frame after; removed cameras count as ended
            finished = rings.counts("finished").astype(bool) | self._removed
            available = rings.available()
            ready = (available > 0) & ~self._removed
            if not ready.any():
                self._drain()
                if finished.all() and self._changes.empty():
                    return
                time.sleep(POLL)
                continue
            missing = ~ready & ~finished & (rings.counts("connected").astype(bool) | ~self._live)
            if missing.any():
                waiting_since = waiting_since or time.monotonic()
                overdue = time.monotonic() - waiting_since > self.max_wait
                behind = (available[ready] > 1).any()  # a ready source has more queued
                if not ((overdue or behind) and self._drops[missing].all()):
                    self._drain()
                    time.sleep(POLL)
                    continue
            waiting_since = None
            self.step(ready)

    def step(self, ready: np.ndarray) -> Taken:
        """Launch one engine step per group over its streams: the next frame of each
        ``ready`` one, blank frames elsewhere. Then, while the engines run it, read the
        step launched before: scores, events, rows and status as arrays over the streams.
        Returns the frames launched."""
        batch = self._step_batch()  # (B, S, S) uint8
        taken = self._rings.take(ready, batch)
        for decoders in self._decoders:
            decoders.taken()
        rows = taken.rows
        scored = np.zeros(len(self.sources), bool)
        scored[rows] = True
        batch[~scored] = 0
        new_video = taken.epoch != self._epoch[rows]
        self._epoch[rows] = taken.epoch
        restart = np.zeros(len(self.sources), bool)
        restart[rows[new_video]] = True
        for scorer in self._scorers:
            scorer.launch(batch, restart, scored)
        launched, self._launched = self._launched, _Launched(taken, batch, new_video)
        if launched is not None:
            self._complete(launched)
        return taken

    def _step_batch(self) -> np.ndarray:
        """Where a step's frames go: the engine's own batch where one engine scores every
        stream in order (no copy), else the watch's; two buffers take turns either way,
        so the step before's frames stay until it is read."""
        scorers = self._scorers
        if len(scorers) == 1 and len(scorers[0].streams) == len(self.sources):
            return scorers[0].engine.batch
        self._batches.reverse()
        return self._batches[0]

    def _drain(self) -> None:
        """Read the step on the engines, if any (before waiting, changing cameras or
        ending)."""
        launched, self._launched = self._launched, None
        if launched is not None:
            self._complete(launched)

    def _complete(self, launched: _Launched) -> None:
        """Read a launched step's results: scores, events, rows, clips and status."""
        taken, batch, new_video = launched.taken, launched.batch, launched.new_video
        rows = taken.rows
        errors, patches, history, scores, maps = self._collect()
        self._frames[rows] += 1
        self._since_restart[rows[new_video]] = 0
        self._since_restart[rows] += 1
        self._writer.rows(Rows(rows, taken.time, taken.video, taken.index, history[rows],
                               errors[rows], patches[rows], scores[rows],
                               scores[rows] > self._events.threshold[rows]))
        self._status.scored(rows, taken.grabbed, scores[rows])
        events = self._events
        ended = events.close(rows[new_video])
        was_active = events.active[rows]
        ended += events.update(rows, taken.index, taken.time, scores[rows], taken.video)
        started = rows[events.active[rows] & ~was_active]
        if self._clips:
            self._clips.cut(rows[new_video])
        for stream, event in ended:
            self._end(stream, event)
        if self._clips:  # after the ends (their post-rolls take this frame), before the starts
            self._clips.add(rows, batch[rows], taken.time, scores[rows], events.active[rows],
                            None if maps is None else [maps[k] for k in rows.tolist()])
        for stream in started.tolist():
            self._start(stream)
        peaked = rows[events.open[rows] & (events.peak_frame[rows] == taken.index)]
        self._peaks[peaked] = batch[peaked]
        if self.live_state is not None:
            self.live_state.update(rows, scores[rows], events.active[rows], batch,
                                   None if maps is None else [maps[k] for k in rows.tolist()])
        if self._overlays and maps is not None:
            for k, stream in enumerate(rows.tolist()):
                self._draw(stream, batch[stream], float(taken.time[k]), float(scores[stream]),
                           maps[stream])

    def _collect(self) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray,
                                list[np.ndarray | None] | None]:
        """Every group's oldest launched step: errors, patch errors, histories and scores
        (B,) over the watch's streams, and each stream's score map (None: no group keeps
        maps)."""
        parts = [scorer.collect() for scorer in self._scorers]
        order = np.argsort(np.concatenate([scorer.streams for scorer in self._scorers]))
        columns = [np.concatenate([part[k] for part in parts])[order] for k in range(4)]
        if all(part[4] is None for part in parts):
            return *columns, None
        maps = [m for part, scorer in zip(parts, self._scorers, strict=True)
                for m in (part[4] if part[4] is not None else [None] * len(scorer.streams))]
        return *columns, [maps[k] for k in order.tolist()]

    def _draw(self, stream: int, image: np.ndarray, seconds: float, score: float,
              error_map: np.ndarray) -> None:
        """The frame's overlay: the score's map on the calibrated scale, score curve, event."""
        self._curves[stream].append(score)
        heat = self._heat[stream]
        drawn = draw_overlay(upscale(image), error_map, limit=heat.limit,
                             patch_size=heat.patch_size, scores=self._curves[stream],
                             threshold=float(self._events.threshold[stream]),
                             alarm=bool(self._events.active[stream]),
                             label=f"{self.sources[stream].name} {seconds:.1f}s",
                             mask=self._masks[stream])
        self._overlays[stream].write(drawn)

    def _file_name(self, stream: int, event: Event, frame: int, suffix: str) -> str:
        """An event's snapshot or clip name, ``CAMERA-VIDEO-FRAME-TAG.png``: its frame
        number restarts with each video and connection, so the tag of the event's id
        (:meth:`_new_id`) keeps names of events of the same frame apart."""
        video = file_label(Path(event.video).stem)
        return f"{self._labels[stream]}-{video}-{frame:06d}-{_tag(self._ids[stream])}{suffix}"

    def _new_id(self, stream: int, event: Event) -> str:
        """A new event's id whose tag no earlier snapshot or clip of this camera and video
        holds, in this run or in files of the output folder (a run before)."""
        prefix = f"{self._labels[stream]}-{file_label(Path(event.video).stem)}-"
        while True:
            new = event_id()
            tag = _tag(new)
            if tag not in self._tags and not any(
                    next((self.out / folder).glob(f"{glob.escape(prefix)}*-{tag}.*"), None)
                    for folder in (EVENT_SNAPSHOTS, EVENT_CLIPS)):
                self._tags.add(tag)
                return new

    def _record(self, kind: str, stream: int, event: Event) -> dict:
        """The JSON record of an event's start or end (see ``pipeline/event_file.py``)."""
        event = replace(event, id=self._ids[stream], camera=self._labels[stream])
        clip = self._clip_paths[stream]
        return {"type": kind} | event.as_dict() | {
            "clip": str(clip.relative_to(self.out)) if clip else None}

    def _start(self, stream: int) -> None:
        """Stream ``stream``'s run has just become an event: its start record, now, and
        its clip."""
        event = self._events.event(stream)
        self._ids[stream] = self._new_id(stream, event)
        if self._clips:
            path = self.out / EVENT_CLIPS / self._file_name(stream, event, event.start_frame,
                                                            ".mp4")
            self._clip_paths[stream] = path
            self._clips.start(stream, path, event.start_time,
                              float(self._events.threshold[stream]), self._masks[stream])
        record = self._record("start", stream, event)
        self._writer.event(record | {"end_frame": None, "end_time": None})

    def _end(self, stream: int, event: Event) -> None:
        snapshot = self.out / EVENT_SNAPSHOTS / self._file_name(stream, event,
                                                                event.peak_frame, ".png")
        record = self._record("end", stream, event) | {
            "snapshot": str(snapshot.relative_to(self.out))}
        self._writer.event(record, snapshot, self._peaks[stream])
        if self._clips:
            self._clips.end(stream, event.end_time)
        self.reports[stream].events += 1
        log.info("%s: event in %s, frames %d-%d, peak score %.2f at frame %d", event.source,
                 event.video, event.start_frame, event.end_frame, event.peak_score,
                 event.peak_frame)

    def _finish(self) -> None:
        try:
            self._drain()  # the step launched last
        finally:
            self._close()

    def _close(self) -> None:
        for decoders in self._decoders:
            decoders.stop()
        for _, stopper in self._stopping:
            stopper.join()
        try:
            for stream, event in self._events.close(np.arange(len(self.sources))):
                self._end(stream, event)
        finally:
            try:
                self._writer.close()
            finally:
                try:
                    if self._clips:
                        self._clips.close()
                finally:
                    for video in self._overlays:
                        video.close()
                    # the last status (every event closed, nothing scored any more), then
                    # the sinks stop
                    self._send_status(self._status.refresh(
                        self._labels, self._events.active, ~self._removed, final=True))
                    for sink in self.sinks:
                        sink.close()
                    self._status.close()
                    self._count()

    def _send_status(self, cameras: list[dict]) -> None:
        """Hand the status of each camera not removed, with its counts so far (``frames``,
        ``events``, ``finished``, ``error``) and whether its located score is in its
        warm-up (``warming_up``), to every sink."""
        self._count()
        reports = [r for r, removed in zip(self.reports, self._removed, strict=True)
                   if not removed]
        warming = self._warming_up()[~self._removed]
        for camera, report, warm in zip(cameras, reports, warming, strict=True):
            camera |= {"frames": report.frames, "events": report.events,
                       "finished": report.finished, "error": report.error,
                       "warming_up": bool(warm)}
        for sink in self.sinks:
            sink.status(cameras)

    def _warming_up(self) -> np.ndarray:
        """(sources,) bool: whose located score's running level is in its warm-up (see
        :meth:`~convlstm_ae.scoring.located.LocatedDesign.warming_up`)."""
        warming = np.zeros(len(self.sources), bool)
        for scorer in self._scorers:
            if scorer.located is not None:
                warming[scorer.streams] = scorer.located.design.warming_up(
                    self._since_restart[scorer.streams])
        return warming


def event_id() -> str:
    """A new event's id: its wall-clock start and a random tag, ``1718000000.123456-3fa9c2``
    (as Frigate's ids), so ids sort by start and never repeat across runs."""
    return f"{time.time():.6f}-{secrets.token_hex(3)}"


def _tag(event: str) -> str:
    """The random tag of an event id (:func:`event_id`)."""
    return event.rsplit("-", 1)[1]


