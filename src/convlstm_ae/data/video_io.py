"""Every OpenCV call of the data package: video headers, decoded frames, images, resizing.

Videos, frame folders and frame arrays are read as grayscale uint8.
"""

from __future__ import annotations

import itertools
import logging
import os
import re
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import cv2
import numpy as np

from convlstm_ae.data.arrays import DAMAGED_NPY, load_npy
from convlstm_ae.errors import DatasetLayoutError, VideoReadError

VIDEO_SUFFIXES = {".avi", ".mp4", ".mov", ".mkv", ".mpg", ".mpeg", ".wmv", ".m4v", ".webm"}
IMAGE_SUFFIXES = {".jpg", ".jpeg", ".png", ".bmp", ".tif", ".tiff"}
ARRAY_SUFFIXES = {".npy"}
# frames are resized to the model's square: beyond WIDE_ASPECT (long side : short side,
# wider than any camera's 32:9) the squashing is a warning, beyond MAX_ASPECT an error
WIDE_ASPECT, MAX_ASPECT = 4, 16
# resize_frames: frames of more pixels than this (640x480) are first reduced by a whole
# factor that leaves at least REDUCING_GAP times the model's size (Pillow's reducing_gap;
# OpenCV's area resize is several times faster at whole factors); smaller ones, as before
LARGE_FRAME, REDUCING_GAP = 640 * 480, 1.5

log = logging.getLogger(__name__)


def _gray(image: np.ndarray) -> np.ndarray:
    if image.ndim == 3:
        return cv2.cvtColor(image, cv2.COLOR_BGR2GRAY)
    return image


def image_files(folder: Path) -> list[Path]:
    """The image frames of a folder, sorted by name, hidden files skipped."""
    return sorted(
        p for p in folder.iterdir()
        if p.suffix.lower() in IMAGE_SUFFIXES and not p.name.startswith(".")
    )


def is_video(path: Path) -> bool:
    """A single video: a video file, a ``.npy`` frame array, or a folder of images."""
    if path.is_file():
        return path.suffix.lower() in VIDEO_SUFFIXES | ARRAY_SUFFIXES
    return path.is_dir() and bool(image_files(path))


def missing(path: Path) -> DatasetLayoutError:
    """The error for a path that does not exist. A URL (``rtsp://u:pw@host``, which Path
    folds to ``rtsp:/u:pw@host``) is not repeated: it may hold credentials."""
    url = re.match(r"([a-zA-Z][a-zA-Z0-9+.-]*):/", str(path))
    if url:
        return DatasetLayoutError(f"a {url[1]}:// URL: not a file or folder; only watch reads "
                                  "streams (the URL is not repeated: it may hold a password)")
    return DatasetLayoutError(f"{path}: no such file or folder")


def list_videos(path: str | Path) -> list[Path]:
    """The videos under ``path``: itself if it is one, else its video entries, sorted.

    Raises:
        DatasetLayoutError: the path is missing or holds no video.
        VideoReadError: a file of another type, or a pipe, socket or device.
    """
    path = Path(path)
    if not path.exists():
        raise missing(path)
    if is_video(path):
        return [path]
    if path.is_file():
        raise VideoReadError(f"{path}: unsupported file type {path.suffix!r}; expected a video "
                             f"({', '.join(sorted(VIDEO_SUFFIXES))}), .npy or a frame folder")
    if not path.is_dir():
        raise VideoReadError(f"{path}: a named pipe, socket or device, not a file or folder; "
                             "expected a video file, .npy or a frame folder")
    videos = sorted(p for p in path.iterdir() if not p.name.startswith(".") and is_video(p))
    if not videos:
        raise DatasetLayoutError(f"{path}: holds no video file, .npy array or folder of frames")
    return videos


@dataclass(frozen=True)
class VideoHeader:
    """What a video file's header states, read without decoding.

    Attributes:
        num_frames: frame count; None where the header gives none.
        fps: frame rate; None where missing or implausible (not in (0, 1000)).
        size: (W, H) of the frames.
    """

    num_frames: int | None
    fps: float | None
    size: tuple[int, int]


def read_header(path: Path) -> VideoHeader | None:
    """The header of a video file; None when OpenCV cannot open it."""
    capture = cv2.VideoCapture(str(path))
    try:
        if not capture.isOpened():
            return None
        count = int(capture.get(cv2.CAP_PROP_FRAME_COUNT))
        fps = capture.get(cv2.CAP_PROP_FPS)
        size = (int(capture.get(cv2.CAP_PROP_FRAME_WIDTH)),
                int(capture.get(cv2.CAP_PROP_FRAME_HEIGHT)))
    finally:
        capture.release()
    return VideoHeader(count if count > 0 else None, fps if 0 < fps < 1000 else None, size)


