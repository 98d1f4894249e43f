"""Pixel and video work for the media pipeline: bytes in, metadata-free renditions out.

No database and no storage here, so the Celery task and ``bench/media.py`` share it.
Anything wrong with the *input* raises :class:`MediaRejected` with a reason a person can
read; the asset then ends ``failed`` (no retry: the same bytes fail the same way).
"""

import base64
import io
import json
import shutil
import subprocess
import warnings
from dataclasses import dataclass, field

from django.utils.translation import gettext as _
from PIL import ExifTags, Image, ImageOps, ImageSequence

from community.media.types import PNG, MediaType

try:  # HEIC/HEIF (iPhone photos); AVIF is native in Pillow 11.2+.
    import pillow_heif

    pillow_heif.register_heif_opener()
except ImportError:  # pragma: no cover - optional: HEIC then fails with a clear reason
    pillow_heif = None

PLACEHOLDER_WIDTH = 16
THUMBNAIL_QUALITY = 80
FULL_QUALITY = 90
# WebP effort (0 fastest, 6 smallest): method 2 encodes a thumbnail in half the time of
# 4 for about 2% more bytes; the full-size rendition, the costliest encode by far, takes
# method 0, a fifth faster than 2 for another 2% or so (bench/media.py, docs/media.md).
THUMBNAIL_METHOD = 2
FULL_METHOD = 0


class MediaRejected(Exception):
    """The bytes cannot become a media asset; ``reason`` is shown to the uploader."""

    def __init__(self, reason: str):
        super().__init__(reason)
        self.reason = reason


@dataclass
class Rendition:
    data: bytes
    width: int
    height: int


@dataclass
class ImageResult:
    width: int
    height: int
    is_animated: bool
    placeholder: str
    full: Rendition
    # Keyed by the requested long side; equal renditions are the same object.
    thumbnails: dict[int, Rendition] = field(default_factory=dict)


@dataclass
class VideoResult:
    duration_seconds: float
    poster: ImageResult
    stripped_path: str


# EXIF orientation → the transpose that makes the pixels upright (as ImageOps.exif_transpose).
_UPRIGHT = {
    2: Image.Transpose.FLIP_LEFT_RIGHT,
    3: Image.Transpose.ROTATE_180,
    4: Image.Transpose.FLIP_TOP_BOTTOM,
    5: Image.Transpose.TRANSPOSE,
    6: Image.Transpose.ROTATE_270,
    7: Image.Transpose.TRANSVERSE,
    8: Image.Transpose.ROTATE_90,
}


def _fitted_size(size: tuple[int, int], long_side: int) -> tuple[int, int]:
    width, height = size
    scale = long_side / max(width, height)
    return max(1, round(width * scale)), max(1, round(height * scale))


def _fit(image: Image.Image, long_side: int, resample=Image.Resampling.LANCZOS) -> Image.Image:
    return image.resize(_fitted_size(image.size, long_side), resample, reducing_gap=3.0)


def _frames_upright(
    image: Image.Image, max_frames: int, max_side: int | None = None
) -> tuple[list[Image.Image], list[int]]:
    """Every frame as RGB(A), EXIF orientation applied, no longer than ``max_side`` on
    its long side, with its duration in ms.

    Each step makes a new image only when it has to (a mode conversion, the cap, the
    transpose, or else one copy), where ``exif_transpose`` then ``convert`` always made
    two; the transpose comes after the cap, so it moves fewer pixels."""
    frames, durations = [], []
    for index, frame in enumerate(ImageSequence.Iterator(image)):
        if index >= max_frames:
            raise MediaRejected(
                _("The animation has more than %(count)s frames.") % {"count": max_frames}
            )
        durations.append(int(frame.info.get("duration", 100) or 100))
        transpose = _UPRIGHT.get(frame.getexif().get(ExifTags.Base.Orientation, 1))
        has_alpha = frame.mode in ("RGBA", "LA", "PA") or "transparency" in frame.info
        mode = "RGBA" if has_alpha else "RGB"
        upright = frame if frame.mode == mode else frame.convert(mode)
        if max_side and max(upright.size) > max_side:
            # Bicubic: at the cap's mild ratios it looks the same as Lanczos (which the
            # thumbnails keep) in three quarters of the time.
            upright = _fit(upright, max_side, Image.Resampling.BICUBIC)
        if transpose is not None:
            upright = upright.transpose(transpose)
        if upright is frame:
            upright = frame.copy()  # the frame belongs to the file, closed after decoding
        upright.info = {}  # no EXIF, XMP or comments can ride along into an encoder
        frames.append(upright)
    return frames, durations


