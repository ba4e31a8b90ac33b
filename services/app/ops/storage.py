from urllib.parse import urljoin

from django.conf import settings
from django.core.files.storage import FileSystemStorage
from django.utils.encoding import filepath_to_uri
from storages.backends.s3 import S3Storage


class MediaStorage(FileSystemStorage):
    """The uploads' storage: a file that cannot be written whole (a full disk) is removed,
    never kept half-written."""

    def _save(self, name, content):
        try:
            return super()._save(name, content)
        except OSError:
            # save() chose `name` as free just before, and upload names are random: a file
            # there now is the partial one.
            self.delete(name)
            raise


class ObjectStorage(S3Storage):
    """The uploads in an S3 bucket (MEDIA_STORAGE=s3), linked as the volume's are: /media/NAME,
    on the site's own origin. The proxy asks the app for each (ops.views.media) and fetches the
    object with the signed URL it gets back, so the bucket stays private and every answer
    carries the proxy's /media/ headers. An object is written whole or not at all (S3's PUT)."""

    def url(self, name, parameters=None, expire=None, http_method=None):
        return urljoin(settings.MEDIA_URL, filepath_to_uri(name))

    def signed_url(self, name: str, method: str) -> str:
        """The bucket's URL of the object, signed for this one request method, for a few seconds."""
        return super().url(name, http_method=method)
