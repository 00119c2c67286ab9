"""Proof-of-performance files: what an MDF claim may carry, checked before anything is saved.

A file is accepted when its extension is one of the allowed kinds *and* its first bytes
are that kind's signature, so a renamed executable is refused; and when it is within the
size limit (``MDF_PROOF_MAX_BYTES``, default 10 MB) and the claim within the file count.
"""

from dataclasses import dataclass
from pathlib import PurePath

from django.conf import settings
from django.core.exceptions import ValidationError
from django.core.files import File
from django.utils.text import get_valid_filename

# extension → (content type, accepted leading bytes; empty: any text)
KINDS: dict[str, tuple[str, tuple[bytes, ...]]] = {
    "pdf": ("application/pdf", (b"%PDF-",)),
    "png": ("image/png", (b"\x89PNG\r\n\x1a\n",)),
    "jpg": ("image/jpeg", (b"\xff\xd8\xff",)),
    "jpeg": ("image/jpeg", (b"\xff\xd8\xff",)),
    "csv": ("text/csv", ()),
    "xlsx": (
        "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
        (b"PK\x03\x04",),
    ),
    "pptx": (
        "application/vnd.openxmlformats-officedocument.presentationml.presentation",
        (b"PK\x03\x04",),
    ),
    "docx": (
        "application/vnd.openxmlformats-officedocument.wordprocessingml.document",
        (b"PK\x03\x04",),
    ),
}
MAX_FILES = 10


def max_bytes() -> int:
    return getattr(settings, "MDF_PROOF_MAX_BYTES", 10 * 1024 * 1024)


@dataclass
class ProofFile:
    name: str
    size: int
    kind: str  # content type, from the extension once the signature matched
    head: bytes
    content: File


def proof_from_upload(upload) -> ProofFile:
    """Wrap an uploaded file (Django's ``UploadedFile``) for ``check_proofs``."""
    upload.seek(0)
    head = upload.read(16)
    upload.seek(0)
    name = get_valid_filename(PurePath(upload.name or "proof").name)[:150] or "proof"
    extension = PurePath(name).suffix.lower().lstrip(".")
    kind = KINDS.get(extension, ("", ()))[0]
    return ProofFile(name=name, size=upload.size, kind=kind, head=head, content=upload)


def _text_like(head: bytes) -> bool:
    return b"\x00" not in head


def check_proofs(files: list[ProofFile]) -> None:
    """Refuse the whole set, naming the first bad file and why."""
    if not files:
        raise ValidationError({"files": "Attach at least one proof-of-performance file."})
    if len(files) > MAX_FILES:
        raise ValidationError({"files": f"Attach at most {MAX_FILES} files."})
    limit = max_bytes()
    allowed = ", ".join(sorted(KINDS))
    for proof in files:
        extension = PurePath(proof.name).suffix.lower().lstrip(".")
        if extension not in KINDS:
            raise ValidationError(
                {"files": f"{proof.name}: this kind of file is not accepted; use {allowed}."}
            )
        if proof.size == 0:
            raise ValidationError({"files": f"{proof.name} is empty."})
        if proof.size > limit:
            raise ValidationError(
                {
                    "files": f"{proof.name} is {proof.size / 1048576:.1f} MB; "
                    f"the limit is {limit / 1048576:.0f} MB."
                }
            )
        signatures = KINDS[extension][1]
        matches = (
            any(proof.head.startswith(sig) for sig in signatures)
            if signatures
            else _text_like(proof.head)
        )
        if not matches:
            raise ValidationError({"files": f"{proof.name} is not really a .{extension} file."})