def _encode_webp(
    frames: list[Image.Image], durations: list[int], quality: int, method: int
) -> bytes:
    buffer = io.BytesIO()
    if len(frames) > 1:
        frames[0].save(
            buffer,
            "WEBP",
            save_all=True,
            append_images=frames[1:],
            duration=durations,
            loop=0,
            quality=quality,
            method=method,
        )
    else:
        frames[0].save(buffer, "WEBP", quality=quality, method=method)
    return buffer.getvalue()


def _resized(frames: list[Image.Image], long_side: int) -> list[Image.Image]:
    return [_fit(frame, long_side) for frame in frames]


def placeholder_data_uri(frame: Image.Image) -> str:
    width, height = frame.size
    size = (PLACEHOLDER_WIDTH, max(1, round(height * PLACEHOLDER_WIDTH / width)))
    tiny = frame.resize(size, Image.Resampling.BILINEAR, reducing_gap=2.0)
    buffer = io.BytesIO()
    tiny.save(buffer, "WEBP", quality=30)
    return "data:image/webp;base64," + base64.b64encode(buffer.getvalue()).decode("ascii")


def pillow_formats(media_type: MediaType) -> list[str]:
    """The sniffed type's decoder names that this Pillow can open. Pillow 13 has no
    ``MPO`` opener: asking ``Image.open`` for one raises ``KeyError``."""
    Image.init()
    return sorted(name for name in media_type.decoder_names if name in Image.OPEN)


def check_image(source, *, media_type: MediaType) -> None:
    """At upload time: can the sniffed format's decoder open ``source`` and read its
    header? Raises :class:`MediaRejected` when it cannot (a JPEG signature followed by
    HTML, a PNG signature followed by zeros), whatever Pillow raised. Cheap: no pixels
    are decoded; truncated data and pixel limits are the task's to refuse."""
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", Image.DecompressionBombWarning)
            with Image.open(source, formats=pillow_formats(media_type)) as image:
                if image.format in media_type.decoder_names:
                    return
    except Image.DecompressionBombError:
        return  # a real image, refused by the task with the reason "too many pixels"
    except Exception as error:  # untrusted bytes: any decoder error is the file's fault
        raise MediaRejected(
            _("The file is not a valid %(type)s image.") % {"type": media_type.extension.upper()}
        ) from error
    finally:
        source.seek(0)
    raise MediaRejected(
        _("The file is not a valid %(type)s image.") % {"type": media_type.extension.upper()}
    )


