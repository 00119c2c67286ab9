"""Proof-of-performance files: what an MDF claim may carry, checked before anything is saved.

The file rule is the project's one (``prm.uploads``): an allowed extension whose signature
matches, not empty, within the size limit (``MDF_PROOF_MAX_BYTES``, default 10 MB); here
are the kinds a proof may be and how many a claim carries. The portal, the API and the
seed data all wrap their files with ``proof_from_upload`` and the service checks them.
"""

from django.conf import settings
from django.core.exceptions import ValidationError
from django.utils.translation import gettext

from prm.uploads import KINDS as UPLOAD_KINDS
from prm.uploads import Upload, max_upload_bytes, upload_from, upload_problem

KINDS = {
    extension: UPLOAD_KINDS[extension]
    for extension in ("pdf", "png", "jpg", "jpeg", "csv", "xlsx", "pptx", "docx")
}
MAX_FILES = 10

ProofFile = Upload


def max_bytes() -> int:
    return getattr(settings, "MDF_PROOF_MAX_BYTES", max_upload_bytes())


def proof_from_upload(upload) -> ProofFile:
    """Wrap an uploaded file (Django's ``UploadedFile``) for ``check_proofs``."""
    return upload_from(upload, default_name="proof", kinds=KINDS)


def check_proofs(files: list[ProofFile]) -> None:
    """Refuse the whole set, naming the first bad file and why."""
    if not files:
        raise ValidationError({"files": gettext("Attach at least one proof-of-performance file.")})
    if len(files) > MAX_FILES:
        raise ValidationError(
            {"files": gettext("Attach at most %(count)d files.") % {"count": MAX_FILES}}
        )
    for proof in files:
        problem = upload_problem(proof, kinds=KINDS, max_bytes=max_bytes())
        if problem:
            raise ValidationError({"files": problem})
