"""The disk of the uploads is full: an upload gets a clear answer, nothing is kept half-written,
and the rest of the site keeps working. The stack's media volume is a 64 KiB tmpfs here."""

import pytest

from tests.stack.probes import add_entry, attachment_url, media_files, stored_titles
from tests.stack.support import Stack
from workspace.compose import BASE_FILES

pytestmark = [pytest.mark.stack, pytest.mark.faults]

KEPT = b"k" * 40_000


@pytest.fixture(scope="module")
def stack(built_images, stack_tmp):
    running = Stack(stack_tmp, files=(*BASE_FILES, "tests/stack/compose.small-media.yaml"))
    try:
        running.up()
        yield running
    finally:
        running.down()


def test_upload_to_a_full_disk_gets_507_and_keeps_nothing_half_written(stack):
    assert add_entry(stack, "fits", files={"attachment": ("fits.bin", KEPT)}).status_code == 302
    files_before = media_files(stack)

    response = add_entry(stack, "does not fit", files={"attachment": ("big.bin", b"b" * 100_000)})
    assert response.status_code == 507
    assert response.text == "Insufficient storage: the server has no space left to store this. Try again later.\n"
    assert "does not fit" not in stored_titles(stack)
    assert media_files(stack) == files_before

    # Everything else still works: entries without a file, and the files already stored.
    assert add_entry(stack, "no file").status_code == 302
    assert stack.get(attachment_url(stack, "fits.bin")).content == KEPT
