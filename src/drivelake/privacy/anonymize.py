"""Anonymise images, frame streams and video files: detect faces and plates, then redact them.

:class:`Anonymizer` is the stage: frames in, frames out (``anonymizer.frames(iterable)``), so the
same object serves a single image, a video file, lake frames and clips, or an export.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Sequence
from fractions import Fraction
from functools import cache
from pathlib import Path

import numpy as np

from drivelake.errors import InputError
from drivelake.privacy.boxes import Box, Detector
from drivelake.privacy.redact import Mode, redact

IMAGE_SUFFIXES = {".png", ".jpg", ".jpeg", ".bmp", ".tif", ".tiff", ".webp"}
PADDING = {"face": 0.2, "plate": 0.25}  # of the box's size, per side
MIN_PADDING_PX = 3.0


class Anonymizer:
    """Faces and plates redacted in RGB frames.

    Detectors default to the offline ones (CenterFace, the plate detector); any object with
    ``detect(image) -> list[Box]`` can replace them, e.g. an ``EgoBlurDetector``.
    Boxes are padded (``padding`` per label, at least ``MIN_PADDING_PX``) before redaction.
    """

    def __init__(
        self,
        faces: bool = True,
        plates: bool = True,
        mode: Mode | str = Mode.blur,
        face_detector: Detector | None = None,
        plate_detector: Detector | None = None,
        padding: dict[str, float] | None = None,
        threads: int | None = None,
    ) -> None:
        self.mode = Mode(mode)
        self.padding = {**PADDING, **(padding or {})}
        self.detectors: list[Detector] = []
        if faces:
            if face_detector is None:
                from drivelake.privacy.faces import CenterFaceDetector

                face_detector = CenterFaceDetector(threads=threads)
            self.detectors.append(face_detector)
        if plates:
            if plate_detector is None:
                from drivelake.privacy.plates import PlateDetector

                plate_detector = PlateDetector(threads=threads)
            self.detectors.append(plate_detector)

    def boxes(self, image: np.ndarray) -> list[Box]:
        """The padded boxes that will be redacted in ``image``."""
        return [
            box.padded(self.padding.get(box.label, 0.2), MIN_PADDING_PX)
            for detector in self.detectors
            for box in detector.detect(image)
        ]

    def __call__(self, image: np.ndarray) -> np.ndarray:
        return redact(image, self.boxes(image), self.mode)

    def frames(self, frames: Iterable[np.ndarray]) -> Iterator[np.ndarray]:
        """The stage over a stream: each RGB frame anonymised, in order."""
        for frame in frames:
            yield self(frame)


def is_image(path: str | Path) -> bool:
    return Path(path).suffix.lower() in IMAGE_SUFFIXES


def anonymize_image(
    source: str | Path, target: str | Path, anonymizer: Anonymizer | None = None
) -> int:
    """Write an anonymised copy of an image; returns the number of regions redacted."""
    from PIL import Image, UnidentifiedImageError

    anonymizer = anonymizer or Anonymizer()
    try:
        with Image.open(source) as im:
            pixels = np.asarray(im.convert("RGB"))
    except (OSError, UnidentifiedImageError) as exc:
        raise InputError(source, f"cannot read image: {exc}") from exc
    boxes = anonymizer.boxes(pixels)
    Image.fromarray(redact(pixels, boxes, anonymizer.mode)).save(target)
    return len(boxes)


@cache
def shared_anonymizer(faces: bool, plates: bool) -> Anonymizer:
    """One loaded anonymizer per combination, for servers that redact frame after frame."""
    return Anonymizer(faces=faces, plates=plates)


def anonymize_jpeg(jpeg: bytes, levels: Sequence[str], quality: int = 90) -> bytes:
    """A JPEG with the kinds named in ``levels`` (``"faces"``, ``"plates"``) redacted: what a
    partner's share serves when its licence requires anonymised frames."""
    import io

    from PIL import Image

    faces, plates = "faces" in levels, "plates" in levels
    with Image.open(io.BytesIO(jpeg)) as im:
        pixels = np.asarray(im.convert("RGB"))
    if faces or plates:
        pixels = shared_anonymizer(faces, plates)(pixels)
    out = io.BytesIO()
    Image.fromarray(pixels).save(out, format="JPEG", quality=quality)
    return out.getvalue()


def anonymize_video(
    source: str | Path,
    target: str | Path,
    anonymizer: Anonymizer | None = None,
    keep_audio: bool = False,
    crf: int = 20,
) -> int:
    """Decode, anonymise every frame, encode H.264 (MP4/MKV by ``target``'s suffix).

    Frame timestamps are carried over, so frame rate and duration are those of the source; audio
    is dropped unless ``keep_audio`` (voices identify too) and then copied untouched. Returns the
    number of frames written.
    """
    import av

    anonymizer = anonymizer or Anonymizer()
    try:
        source_container = av.open(str(source))
    except av.FFmpegError as exc:
        raise InputError(source, f"cannot open video: {exc}") from exc
    with source_container as src, av.open(str(target), "w") as dst:
        if not src.streams.video:
            raise InputError(source, "no video stream")
        video_in = src.streams.video[0]
        video_in.thread_type = "AUTO"
        rate = video_in.average_rate or video_in.guessed_rate or Fraction(30)
        video_out = dst.add_stream("libx264", rate=rate)
        video_out.width = video_in.codec_context.width & ~1  # yuv420p needs even sizes
        video_out.height = video_in.codec_context.height & ~1
        video_out.pix_fmt = "yuv420p"
        video_out.time_base = video_in.time_base
        video_out.options = {"crf": str(crf), "preset": "veryfast"}
        audio = _audio_streams(src, dst) if keep_audio else {}
        written = 0
        streams: Sequence = [video_in, *audio]
        try:
            for packet in src.demux(*streams):
                if packet.stream in audio:
                    if packet.dts is not None:
                        packet.stream = audio[packet.stream]
                        dst.mux(packet)
                    continue
                for frame in packet.decode():
                    pixels = frame.to_ndarray(format="rgb24")[: video_out.height, : video_out.width]
                    out = av.VideoFrame.from_ndarray(anonymizer(pixels), format="rgb24")
                    out.pts, out.time_base = frame.pts, frame.time_base
                    dst.mux(video_out.encode(out))
                    written += 1
        except av.FFmpegError as exc:
            raise InputError(source, f"cannot decode video: {exc}") from exc
        dst.mux(video_out.encode(None))
    return written


def _audio_streams(src, dst) -> dict:
    """Output audio streams copying the source's, keyed by the source stream."""
    return {stream: dst.add_stream_from_template(stream) for stream in src.streams.audio}
