from django.core.files.storage import FileSystemStorage


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
