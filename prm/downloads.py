"""Serving stored files (MDF proofs, the content library) so a browser never runs them.

Uploaded files are the user's bytes: served as an attachment (never rendered in the
site's origin), with the stored content type, ``nosniff`` so the browser does not guess
another one, and a sandboxing Content-Security-Policy in case a browser renders it anyway.
"""

from django.http import FileResponse

DOWNLOAD_POLICY = "default-src 'none'; sandbox"


def attachment(file, *, filename: str | None = None, content_type: str | None = None):
    response = FileResponse(
        file,
        as_attachment=True,
        filename=filename or "",
        content_type=content_type or "application/octet-stream",
    )
    response["X-Content-Type-Options"] = "nosniff"
    response["Content-Security-Policy"] = DOWNLOAD_POLICY
    return response
