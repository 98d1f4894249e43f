"""Real media files made on the spot with Pillow and ffmpeg, for the media tests."""

import functools
import io
import shutil
import subprocess
from pathlib import Path

from django.core.files.uploadedfile import SimpleUploadedFile
from PIL import ExifTags, Image, ImageDraw

GPS_LATITUDE = ((37, 1), (33, 1), (59, 1))


def jpeg(size=(1600, 1200), *, color=(200, 80, 40), exif: Image.Exif | None = None) -> bytes:
    image = Image.new("RGB", size, color)
    # Something to resize, and a marker in the top-left corner.
    draw = ImageDraw.Draw(image)
    draw.rectangle((0, 0, size[0] // 4, size[1] // 4), fill=(0, 0, 255))
    draw.line((0, size[1], size[0], 0), fill=(255, 255, 255), width=5)
    buffer = io.BytesIO()
    image.save(buffer, "JPEG", quality=90, exif=exif or Image.Exif())
    return buffer.getvalue()


def gps_exif() -> Image.Exif:
    exif = Image.Exif()
    exif[ExifTags.Base.Make] = "MoimCam"
    gps = exif.get_ifd(ExifTags.IFD.GPSInfo)
    gps[ExifTags.GPS.GPSLatitudeRef] = "N"
    gps[ExifTags.GPS.GPSLatitude] = (37.0, 33.0, 59.0)
    gps[ExifTags.GPS.GPSLongitudeRef] = "E"
    gps[ExifTags.GPS.GPSLongitude] = (126.0, 58.0, 40.0)
    return exif


def jpeg_with_gps() -> bytes:
    return jpeg((800, 600), exif=gps_exif())


def rotated_jpeg() -> bytes:
    """Stored 400×200 with EXIF orientation 6: upright it is 200×400."""
    exif = Image.Exif()
    exif[ExifTags.Base.Orientation] = 6
    return jpeg((400, 200), exif=exif)


def png(size=(300, 200), mode="RGBA") -> bytes:
    image = Image.new(mode, size, (10, 200, 30, 128) if mode == "RGBA" else (10, 200, 30))
    buffer = io.BytesIO()
    image.save(buffer, "PNG")
    return buffer.getvalue()


def encoded(format_name: str, size=(500, 400), **options) -> bytes:
    image = Image.new("RGB", size, (90, 30, 160))
    buffer = io.BytesIO()
    image.save(buffer, format_name, **options)
    return buffer.getvalue()


def animated_gif(frames: int = 3, size=(64, 48)) -> bytes:
    colors = [(255, 0, 0), (0, 255, 0), (0, 0, 255), (255, 255, 0)]
    images = [Image.new("RGB", size, colors[i % len(colors)]) for i in range(frames)]
    buffer = io.BytesIO()
    images[0].save(buffer, "GIF", save_all=True, append_images=images[1:], duration=120, loop=0)
    return buffer.getvalue()


@functools.cache
def decompression_bomb() -> bytes:
    """A 20000×20000 one-bit PNG: tens of kilobytes that would decode to 400 megapixels."""
    image = Image.new("1", (20000, 20000), 0)
    buffer = io.BytesIO()
    image.save(buffer, "PNG", optimize=False)
    return buffer.getvalue()


def truncated_jpeg() -> bytes:
    data = jpeg((1200, 900))
    return data[: len(data) // 2]


HTML = b"<!doctype html><html><body><script>alert(1)</script></body></html>"
SVG = (
    b'<?xml version="1.0"?><svg xmlns="http://www.w3.org/2000/svg" width="10" height="10">'
    b'<script>alert(1)</script><rect width="10" height="10"/></svg>'
)


def video(tmp_dir: Path, *, seconds: int = 2, extension: str = "mp4") -> bytes:
    """A small real video (test pattern) with a GPS location in its container metadata."""
    ffmpeg = shutil.which("ffmpeg")
    assert ffmpeg, "ffmpeg is required (make system-deps)"
    path = tmp_dir / f"sample.{extension}"
    codec = ["-c:v", "libvpx", "-b:v", "200k", "-deadline", "realtime"]
    if extension != "webm":
        codec = ["-c:v", "mpeg4"]
    source = ["-f", "lavfi", "-i", f"testsrc=duration={seconds}:size=320x240:rate=10"]
    metadata = ["-metadata", "location=+37.5665+126.9780/", "-metadata", "title=secret-place"]
    subprocess.run(
        [ffmpeg, "-v", "error", "-y", *source, *codec, *metadata, str(path)],
        check=True,
        timeout=120,
    )
    return path.read_bytes()


def image_upload(name: str = "photo.png", image_format: str = "PNG", size=(8, 8)):
    """A small picture as a form upload (the ``png`` fixture of tests/profiles)."""
    buffer = io.BytesIO()
    Image.new("RGB", size, (200, 30, 90)).save(buffer, format=image_format)
    return SimpleUploadedFile(name, buffer.getvalue(), content_type="image/png")