def render_image(
    source,
    *,
    media_type: MediaType,
    sizes: tuple[int, ...],
    max_pixels: int,
    max_frames: int,
    max_side: int | None = None,
) -> ImageResult:
    """Decode ``source`` (a binary file) under the limits and render every stored form.

    ``max_side`` caps the long side of the full-size rendition (``MEDIA_MAX_STORED_SIDE``);
    a JPEG larger than twice the cap is then decoded at reduced scale (DCT scaling), never
    below the cap."""
    try:
        with warnings.catch_warnings():
            # Pillow's own bomb check only warns below twice its limit: make it refuse.
            warnings.simplefilter("error", Image.DecompressionBombWarning)
            # Only the sniffed format's decoder may look at the bytes: a smaller attack
            # surface than letting Pillow try every plugin it has.
            with Image.open(source, formats=pillow_formats(media_type)) as image:
                if image.format not in media_type.decoder_names:
                    raise MediaRejected(
                        _("The file is not a valid %(type)s image.")
                        % {"type": media_type.extension.upper()}
                    )
                if image.width * image.height > max_pixels:
                    raise MediaRejected(
                        _("The image is too large (%(width)s×%(height)s pixels).")
                        % {"width": image.width, "height": image.height}
                    )
                frame_count = getattr(image, "n_frames", 1)
                if frame_count * image.width * image.height > max_pixels * 4:
                    raise MediaRejected(_("The animation is too large to process."))
                if max_side and image.format == "JPEG":
                    image.draft(None, (max_side, max_side))
                frames, durations = _frames_upright(image, max_frames, max_side)
    except MediaRejected:
        raise
    except (Image.DecompressionBombError, Image.DecompressionBombWarning):
        raise MediaRejected(_("The image has too many pixels (a decompression bomb).")) from None
    except Exception as error:
        # Pillow reports corrupt and truncated data as OSError, SyntaxError, ValueError
        # or EOFError, but a crafted file reaches others (KeyError, struct.error, ...):
        # whatever the decoder raises on these bytes, the asset ends failed, never stuck.
        raise MediaRejected(
            _("The image could not be decoded (it may be truncated or corrupt).")
        ) from error

    width, height = frames[0].size
    full = Rendition(_encode_webp(frames, durations, FULL_QUALITY, FULL_METHOD), width, height)
    thumbnails: dict[int, Rendition] = {}
    by_long_side: dict[int, Rendition] = {}
    # Largest first, each resized from the one before: far cheaper than from the full
    # frame every time, and indistinguishable at these ratios.
    source = frames
    for size in sorted(sizes, reverse=True):
        long_side = min(size, max(width, height))
        if long_side not in by_long_side:
            if long_side != max(source[0].size):
                source = _resized(source, long_side)
            by_long_side[long_side] = Rendition(
                _encode_webp(source, durations, THUMBNAIL_QUALITY, THUMBNAIL_METHOD),
                *source[0].size,
            )
        thumbnails[size] = by_long_side[long_side]
    return ImageResult(
        width=width,
        height=height,
        is_animated=len(frames) > 1,
        # From the smallest rendition: the same 16 pixels, without a pass over the full frame.
        placeholder=placeholder_data_uri(source[0]),
        full=full,
        thumbnails=thumbnails,
    )


@dataclass
class QuickPreview:
    width: int | None = None
    height: int | None = None
    placeholder: str = ""


# EXIF orientations that swap width and height.
_TRANSPOSED_ORIENTATIONS = {5, 6, 7, 8}


def quick_preview(
    source, *, media_type: MediaType, max_pixels: int, max_side: int | None = None
) -> QuickPreview:
    """At upload time, cheaply: the upright size from the header, and for JPEG a
    placeholder decoded at 1/8 scale (DCT scaling, a few ms even for a large photo), so
    a message can show its shape and colours before processing. Never raises: anything
    odd is left to the task, which refuses it properly."""
    if media_type.kind != "image":
        return QuickPreview()
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("error", Image.DecompressionBombWarning)
            with Image.open(source, formats=pillow_formats(media_type)) as image:
                if image.format not in media_type.decoder_names:
                    return QuickPreview()
                width, height = image.size
                if width * height > max_pixels:
                    return QuickPreview()
                orientation = image.getexif().get(0x0112, 1)
                if orientation in _TRANSPOSED_ORIENTATIONS:
                    width, height = height, width
                if max_side and max(width, height) > max_side:  # as render_image will
                    width, height = _fitted_size((width, height), max_side)
                preview = QuickPreview(width=width, height=height)
                if image.format == "JPEG":
                    image.draft("RGB", (PLACEHOLDER_WIDTH * 4, PLACEHOLDER_WIDTH * 4))
                    frame = ImageOps.exif_transpose(image.convert("RGB"))
                    preview.placeholder = placeholder_data_uri(frame)
                return preview
    except Exception:
        return QuickPreview()
    finally:
        source.seek(0)


