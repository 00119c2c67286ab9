"""Uploaded files, checked before anything is stored: one rule for every face that takes a
file (the portal, the API, the admin).

A file is accepted when it is not empty, within its size limit, its extension is one of
the kinds the use case allows *and* its first bytes are that kind's signature (so a renamed
executable or web page is refused). Text kinds (CSV) have no signature: they must be text,
not markup, so a page with a script renamed ``.csv`` is refused too.

The file itself is never read whole or copied: its first bytes are peeked, and storage
receives the ``UploadedFile`` (chunks, or a move of the temporary file past
``FILE_UPLOAD_MAX_MEMORY_SIZE``).
"""

from dataclasses import dataclass
from pathlib import PurePath

from django.conf import settings
from django.core.exceptions import SuspiciousFileOperation, ValidationError
from django.core.files import File
from django.utils.text import get_valid_filename
from django.utils.translation import gettext

HEAD_BYTES = 512  # what is peeked at: signatures, and whether a text file is markup
MAX_NAME = 150


@dataclass(frozen=True)
class Kind:
    content_type: str
    signatures: tuple[bytes, ...]  # accepted leading bytes; empty: text

    @property
    def is_text(self) -> bool:
        return not self.signatures


OFFICE = (b"PK\x03\x04",)
KINDS: dict[str, Kind] = {
    "pdf": Kind("application/pdf", (b"%PDF-",)),
    "png": Kind("image/png", (b"\x89PNG\r\n\x1a\n",)),
    "jpg": Kind("image/jpeg", (b"\xff\xd8\xff",)),
    "jpeg": Kind("image/jpeg", (b"\xff\xd8\xff",)),
    "csv": Kind("text/csv", ()),
    "xlsx": Kind("application/vnd.openxmlformats-officedocument.spreadsheetml.sheet", OFFICE),
    "pptx": Kind(
        "application/vnd.openxmlformats-officedocument.presentationml.presentation", OFFICE
    ),
    "docx": Kind("application/vnd.openxmlformats-officedocument.wordprocessingml.document", OFFICE),
}


def max_upload_bytes() -> int:
    """The largest file any face accepts (``MAX_UPLOAD_BYTES``, default 10 MB)."""
    return getattr(settings, "MAX_UPLOAD_BYTES", 10 * 1024 * 1024)


@dataclass
class Upload:
    name: str  # safe to store and to show: no directories, no control characters
    size: int
    kind: str  # content type, from the extension (trusted once the signature matched)
    head: bytes
    content: File

    @property
    def extension(self) -> str:
        return PurePath(self.name).suffix.lower().lstrip(".")


def safe_name(name: str | None, *, default: str = "file") -> str:
    """The last part of ``name``, with only letters, digits, ``-``, ``_`` and ``.`` kept:
    ``../../etc/passwd.pdf`` → ``passwd.pdf``; a NUL or another control character is
    dropped; a name with nothing left becomes ``default``."""
    text = "".join(ch for ch in (name or "") if ch.isprintable())
    text = PurePath(text.replace("\\", "/")).name
    try:
        cleaned = get_valid_filename(text)
    except SuspiciousFileOperation:  # nothing usable left ("", ".", "..")
        return default
    stem, dot, extension = cleaned.rpartition(".")
    if dot and len(cleaned) > MAX_NAME:
        cleaned = f"{stem[: MAX_NAME - len(extension) - 1]}.{extension[:20]}"
    return cleaned[:MAX_NAME].lstrip(".") or default


def upload_from(file, *, default_name: str = "file", kinds: dict[str, Kind] = KINDS) -> Upload:
    """Wrap an uploaded file (Django's ``UploadedFile``) for ``upload_problem``, peeking at
    its first bytes only."""
    file.seek(0)
    head = file.read(HEAD_BYTES)
    file.seek(0)
    name = safe_name(getattr(file, "name", None), default=default_name)
    upload = Upload(name=name, size=file.size, kind="", head=head, content=file)
    kind = kinds.get(upload.extension)
    upload.kind = kind.content_type if kind else ""
    return upload


def _is_plain_text(head: bytes) -> bool:
    """Text, not a binary file and not a web page or an image drawn in SVG."""
    if b"\x00" in head:
        return False
    start = head.lstrip(b"\xef\xbb\xbf \t\r\n").lower()
    return not start.startswith((b"<", b"\xff\xfe", b"\xfe\xff"))


def upload_problem(
    upload: Upload,
    *,
    kinds: dict[str, Kind] = KINDS,
    max_bytes: int | None = None,
    check_content: bool = True,
) -> str | None:
    """Why ``upload`` is refused, in a sentence that names it; ``None`` when it is fine.

    ``check_content=False`` leaves out the look at the first bytes, for a caller that reads
    the whole file and names each bad line itself (the lead import)."""
    limit = max_upload_bytes() if max_bytes is None else max_bytes
    kind = kinds.get(upload.extension)
    if kind is None:
        return gettext("%(name)s: this kind of file is not accepted; use %(kinds)s.") % {
            "name": upload.name,
            "kinds": ", ".join(sorted(kinds)),
        }
    if upload.size == 0:
        return gettext("%(name)s is empty.") % {"name": upload.name}
    if upload.size > limit:
        return gettext("%(name)s is %(size).1f MB; the limit is %(limit).0f MB.") % {
            "name": upload.name,
            "size": upload.size / 1048576,
            "limit": limit / 1048576,
        }
    if not check_content:
        return None
    if kind.is_text:
        matches = _is_plain_text(upload.head)
    else:
        matches = any(upload.head.startswith(signature) for signature in kind.signatures)
    if not matches:
        return gettext("%(name)s is not really a .%(extension)s file.") % {
            "name": upload.name,
            "extension": upload.extension,
        }
    return None


def csv_upload_text(file, *, default_name: str, kinds: dict[str, Kind]) -> str:
    """An uploaded CSV file's text, for the imports; ``ValidationError`` if it is not an
    accepted upload or not UTF-8 (the message names the line of the first bad byte)."""
    upload = upload_from(file, default_name=default_name, kinds=kinds)
    problem = upload_problem(upload, kinds=kinds, check_content=False)
    if problem:
        raise ValidationError([problem])
    file.seek(0)
    data = file.read()
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        raise ValidationError(
            gettext(
                "Line %(line)d: the file is not UTF-8 text; save it as CSV (UTF-8) and "
                "import it again."
            )
            % {"line": data[: exc.start].count(b"\n") + 1}
        ) from exc
