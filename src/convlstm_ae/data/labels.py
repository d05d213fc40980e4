"""Label files: per-frame 0/1 labels of test videos (1 marks an abnormal frame).

:func:`read_labels` reads the formats of the benchmark distributions (``.json``,
``.mat``, ``.npy``, UCSD ``.m``, folders of per-clip masks or arrays);
:func:`read_subway_labels` reads Subway's frame ranges of a whole video. Which file a
dataset folder holds is the layouts' business (``layouts.py``).
"""

from __future__ import annotations

import json
import multiprocessing
import re
from collections.abc import Sequence
from concurrent.futures import ProcessPoolExecutor
from concurrent.futures.process import BrokenProcessPool
from pathlib import Path

import numpy as np

from convlstm_ae.data.arrays import DAMAGED_NPY, load_npy
from convlstm_ae.data.video_io import image_files, read_image
from convlstm_ae.errors import DatasetLayoutError


def read_labels(
    path: str | Path, names: Sequence[str], lengths: Sequence[int | None]
) -> tuple[dict[str, np.ndarray], str]:
    """Per-frame 0/1 labels of the test videos ``names`` from one label file or folder.

    Formats, by suffix:

    * ``.json``: ``{"01": [0, 1, ...], ...}``, per-frame 0/1 per clip.
    * ``.mat``: ``gt``, a 1xK cell whose entry k is a 2xR array ``[starts; ends]``
      (1-based inclusive) for the k-th clip (ano_pred); or one 0/1 array per clip,
      named by the clip.
    * ``.npy``: all clips' 0/1 labels concatenated in clip order, shape (1, total) or
      (total,) (MNAD).
    * ``.m``: UCSD ``TestVideoFile{end+1}.gt_frame = [61:180];``, one line per clip in
      order; ``[1:5, 90:120]`` gives two ranges, ``[]`` none.
    * a folder of per-clip files: ``Test001_gt/`` mask images (UCSD), ``1_label.mat``
      holding ``volLabel``, a 1xN cell of HxW masks (Avenue), or ``01_0014.npy``
      (ShanghaiTech). A frame is abnormal iff its mask is non-empty.

    Clip keys match a name exactly or by their numbers: ``"1"``, ``"01"`` and
    ``"Test001"`` are one clip.

    Args:
        path: the label file or folder.
        names: test clip names, in clip order.
        lengths: frame count of each clip, None where unknown; range and concatenated
            formats need them.
    Returns:
        Labels (uint8 0/1) of the clips the file covers, and a one-line description.
    Raises:
        DatasetLayoutError: a missing or unreadable file, an unexpected structure,
            ranges past a clip's end, a count that does not match the clips.
    """
    path = Path(path)
    if path.is_dir():
        return _read_label_folder(path, names)
    if not path.is_file():
        raise DatasetLayoutError(f"{path}: no such label file")
    suffix = path.suffix.lower()
    if suffix == ".json":
        data = _load_json(path)
        if not isinstance(data, dict):
            raise DatasetLayoutError(f"{path}: holds a {type(data).__name__}; expected "
                                     '{"01": [0/1 per frame], ...}')
        labels = {name: _binary(path, f"clip {key}", values)
                  for name, (key, values) in _match(path, data, names).items()}
        return labels, f"{path.name}: per-clip frame 0/1 lists (JSON)"
    if suffix == ".mat":
        return _read_mat(path, names, lengths)
    if suffix == ".npy":
        return _read_concatenated(path, names, lengths)
    if suffix == ".m":
        labels = _from_ranges(path, parse_ucsd_m(path), names, lengths)
        return labels, f"{path.name}: gt_frame ranges, 1-based inclusive (original UCSD)"
    raise DatasetLayoutError(f"{path}: unknown label format {path.suffix!r}; expected .json, "
                             ".mat, .npy, .m or a folder of per-clip masks")


