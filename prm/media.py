"""The object storage that keeps uploaded files when ``MEDIA_STORAGE=s3`` (settings/base.py).

django-storages' S3 backend, with one change: an object's stored type comes from its
extension, which ``prm.uploads`` has checked against the file's first bytes, never from
the type the uploading client claimed (a browser says what it likes: ``text/html`` for a
``.pdf`` would be served as a page by anyone opening the object's address directly).
"""

from pathlib import PurePath

from storages.backends.s3 import S3Storage

from prm.uploads import KINDS

UNKNOWN = "application/octet-stream"


class MediaStorage(S3Storage):
    def get_object_parameters(self, name: str) -> dict:
        parameters = super().get_object_parameters(name)
        kind = KINDS.get(PurePath(name).suffix.lower().lstrip("."))
        parameters.setdefault("ContentType", kind.content_type if kind else UNKNOWN)
        return parameters