# --- Video -------------------------------------------------------------------------


def _run(command: list[str], timeout: int) -> subprocess.CompletedProcess:
    try:
        # An argument list, no shell; the paths are the pipeline's own temporary files.
        return subprocess.run(command, capture_output=True, timeout=timeout, check=False)  # noqa: S603
    except subprocess.TimeoutExpired:
        raise MediaRejected(_("The video took too long to process.")) from None


def probe_video(path: str, *, media_type: MediaType, ffprobe: str, timeout: int) -> float:
    """The duration in seconds, after checking the container really is ``media_type``."""
    result = _run(
        [
            ffprobe,
            "-v",
            "error",
            "-show_entries",
            "format=format_name,duration:stream=codec_type",
            "-of",
            "json",
            path,
        ],
        timeout,
    )
    if result.returncode != 0:
        raise MediaRejected(_("The video could not be read (it may be truncated or corrupt)."))
    info = json.loads(result.stdout or b"{}")
    format_name = info.get("format", {}).get("format_name", "")
    if format_name not in media_type.decoder_names:
        raise MediaRejected(
            _("The file is not a valid %(type)s video.") % {"type": media_type.extension.upper()}
        )
    if not any(stream.get("codec_type") == "video" for stream in info.get("streams", [])):
        raise MediaRejected(_("The file has no video stream."))
    try:
        return max(0.0, float(info["format"]["duration"]))
    except (KeyError, TypeError, ValueError):
        raise MediaRejected(_("The video has no readable duration.")) from None


def render_video(
    path: str,
    *,
    media_type: MediaType,
    sizes: tuple[int, ...],
    max_pixels: int,
    stripped_path: str,
    ffmpeg: str,
    ffprobe: str,
    timeout: int,
) -> VideoResult:
    """Duration, a poster frame (with thumbnails) and a copy without container metadata."""
    if not shutil.which(ffmpeg) or not shutil.which(ffprobe):
        raise MediaRejected(
            _("Video processing is not available on this server (ffmpeg is not installed).")
        )
    duration = probe_video(path, media_type=media_type, ffprobe=ffprobe, timeout=timeout)
    # A frame a little in, so a fade-in does not give a black poster.
    seek = f"{min(1.0, duration / 2):.3f}"
    poster_command = [ffmpeg, "-v", "error", "-ss", seek, "-i", path, "-frames:v", "1"]
    poster = _run([*poster_command, "-f", "image2pipe", "-vcodec", "png", "-"], timeout)
    if poster.returncode != 0 or not poster.stdout:
        raise MediaRejected(_("No frame could be read from the video."))

    poster_result = render_image(
        io.BytesIO(poster.stdout),
        media_type=PNG,
        sizes=sizes,
        max_pixels=max_pixels,
        max_frames=1,
    )
    muxer = {"webm": "webm", "mov": "mov"}.get(media_type.extension, "mp4")
    stripped = _run(
        [ffmpeg, "-v", "error", "-y", "-i", path, "-map", "0:v", "-map", "0:a?"]
        + ["-c", "copy", "-map_metadata", "-1", "-map_chapters", "-1"]
        + (["-movflags", "+faststart"] if muxer != "webm" else [])
        + ["-f", muxer, stripped_path],
        timeout,
    )
    if stripped.returncode != 0:
        raise MediaRejected(_("The video could not be rewritten without its metadata."))
    return VideoResult(
        duration_seconds=round(duration, 3), poster=poster_result, stripped_path=stripped_path
    )