def parse_ucsd_m(path: str | Path) -> list[np.ndarray]:
    """Frame ranges of a UCSD ``UCSDped1.m`` / ``UCSDped2.m``: one (2, R) array
    ``[starts; ends]`` (1-based inclusive) per ``gt_frame`` line, in clip order."""
    path = Path(path)
    clips = []
    for number, line in enumerate(path.read_text(errors="replace").splitlines(), 1):
        match = re.search(r"gt_frame\s*=\s*\[([^\]]*)\]", line.split("%", 1)[0])
        if match is None:
            continue
        ranges = []
        for item in re.split(r"[,\s]+", match.group(1).strip()):
            if not item:
                continue
            parts = item.split(":")
            if len(parts) > 2 or not all(p.strip().isdigit() for p in parts):
                raise DatasetLayoutError(f"{path}: line {number}: cannot read {item!r}; "
                                         "expected start:end frame ranges")
            ranges.append((int(parts[0]), int(parts[-1])))
        clips.append(np.array(ranges, dtype=np.int64).reshape(-1, 2).T)
    if not clips:
        raise DatasetLayoutError(f"{path}: no 'gt_frame = [...]' lines; expected the UCSD "
                                 "TestVideoFile{end+1}.gt_frame = [61:180]; syntax")
    return clips


def _load_json(path: Path) -> object:
    try:
        return json.loads(path.read_text())
    except (ValueError, UnicodeDecodeError) as error:
        raise DatasetLayoutError(f"{path}: not valid JSON ({error})") from None


def _load_mat(path: Path) -> dict:
    """A .mat file read in a child process: SciPy's reader can crash the whole process
    (a bus error) on a damaged MAT-5 file, which no exception handler can catch. SciPy
    is imported here, not above: the light runtime (no SciPy) reads layouts, never .mat."""
    import scipy.io

    context = multiprocessing.get_context(
        "fork" if "fork" in multiprocessing.get_all_start_methods() else "spawn")
    try:
        with ProcessPoolExecutor(max_workers=1, mp_context=context) as pool:
            return pool.submit(scipy.io.loadmat, str(path)).result()
    except BrokenProcessPool:
        raise DatasetLayoutError(f"{path}: not a readable .mat file (the reader crashed on "
                                 "it)") from None
    except NotImplementedError:
        raise DatasetLayoutError(f"{path}: MATLAB v7.3 (HDF5) file; save it with -v7 "
                                 "for scipy to read") from None
    except Exception as error:  # SciPy's parser raises all kinds on damaged files
        raise DatasetLayoutError(f"{path}: not a readable .mat file "
                                 f"({type(error).__name__}: {error})") from None


def _numbers(name: str) -> tuple[int, ...]:
    return tuple(int(digits) for digits in re.findall(r"\d+", name))


def _match(path: Path, entries: dict, names: Sequence[str]) -> dict[str, tuple[str, object]]:
    """{clip name: (key, entry)} for the entries whose key names a clip."""
    by_numbers: dict[tuple[int, ...], list[str]] = {}
    for key in entries:
        by_numbers.setdefault(_numbers(key), []).append(key)
    matched = {}
    for name in names:
        numbers = _numbers(name)
        keys = [name] if name in entries else by_numbers.get(numbers, []) if numbers else []
        if len(keys) == 1:
            matched[name] = (keys[0], entries[keys[0]])
    if entries and not matched:
        shown = ", ".join(list(entries)[:5])
        raise DatasetLayoutError(f"{path}: no key names a test clip (keys {shown} ...; "
                                 f"clips {', '.join(names[:5])} ...)")
    return matched


def _binary(path: Path, where: str, values: object) -> np.ndarray:
    """Validated per-frame 0/1 labels as uint8 (N,)."""
    try:
        array = np.asarray(values)
    except ValueError:
        array = np.asarray(values, dtype=object)
    if array.ndim == 2 and 1 in array.shape:
        array = array.reshape(-1)
    if array.ndim != 1 or array.dtype.kind not in "biuf":
        raise DatasetLayoutError(f"{path}: labels of {where} have shape {array.shape} and type "
                                 f"{array.dtype}; expected a list of 0/1, one per frame")
    if not np.isin(array, (0, 1)).all():
        raise DatasetLayoutError(f"{path}: labels of {where} hold values other than 0 and 1")
    return array.astype(np.uint8)


def _known(path: Path, names: Sequence[str], lengths: Sequence[int | None]) -> list[int]:
    unknown = [name for name, n in zip(names, lengths, strict=True) if n is None]
    if unknown:
        raise DatasetLayoutError(f"{path}: needs the frame count of each clip, unknown for "
                                 f"{', '.join(unknown[:5])} (unreadable video header)")
    return list(lengths)