def _jpeg_packets(capture: cv2.VideoCapture) -> bool:
    """Switch an MJPG capture to hand over each frame's JPEG undecoded; False (the capture
    unchanged) for another codec, or where the backend cannot."""
    fourcc = (int(capture.get(cv2.CAP_PROP_FOURCC)) & 0xFFFFFFFF).to_bytes(4, "little")
    return fourcc.upper() == b"MJPG" and capture.set(cv2.CAP_PROP_FORMAT, -1)


def video_frames(path: Path, keep: Callable[[int], bool] | None = None
                 ) -> Iterator[np.ndarray | None]:
    """The frames of a video file, decoded one at a time as grayscale uint8 (H, W).

    An MJPG video's frames are JPEGs, decoded to their luma alone by :func:`decode_image`
    (libjpeg-turbo): cheaper than FFmpeg's colour decoding then ``BGR2GRAY``, whose gray
    is about one level darker. A JPEG that does not decode (damaged, or the last one
    cut short) ends the video there, as a cut-short file does: the frames before it keep
    their numbers, and so their labels. Other codecs go through FFmpeg and ``BGR2GRAY``.

    Args:
        keep: asked, once per frame in order, whether frame i is wanted; an unwanted one
            is read but not decoded to pixels (an MJPG frame not decoded at all) and
            comes as None. None: every frame.
    Raises:
        VideoReadError: OpenCV cannot open the file.
    """
    capture = cv2.VideoCapture(str(path))
    if not capture.isOpened():
        raise VideoReadError(f"{path}: cannot open video (corrupt, or a codec OpenCV lacks)")
    try:
        packets = _jpeg_packets(capture)
        for index in itertools.count():
            if not capture.grab():
                return
            if keep is not None and not keep(index):
                yield None
                continue
            ok, frame = capture.retrieve()
            frame = (decode_image(frame) if packets else _gray(frame)) if ok else None
            if frame is None:
                return
            yield frame
    finally:
        capture.release()


def read_image(file: Path, *, gray: bool) -> np.ndarray | None:
    """An image file decoded grayscale (``gray``) or as stored; None if undecodable."""
    return cv2.imread(str(file), cv2.IMREAD_GRAYSCALE if gray else cv2.IMREAD_UNCHANGED)


def decode_image(data: np.ndarray) -> np.ndarray | None:
    """A grayscale image decoded from a file's bytes (uint8 (n,)); None if undecodable."""
    return cv2.imdecode(data, cv2.IMREAD_GRAYSCALE)


def _reduction(height: int, width: int, size: int) -> int:
    """For a frame of more than ``LARGE_FRAME`` pixels, the largest power of two that
    divides both sides and leaves the short side at least ``REDUCING_GAP`` times
    ``size``; else 1."""
    factor = 1
    if height * width <= LARGE_FRAME:
        return factor
    while (height % (2 * factor) == 0 and width % (2 * factor) == 0
           and min(height, width) >= 2 * factor * REDUCING_GAP * size):
        factor *= 2
    return factor


