"""A stack started by one user, stopped, and started again by another (another host user, or
root first and the user next): the volumes keep their first owner, and the stack still starts,
serves its static files and keeps its uploads readable and writable."""

import pytest

from tests.stack.probes import add_entry, attachment_url, logs
from tests.stack.support import Stack
from tests.support import first_group

pytestmark = pytest.mark.stack

FIRST = b"uploaded by the first user " * 100
SECOND = b"uploaded by the second user " * 100


def admin_css(stack: Stack) -> str:
    page = stack.get("/admin/login/").text
    return first_group(r'href="(/static/admin/css/base\.[0-9a-f]{12}\.css)"', page)


@pytest.mark.parametrize("ids", [("1000", "2345")])
def test_a_stack_started_by_another_user_keeps_its_uploads_and_rebuilds_its_static_files(stack_tmp, ids):
    first, second = ids
    stack = Stack(stack_tmp, APP_UID=first, APP_GID=first)
    try:
        stack.up("--build")
        assert add_entry(stack, "first user's", files={"attachment": ("first.bin", FIRST)}).status_code == 302
        first_url = attachment_url(stack, "first.bin")
        stack.compose("down", "--timeout", "10")

        stack.env.update(APP_UID=second, APP_GID=second)
        stack.write_env()
        stack.up("--build")
        assert stack.compose("exec", "-T", "app", "id", "-u").stdout.strip() == second
        assert not [line for line in logs(stack, "app") if "Permission denied" in line]

        assert stack.get(first_url).content == FIRST
        assert add_entry(stack, "second user's", files={"attachment": ("second.bin", SECOND)}).status_code == 302
        assert stack.get(attachment_url(stack, "second.bin")).content == SECOND
        assert stack.get(admin_css(stack)).status_code == 200
        page = stack.get("/").text
        assert "first user&#x27;s" in page
        assert "second user&#x27;s" in page
    finally:
        stack.down()