def _from_ranges(
    path: Path, clips: list[np.ndarray], names: Sequence[str], lengths: Sequence[int | None]
) -> dict[str, np.ndarray]:
    """Per-frame labels from one (2, R) array of 1-based inclusive ranges per clip."""
    if len(clips) != len(names):
        raise DatasetLayoutError(f"{path}: ranges for {len(clips)} clips but there are "
                                 f"{len(names)} test clips")
    labels = {}
    for name, ranges, n in zip(names, clips, _known(path, names, lengths), strict=True):
        y = np.zeros(n, np.uint8)
        for start, end in ranges.T:
            if not 1 <= start <= end <= n:
                raise DatasetLayoutError(f"{path}: range {start}:{end} of clip {name} is outside "
                                         f"its frames 1..{n}")
            y[start - 1:end] = 1
        labels[name] = y
    return labels


def _read_mat(
    path: Path, names: Sequence[str], lengths: Sequence[int | None]
) -> tuple[dict[str, np.ndarray], str]:
    data = {k: v for k, v in _load_mat(path).items() if not k.startswith("__")}
    if "gt" not in data:
        clips = {k: v for k, v in data.items() if _numbers(k) or k in names}
        if not clips:
            raise DatasetLayoutError(
                f"{path}: no variable 'gt' (found: {', '.join(data) or 'none'}); expected "
                "gt, a 1xK cell of [starts; ends] frame ranges, or one 0/1 array per clip")
        labels = {name: _binary(path, f"variable {key}", values)
                  for name, (key, values) in _match(path, clips, names).items()}
        return labels, f"{path.name}: per-clip frame 0/1 arrays (.mat)"
    gt = data["gt"]
    if gt.dtype != object or gt.ndim != 2 or 1 not in gt.shape:
        raise DatasetLayoutError(f"{path}: gt is a {gt.dtype} array of shape {gt.shape}; "
                                 "expected a 1xK cell of 2xR [starts; ends] arrays")
    clips = []
    for k, entry in enumerate(gt.reshape(-1), 1):
        entry = np.asarray(entry)
        if entry.ndim == 1 and entry.size == 2:
            entry = entry.reshape(2, 1)
        if entry.ndim != 2 or entry.shape[0] != 2 or entry.dtype.kind not in "iuf":
            raise DatasetLayoutError(f"{path}: gt entry {k} is a {entry.dtype} array of shape "
                                     f"{entry.shape}; expected 2xR [starts; ends]")
        clips.append(entry.astype(np.int64))
    labels = _from_ranges(path, clips, names, lengths)
    return labels, f"{path.name}: frame ranges (gt [starts; ends], 1-based inclusive, ano_pred)"


def _read_concatenated(
    path: Path, names: Sequence[str], lengths: Sequence[int | None]
) -> tuple[dict[str, np.ndarray], str]:
    try:
        array = load_npy(path)
    except DAMAGED_NPY as error:
        raise DatasetLayoutError(f"{path}: not a readable .npy array ({error})") from None
    if not (array.ndim == 1 or (array.ndim == 2 and array.shape[0] == 1)):
        raise DatasetLayoutError(f"{path}: shape {array.shape}; expected (1, total) or (total,)")
    flat = _binary(path, "the concatenated clips", array.reshape(-1))
    counts = _known(path, names, lengths)
    if flat.size != sum(counts):
        raise DatasetLayoutError(f"{path}: {flat.size} labels but the {len(names)} test clips "
                                 f"hold {sum(counts)} frames")
    ends = np.cumsum(counts)
    labels = {name: flat[end - n:end] for name, n, end in zip(names, counts, ends, strict=True)}
    return labels, f"{path.name}: all test clips' frame 0/1 labels concatenated in clip order"


_FOLDER_KINDS = {
    "gt": "pixel masks (*_gt/ images), frame abnormal iff its mask is non-empty",
    "volLabel": "pixel masks (volLabel), frame abnormal iff its mask is non-empty",
    "npy": "per-clip frame 0/1 arrays (.npy)",
}


