"""What the site hands out as files: stored uploads (MDF proofs, the content library) and
CSV exports, so that neither a browser nor a spreadsheet runs what a user typed.

Uploaded files are the user's bytes: served as an attachment (never rendered in the
site's origin), with the stored content type, ``nosniff`` so the browser does not guess
another one, and a sandboxing Content-Security-Policy in case a browser renders it anyway.
``stored_file`` hands out a file of the default storage that way, whatever the storage is
(a folder, a bucket: ``MEDIA_STORAGE``), after the calling view's own access check.

CSV exports go through ``csv_text`` and ``csv_attachment`` (``csv_file`` for files on
disk), which neutralise formulas (OWASP "CSV injection"): a text cell that starts with
``=``, ``+``, ``-``, ``@``, a tab or a line break is a formula to Excel, LibreOffice and
Google Sheets — ``=HYPERLINK(…)`` typed as a company name on the public application form
would become a live link in finance's payment run. Such a cell is prefixed with ``'``,
which the spreadsheet shows as text. Numbers (``int``, ``Decimal``, ``float``) are left as
they are, so ``-12.50`` stays a negative amount; the same characters in a *string* are
treated as text.
"""

import csv
import io
import logging
from collections.abc import Callable, Iterable, Mapping, Sequence
from datetime import date, datetime
from decimal import Decimal
from typing import TextIO

from django.conf import settings
from django.db.models.fields.files import FieldFile
from django.http import FileResponse, Http404, HttpResponse, HttpResponseRedirect
from django.utils.http import content_disposition_header

logger = logging.getLogger(__name__)

DOWNLOAD_POLICY = "default-src 'none'; sandbox"
FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r", "\n")


def attachment(
    file, *, filename: str | None = None, content_type: str | None = None
) -> HttpResponse:
    response = FileResponse(
        file,
        as_attachment=True,
        filename=filename or "",
        content_type=content_type or "application/octet-stream",
    )
    response["X-Content-Type-Options"] = "nosniff"
    response["Content-Security-Policy"] = DOWNLOAD_POLICY
    return response


def stored_file(file: FieldFile, *, filename: str, content_type: str | None = None) -> HttpResponse:
    """The stored ``file`` as an attachment named ``filename``; call it only once the user
    may see the file (a view's scoped loader): the answer is the file itself.

    By default the bytes are streamed through the site, from any storage: the view's
    scoping and the headers of ``attachment`` hold whatever the storage, and the bucket
    never needs a public address or CORS. With ``MEDIA_SIGNED_URLS`` (object storage only)
    the answer is a redirect to an address of the object signed for a few minutes, which
    spares the site the bytes: the bucket then serves them from its own origin, as an
    attachment of the stored type (the sandboxing policy is then not sent; a download from
    another origin reaches none of the site's cookies or pages anyway)."""
    content_type = content_type or "application/octet-stream"
    if not file.name or not file.storage.exists(file.name):
        # The row outlived its file (a restore without the media, a bucket emptied by
        # hand): the operator hears of it, the user gets a plain "not found".
        logger.error("Stored file missing: %s", file.name)
        raise Http404("The file is no longer stored.")
    if getattr(settings, "MEDIA_SIGNED_URLS", False) and _signs_addresses(file.storage):
        address = file.storage.url(
            file.name,
            parameters={
                "ResponseContentDisposition": content_disposition_header(True, filename),
                "ResponseContentType": content_type,
            },
        )
        return HttpResponseRedirect(address)
    return attachment(file.open("rb"), filename=filename, content_type=content_type)


def _signs_addresses(storage) -> bool:
    from storages.backends.s3 import S3Storage

    return isinstance(storage, S3Storage) and storage.querystring_auth


def csv_cell(value) -> object:
    """``value`` as a spreadsheet will read it as data: numbers and dates as they are, text
    that a spreadsheet would run as a formula prefixed with ``'``, ``None`` as empty."""
    if value is None:
        return ""
    if isinstance(value, bool | int | float | Decimal | date | datetime):
        return value
    text = str(value)
    return "'" + text if text.startswith(FORMULA_STARTS) else text


def csv_text(columns: Sequence[str], rows: Iterable[Sequence | Mapping]) -> str:
    """A header line naming ``columns``, then one line a row (a sequence in column order,
    or a mapping read by column name), every cell through ``csv_cell``."""
    out = io.StringIO()
    writer = csv.writer(out)
    writer.writerow([csv_cell(name) for name in columns])
    for row in rows:
        values = [row.get(name) for name in columns] if isinstance(row, Mapping) else row
        writer.writerow([csv_cell(value) for value in values])
    return out.getvalue()


def csv_file(stream: TextIO, columns: Sequence[str]) -> Callable[[Sequence], None]:
    """A CSV file written row by row, for files too large to hold in memory
    (``manage.py export_data``): writes the header line naming ``columns`` to ``stream``
    (a text file opened with ``newline=""``) and returns the function that writes one row
    (a sequence in column order), every cell through ``csv_cell``."""
    writer = csv.writer(stream)
    writer.writerow([csv_cell(name) for name in columns])

    def write(row: Sequence) -> None:
        writer.writerow([csv_cell(value) for value in row])

    return write


def csv_attachment(text: str, *, filename: str) -> HttpResponse:
    """``text`` (from ``csv_text``) served as the CSV file ``filename``."""
    response = HttpResponse(text, content_type="text/csv; charset=utf-8")
    response["Content-Disposition"] = f'attachment; filename="{filename}"'
    response["X-Content-Type-Options"] = "nosniff"
    return response
