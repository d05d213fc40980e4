"""Fixtures of the live tests: a tiny model that alarms on noise, clips to watch, and a
watch with its page."""

from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path

import pytest

from convlstm_ae.live.clips import ClipRules
from convlstm_ae.live.engine import open_engine
from convlstm_ae.live.events import EventRules
from convlstm_ae.live.models import Group, model_scoring
from convlstm_ae.live.sources import Source, open_source
from convlstm_ae.live.watch import Watch
from media import clip, noise_calibrated, write_avi


@pytest.fixture(scope="module")
def media(tmp_path_factory, release_tiny):
    root = tmp_path_factory.mktemp("live")
    folder = root / "clips"
    write_avi(folder / "a.avi", clip())
    write_avi(folder / "b.avi", clip(20, noisy=(), seed=1))
    return {"model": noise_calibrated(release_tiny(root / "model", 4), 4),
            "video": folder / "a.avi", "folder": folder, "root": root}


@dataclass
class PagedWatch:
    """A watch not yet run and its page, served on 127.0.0.1 at ``url``."""

    watch: Watch
    url: str
    model: Path
    out: Path


@pytest.fixture(scope="module")
def paged_watch(tmp_path_factory, release_tiny) -> Iterator[Callable[..., PagedWatch]]:
    """``paged_watch(sources)``: a watch of ``sources`` (video files, or sources) with a
    tiny model that scores noise above its threshold 3 (as ``media``'s; or ``scored_by``),
    clips of 0.5 s
    before and after each event, scoring as fast as it decodes; and its page (``watch
    --serve``), already serving, until the module's end."""
    from convlstm_ae.live.serve import page_app
    from convlstm_ae.live.server import PageServer, listen

    root = tmp_path_factory.mktemp("paged")
    model = noise_calibrated(release_tiny(root / "model", 4), 4)
    servers: list[PageServer] = []

    def start(sources: Sequence[Path | Source], scored_by: Path = model) -> PagedWatch:
        engine = open_engine(scored_by, len(sources), device="cpu", maps=True)
        sources = [open_source(str(s), engine.frame_size, realtime=False)
                   if isinstance(s, Path) else s for s in sources]
        scoring = model_scoring(scored_by)
        out = tmp_path_factory.mktemp("out")
        watch = Watch([Group.of_all(engine, scoring)], sources, out,
                      rules=EventRules(scoring.threshold), decoders=0, publish=True,
                      clips=ClipRules(0.5, 0.5))
        server = PageServer(page_app(watch.live_state), listen("127.0.0.1:0", None))
        server.start()
        servers.append(server)
        return PagedWatch(watch, server.url, scored_by, out)

    yield start
    for server in servers:
        server.stop()