def _read_label_folder(folder: Path, names: Sequence[str]) -> tuple[dict[str, np.ndarray], str]:
    entries = {}  # clip key -> (kind, path)
    for p in sorted(folder.iterdir()):
        if p.name.startswith("."):
            continue
        if p.is_dir() and p.name.endswith("_gt"):
            entries[p.name[:-3]] = ("gt", p)
        elif p.is_file() and p.suffix.lower() == ".mat" and p.stem.endswith("_label"):
            entries[p.stem[:-6]] = ("volLabel", p)
        elif p.is_file() and p.suffix.lower() == ".npy":
            entries[p.stem] = ("npy", p)
    if not entries:
        raise DatasetLayoutError(f"{folder}: no per-clip labels; expected Test001_gt/ mask "
                                 "folders, 1_label.mat (volLabel) or 01_0014.npy files")
    labels, kinds = {}, set()
    for name, (_, (kind, p)) in _match(folder, entries, names).items():
        kinds.add(kind)
        labels[name] = _read_clip_labels(kind, p)
    kinds_text = "; ".join(_FOLDER_KINDS[k] for k in sorted(kinds))
    return labels, f"{folder.name}/: {kinds_text}"


def _read_clip_labels(kind: str, path: Path) -> np.ndarray:
    if kind == "npy":
        try:
            array = load_npy(path)
        except DAMAGED_NPY as error:
            raise DatasetLayoutError(f"{path}: not a readable .npy array ({error})") from None
        return _binary(path, "this clip", array)
    if kind == "gt":
        flags = []
        for file in image_files(path):
            mask = read_image(file, gray=True)
            if mask is None:
                raise DatasetLayoutError(f"{file}: cannot decode mask image")
            flags.append(bool(mask.any()))
        return np.array(flags, np.uint8)
    masks = _load_mat(path).get("volLabel")
    if masks is None:
        raise DatasetLayoutError(f"{path}: no variable 'volLabel'; expected a 1xN cell of "
                                 "HxW pixel masks")
    if masks.dtype != object or masks.ndim != 2 or 1 not in masks.shape:
        raise DatasetLayoutError(f"{path}: volLabel is a {masks.dtype} array of shape "
                                 f"{masks.shape}; expected a 1xN cell of HxW pixel masks")
    flags = []
    for k, mask in enumerate(masks.reshape(-1), 1):
        mask = np.asarray(mask)
        if mask.ndim != 2 or mask.dtype.kind not in "biuf":
            raise DatasetLayoutError(f"{path}: volLabel entry {k} has shape {mask.shape}; "
                                     "expected an HxW mask")
        flags.append(bool(mask.any()))
    return np.array(flags, np.uint8)


def read_subway_labels(path: str | Path, total: int) -> np.ndarray:
    """Per-frame 0/1 labels of a whole Subway video from its abnormal frame ranges.

    Args:
        path: ``start end`` lines (1-based inclusive, ``#`` comments), or a ``.json``
            list ``[[start, end], ...]``.
        total: frame count of the whole video.
    Returns:
        uint8 0/1, shape (total,).
    Raises:
        DatasetLayoutError: a missing file, a malformed line or entry, a range outside
            the video's frames.
    """
    path = Path(path)
    if not path.is_file():
        raise DatasetLayoutError(f"{path}: no such label file")
    if path.suffix.lower() == ".json":
        data = _load_json(path)
        ok = isinstance(data, list) and all(
            isinstance(r, list) and len(r) == 2 and all(isinstance(v, int) for v in r)
            for r in data)
        if not ok:
            raise DatasetLayoutError(f"{path}: expected a JSON list of [start, end] frame ranges")
        ranges = [(r[0], r[1], i) for i, r in enumerate(data, 1)]
    else:
        ranges = []
        for number, line in enumerate(path.read_text(errors="replace").splitlines(), 1):
            fields = line.split("#", 1)[0].split()
            if not fields:
                continue
            if len(fields) != 2 or not all(f.isdigit() for f in fields):
                raise DatasetLayoutError(f"{path}: line {number}: {line.strip()!r}; expected "
                                         "'start end', 1-based inclusive frame numbers")
            ranges.append((int(fields[0]), int(fields[1]), number))
    y = np.zeros(total, np.uint8)
    for start, end, where in ranges:
        if not 1 <= start <= end <= total:
            raise DatasetLayoutError(f"{path}: range {start}-{end} (entry {where}) is outside "
                                     f"the video's frames 1..{total}")
        y[start - 1:end] = 1
    return y
