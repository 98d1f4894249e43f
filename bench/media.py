"""Thumbnails per second: Moim's media pipeline against a bare Pillow loop.

    .venv/bin/python -m bench.media [--images 12] [--size 2400x1600] [--json out.json]

``python -m bench.run --suite media`` runs it through :func:`run` with the others.

Both sides get the same generated JPEG photos (with EXIF orientation and GPS, like a
phone's) and produce the same three WebP sizes (320/720/1280 on the long side). The
pipeline also does what the bare loop skips: the byte sniff, the decompression-bomb
checks, EXIF orientation, metadata stripping, a full-size rendition (its long side
capped at ``MEDIA_MAX_STORED_SIDE``, 2048 by default), the placeholder and writes to
the media storage. The ratio says what that safety costs. The bare loop decodes at full
resolution: ``load()`` comes before ``thumbnail``, so Pillow's ``draft`` cannot apply.
"""

import argparse
import io
import json
import os
import tempfile
import time


def make_photos(count: int, size: tuple[int, int]) -> list[bytes]:
    from PIL import ExifTags, Image, ImageDraw

    photos = []
    for index in range(count):
        image = Image.new("RGB", size, (30 + index * 10 % 200, 90, 160))
        draw = ImageDraw.Draw(image)
        for step in range(0, size[0], 40):  # detail, so the encoders have work to do
            draw.line((step, 0, size[0] - step, size[1]), fill=(step % 255, 200, 40), width=3)
        exif = Image.Exif()
        exif[ExifTags.Base.Orientation] = 6 if index % 2 else 1
        exif.get_ifd(ExifTags.IFD.GPSInfo)[ExifTags.GPS.GPSLatitude] = (37.0, 33.0, 59.0)
        buffer = io.BytesIO()
        image.save(buffer, "JPEG", quality=88, exif=exif)
        photos.append(buffer.getvalue())
    return photos


def bare_pillow(photos: list[bytes], sizes: tuple[int, ...]) -> int:
    """The least one could do: decode, resize, encode WebP, keep the bytes."""
    from PIL import Image

    made = 0
    for data in photos:
        with Image.open(io.BytesIO(data)) as image:
            image.load()
            for size in sizes:
                copy = image.copy()
                copy.thumbnail((size, size), Image.Resampling.LANCZOS, reducing_gap=3.0)
                copy.save(io.BytesIO(), "WEBP", quality=80, method=4)
                made += 1
    return made


def pipeline(photos: list[bytes], sizes: tuple[int, ...], storage_dir: str) -> int:
    """What the Celery task does per image, minus the database rows."""
    from django.conf import settings
    from django.core.files.base import ContentFile
    from django.core.files.storage import FileSystemStorage

    from community.media.processing import render_image
    from community.media.types import sniff

    storage = FileSystemStorage(location=storage_dir)
    made = 0
    for index, data in enumerate(photos):
        media_type = sniff(data[:64])
        result = render_image(
            io.BytesIO(data),
            media_type=media_type,
            sizes=sizes,
            max_pixels=settings.MEDIA_MAX_IMAGE_PIXELS,
            max_frames=settings.MEDIA_MAX_ANIMATION_FRAMES,
            max_side=settings.MEDIA_MAX_STORED_SIDE,
        )
        storage.save(f"assets/{index}/original.webp", ContentFile(result.full.data))
        for size, rendition in result.thumbnails.items():
            storage.save(f"assets/{index}/thumb-{size}.webp", ContentFile(rendition.data))
            made += 1
    return made


TARGET_RATIO = 0.8
SIZES = (320, 720, 1280)


def measure(*, images: int, size: tuple[int, int], repeat: int) -> dict:
    """Best of ``repeat`` runs of both sides over the same photos."""
    photos = make_photos(images, size)
    bare_best = pipeline_best = float("inf")
    bare_made = pipeline_made = 0
    for _ in range(repeat):
        started = time.perf_counter()
        bare_made = bare_pillow(photos, SIZES)
        bare_best = min(bare_best, time.perf_counter() - started)
        with tempfile.TemporaryDirectory(prefix="moim-bench-") as storage_dir:
            started = time.perf_counter()
            pipeline_made = pipeline(photos, SIZES, storage_dir)
            pipeline_best = min(pipeline_best, time.perf_counter() - started)
    figures = {
        "images": images,
        "size": f"{size[0]}x{size[1]}",
        "thumbnail_sizes": list(SIZES),
        "bare_images_per_s": round(images / bare_best, 2),
        "pipeline_images_per_s": round(images / pipeline_best, 2),
        "bare_thumbnails_per_s": round(bare_made / bare_best, 2),
        "pipeline_thumbnails_per_s": round(pipeline_made / pipeline_best, 2),
    }
    figures["ratio"] = round(bare_best / pipeline_best, 3)
    return figures


def run(config: dict) -> dict:
    """``bench.run``'s entry point: the figures plus the Markdown rows."""
    width, height = config.get("media_size", (2400, 1600))
    from django.conf import settings

    figures = measure(
        images=config.get("media_images", 12),
        size=(width, height),
        repeat=config.get("media_repeat", 3),
    )
    figures["max_stored_side"] = settings.MEDIA_MAX_STORED_SIDE
    figures["rows"] = [
        f"| media images/s through the thumbnail pipeline ({figures['images']} photos "
        f"{figures['size']}, WebP {'/'.join(map(str, SIZES))} + full size ≤ "
        f"{figures['max_stored_side'] or 'uncapped'}) "
        f"| {figures['pipeline_images_per_s']} "
        f"| {figures['bare_images_per_s']} (bare Pillow loop) "
        f"| {figures['ratio']} | {TARGET_RATIO} |"
    ]
    return figures


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--images", type=int, default=12)
    parser.add_argument("--size", default="2400x1600", help="WIDTHxHEIGHT of each photo")
    parser.add_argument("--repeat", type=int, default=3, help="best of N runs")
    parser.add_argument("--json", metavar="PATH", help="also write the figures here")
    args = parser.parse_args()
    width, height = (int(part) for part in args.size.lower().split("x"))

    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")
    os.environ.setdefault("DEBUG", "1")
    import django

    django.setup()
    figures = measure(images=args.images, size=(width, height), repeat=args.repeat)
    print(
        f"{figures['images']} photos {figures['size']}, sizes {SIZES}\n"
        f"  bare Pillow loop: {figures['bare_images_per_s']:8.2f} images/s\n"
        f"  Moim pipeline:    {figures['pipeline_images_per_s']:8.2f} images/s\n"
        f"  ratio pipeline/bare: {figures['ratio']:.2f}"
    )
    if args.json:
        with open(args.json, "w") as out:
            json.dump(figures, out, indent=2)


if __name__ == "__main__":
    main()