def resize_frames(frames: np.ndarray, size: int) -> np.ndarray:
    """(N, H, W) uint8 -> (N, size, size) uint8 with area interpolation.

    A frame larger than 640x480 is first reduced by a whole factor (:func:`_reduction`),
    which OpenCV averages exactly and fast, then by area to ``size``, as Pillow's
    ``reducing_gap`` does: a 1280x720 frame to 225 px in a third of the time of one area
    resize. On smooth images the result is within one gray level of one area resize; at
    sharp edges a few pixels differ more (mean difference 0.04 levels on a 720p H.264
    video). Smaller frames (Ped2's, 640x480 and below) get one area resize."""
    if frames.shape[1:] == (size, size):
        return frames
    factor = _reduction(*frames.shape[1:], size)
    if factor > 1:
        reduced = (frames.shape[2] // factor, frames.shape[1] // factor)
        frames = np.stack([cv2.resize(f, reduced, interpolation=cv2.INTER_AREA) for f in frames])
    return np.stack([cv2.resize(f, (size, size), interpolation=cv2.INTER_AREA) for f in frames])


def check_aspect(path: Path, size: tuple[int, int], frame_size: int) -> None:
    """Frames of ``size`` (W, H) far from square, which resizing to the model's square
    squashes: a warning beyond :data:`WIDE_ASPECT`, an error beyond :data:`MAX_ASPECT`
    (a transposed or flattened array, not a camera's frames).

    Raises:
        VideoReadError: the long side is more than :data:`MAX_ASPECT` times the short.
    """
    width, height = size
    ratio = max(width, height) / max(min(width, height), 1)
    if ratio <= WIDE_ASPECT:
        return
    message = (f"{path}: frames are {width}x{height} ({round(ratio, 1):g}:1), squashed "
               f"to the model's {frame_size}x{frame_size}")
    if ratio > MAX_ASPECT:
        raise VideoReadError(f"{message}; more than {MAX_ASPECT}:1 is refused (a transposed "
                             "or flattened array?)")
    log.warning(message)


def _read_video_file(path: Path, frame_size: int, strict: bool) -> list[np.ndarray]:
    """Frames resized as they are decoded, so memory follows the model's frame size, not
    the video's; fewer frames than the header promises is a warning (``strict``: error)."""
    frames, first = [], None
    for index, frame in enumerate(video_frames(path)):
        if first is None:
            first = frame.shape
            check_aspect(path, first[::-1], frame_size)
        if frame.shape != first:
            raise VideoReadError(
                f"{path}: frame {index} is {frame.shape[1]}x{frame.shape[0]} but frame 0 is "
                f"{first[1]}x{first[0]}; frames of one video must share a size")
        frames.append(resize_frames(frame[None], frame_size)[0])
    if not frames:
        raise VideoReadError(f"{path}: no frames could be decoded (empty or corrupt video)")
    header = read_header(path)
    promised = header.num_frames if header else None
    if promised and len(frames) < promised:
        message = (f"{path}: decoded {len(frames)} of the {promised} frames its header "
                   "promises (truncated or partly corrupt)")
        if strict:
            raise VideoReadError(message)
        log.warning(message)
    return frames


def size_mismatch(file: Path, size: tuple[int, int], first: Path,
                  first_size: tuple[int, int]) -> str:
    """The one-line problem of a frame folder's image whose (W, H) differs from the first's."""
    return (f"{file}: image is {size[0]}x{size[1]} but the folder's first image {first.name} "
            f"is {first_size[0]}x{first_size[1]}; a frame folder's images must share one size "
            "(is this a folder of frames?)")


def _read_image_folder(path: Path) -> list[np.ndarray]:
    """The frames of a folder; its images must all have the first image's size."""
    frames: list[np.ndarray] = []
    files = image_files(path)
    for file in files:
        image = read_image(file, gray=False)
        if image is None:
            raise VideoReadError(f"{file}: cannot decode image (corrupt or empty file)")
        if image.dtype == np.uint16:  # scaled by the type's range: brightness stays comparable
            image = (image.astype(np.float32) * (255.0 / 65535.0)).round().astype(np.uint8)
        elif image.dtype != np.uint8:
            raise VideoReadError(f"{file}: pixel type {image.dtype}; expected 8 or 16 bit")
        frame = _gray(image[..., :3] if image.ndim == 3 else image)
        if frames and frame.shape != frames[0].shape:
            raise VideoReadError(size_mismatch(file, frame.shape[::-1], files[0],
                                               frames[0].shape[::-1]))
        frames.append(frame)
    return frames


def _read_array(path: Path) -> np.ndarray:
    try:
        array = load_npy(path)
    except DAMAGED_NPY as error:
        raise VideoReadError(f"{path}: not a readable .npy array ({error})") from None
    if not isinstance(array, np.ndarray) or array.ndim != 3:
        shape = getattr(array, "shape", None)
        raise VideoReadError(f"{path}: frame array has shape {shape}; expected (N, H, W)")
    if array.size == 0:
        raise VideoReadError(f"{path}: frame array {array.shape} holds no pixels")
    if array.dtype == np.uint8:
        return array
    if not np.issubdtype(array.dtype, np.number):
        raise VideoReadError(f"{path}: frame array of dtype {array.dtype}; expected numbers")
    if not np.isfinite(array).all():
        raise VideoReadError(f"{path}: frames contain NaN or infinite values")
    scale = 255.0 if array.max() <= 1.0 else 1.0
    if array.min() < 0 or array.max() * scale > 255:
        raise VideoReadError(f"{path}: pixel values outside [0, 1] or [0, 255]")
    return np.round(array * scale).astype(np.uint8)


def read_frames(path: str | Path, frame_size: int, strict: bool = False) -> np.ndarray:
    """All frames of one video, grayscale, resized to ``frame_size``: (N, S, S) uint8.

    Args:
        path: a video file OpenCV decodes, a folder of images (sorted by name), or a
            ``.npy`` array (N, H, W) of uint8 or of floats in [0, 1] or [0, 255].
        frame_size: side of the square frames the model takes.
        strict: a video file that decodes fewer frames than its header promises is an
            error, not a logged warning.
    Raises:
        VideoReadError: corrupt, empty or undecodable input, frames of mixed sizes, NaN,
            frames more than :data:`MAX_ASPECT` times wider than tall (or taller).
        DatasetLayoutError: the path does not exist.
    """
    path = Path(path)
    if not path.exists():
        raise missing(path)
    if path.is_dir():
        images = _read_image_folder(path)
        if not images:
            raise VideoReadError(f"{path}: folder holds no image frames")
        frames = np.stack(images)
    elif path.suffix.lower() in ARRAY_SUFFIXES:
        frames = _read_array(path)
    else:
        return np.stack(_read_video_file(path, frame_size, strict))
    check_aspect(path, frames.shape[:0:-1], frame_size)
    return resize_frames(frames, frame_size)


def model_frame(image: np.ndarray, size: int) -> np.ndarray:
    """One decoded frame (gray or BGR) as the model takes it: gray uint8 (size, size),
    resized as :func:`read_frames` does."""
    return resize_frames(_gray(image)[None], size)[0]


def encode_png(image: np.ndarray) -> bytes:
    """The bytes of ``image`` as a PNG file."""
    ok, data = cv2.imencode(".png", image)
    if not ok:
        raise VideoReadError(f"cannot encode a {image.shape} {image.dtype} image as PNG")
    return data.tobytes()


def encode_jpeg(image: np.ndarray, quality: int = 80) -> bytes:
    """The bytes of ``image`` as a JPEG file of ``quality`` (0-100)."""
    ok, data = cv2.imencode(".jpg", image, [cv2.IMWRITE_JPEG_QUALITY, quality])
    if not ok:
        raise VideoReadError(f"cannot encode a {image.shape} {image.dtype} image as JPEG")
    return data.tobytes()


class Capture:
    """A live OpenCV capture (webcam index or stream URL), read one frame at a time: each
    grabbed, then decoded only if wanted; a stream of JPEGs (MJPG over HTTP or RTSP)
    decoded to their luma, as :func:`video_frames` decodes an MJPG file, so a stream and
    its recording agree."""

    def __init__(self, capture: cv2.VideoCapture, packets: bool) -> None:
        self._capture = capture
        self._packets = packets

    @property
    def fps(self) -> float | None:
        """The frame rate the camera or stream states; None where it states none (or
        one not in (0, 1000))."""
        fps = self._capture.get(cv2.CAP_PROP_FPS)
        return fps if 0 < fps < 1000 else None

    def grab(self) -> bool:
        """Wait for the next frame and take it in, not decoded to pixels yet; False when
        the stream ends or drops."""
        return self._capture.grab()

    def retrieve(self) -> np.ndarray | None:
        """The frame grabbed last, decoded (gray or BGR); None for a JPEG that does not
        decode, which is passed over: a live stream's frames carry no labels."""
        ok, frame = self._capture.retrieve()
        if not ok:
            return None
        return decode_image(frame) if self._packets else frame

    def release(self) -> None:
        self._capture.release()


def open_capture(target: str | int) -> Capture | None:
    """Open a webcam (index) or a stream URL (RTSP, HTTP) through OpenCV; None if it
    cannot be opened."""
    capture = cv2.VideoCapture(target)
    if not capture.isOpened():
        capture.release()
        return None
    return Capture(capture, isinstance(target, str) and _jpeg_packets(capture))


def write_video(path: str | Path, frames: np.ndarray, fps: float, scale: int = 1) -> Path:
    """Write grayscale uint8 frames (N, H, W) as an MJPG ``.avi``, each pixel a
    ``scale`` x ``scale`` block; written whole or not at all (under a temporary ``.avi``
    name beside ``path``, OpenCV choosing the container by the suffix, then renamed).

    Raises:
        VideoReadError: OpenCV cannot write MJPG video here.
    """
    path = Path(path)
    frames = np.repeat(np.repeat(frames, scale, axis=1), scale, axis=2)
    height, width = frames.shape[1:]
    temporary = path.with_name(f".{path.stem}.{os.getpid()}.{uuid.uuid4().hex[:8]}.avi")
    try:
        writer = cv2.VideoWriter(str(temporary), cv2.VideoWriter_fourcc(*"MJPG"), fps,
                                 (width, height))
        if not writer.isOpened():
            raise VideoReadError(f"{path}: OpenCV cannot write MJPG video here")
        for frame in frames:
            writer.write(cv2.cvtColor(frame, cv2.COLOR_GRAY2BGR))
        writer.release()
        os.replace(temporary, path)
    finally:
        temporary.unlink(missing_ok=True)
    return path
