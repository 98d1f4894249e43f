"""What an upload is, told from its first bytes (magic numbers), never its name or header.

Only the formats Moim accepts are recognised; everything else (SVG, HTML, PDF, archives,
Matroska that is not WebM, ...) sniffs as ``None`` and the upload is refused. The
decoders (Pillow, ffprobe) check again later that the bytes really are what they claim.
"""

from dataclasses import dataclass

# Enough for every signature below, including the EBML DocType of a WebM header.
SNIFF_BYTES = 64


@dataclass(frozen=True)
class MediaType:
    kind: str  # "image" or "video"
    content_type: str
    extension: str
    # The names Pillow's ``Image.format`` or ffprobe's ``format_name`` report for it.
    decoder_names: frozenset[str]

    def get_kind_display(self) -> str:
        from django.utils.translation import gettext

        return gettext("image") if self.kind == "image" else gettext("video")


JPEG = MediaType("image", "image/jpeg", "jpg", frozenset({"JPEG", "MPO"}))
PNG = MediaType("image", "image/png", "png", frozenset({"PNG"}))
GIF = MediaType("image", "image/gif", "gif", frozenset({"GIF"}))
WEBP = MediaType("image", "image/webp", "webp", frozenset({"WEBP"}))
AVIF = MediaType("image", "image/avif", "avif", frozenset({"AVIF"}))
HEIC = MediaType("image", "image/heic", "heic", frozenset({"HEIF"}))
MP4 = MediaType("video", "video/mp4", "mp4", frozenset({"mov,mp4,m4a,3gp,3g2,mj2"}))
MOV = MediaType("video", "video/quicktime", "mov", frozenset({"mov,mp4,m4a,3gp,3g2,mj2"}))
WEBM = MediaType("video", "video/webm", "webm", frozenset({"matroska,webm"}))

ALL_TYPES = (JPEG, PNG, GIF, WEBP, AVIF, HEIC, MP4, MOV, WEBM)
BY_CONTENT_TYPE = {media_type.content_type: media_type for media_type in ALL_TYPES}

# ISO base media file brands (the ``ftyp`` box): the major brand, then compatible ones.
_AVIF_BRANDS = {b"avif", b"avis"}
_HEIC_BRANDS = {b"heic", b"heix", b"heim", b"heis", b"hevc", b"hevx", b"mif1", b"msf1"}
_QUICKTIME_BRANDS = {b"qt  "}
_MP4_BRANDS = {
    b"isom", b"iso2", b"iso4", b"iso5", b"iso6", b"mp41", b"mp42", b"avc1",
    b"M4V ", b"M4VP", b"dash", b"3gp4", b"3gp5", b"3gp6", b"3g2a", b"mmp4", b"f4v ",
}  # fmt: skip


def _sniff_ftyp(head: bytes) -> MediaType | None:
    box_size = int.from_bytes(head[0:4], "big")
    if box_size < 16:
        return None
    major = head[8:12]
    compatible = {head[i : i + 4] for i in range(16, min(box_size, len(head)) - 3, 4)}
    brands = [major, *sorted(compatible)]
    # The major brand decides; "mif1" alone (the generic HEIF brand) defers to
    # a compatible brand that names the codec, so an AVIF saying mif1 stays AVIF.
    if major in _AVIF_BRANDS or (major == b"mif1" and compatible & _AVIF_BRANDS):
        return AVIF
    if major in _HEIC_BRANDS:
        return HEIC
    if major in _QUICKTIME_BRANDS:
        return MOV
    if major in _MP4_BRANDS:
        return MP4
    if any(brand in _MP4_BRANDS for brand in brands):
        return MP4
    return None


def sniff(head: bytes) -> MediaType | None:
    """The accepted media type whose signature ``head`` starts with, else ``None``."""
    if head.startswith(b"\xff\xd8\xff"):
        return JPEG
    if head.startswith(b"\x89PNG\r\n\x1a\n"):
        return PNG
    if head[:6] in (b"GIF87a", b"GIF89a"):
        return GIF
    if head[:4] == b"RIFF" and head[8:12] == b"WEBP":
        return WEBP
    if head[4:8] == b"ftyp":
        return _sniff_ftyp(head)
    if head.startswith(b"\x1a\x45\xdf\xa3") and b"webm" in head[:SNIFF_BYTES]:
        return WEBM
    return None


def sniff_file(file) -> MediaType | None:
    """Sniff an open (uploaded) file, leaving its position at the start."""
    file.seek(0)
    head = file.read(SNIFF_BYTES)
    file.seek(0)
    return sniff(head)
