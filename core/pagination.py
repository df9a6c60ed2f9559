"""Cursor pagination for the wallet-app lists: newest first, stable under inserts."""

from rest_framework.exceptions import NotFound
from rest_framework.pagination import CursorPagination

from core.errors import ApplicationError


class InvalidCursor(ApplicationError):
    """A `cursor` we did not hand out: a bad query parameter (400), not a missing object."""

    code = "invalid_cursor"
    message = "The cursor is not valid: use the `next` or `previous` link of a page."


class NewestFirstCursorPagination(CursorPagination):
    ordering = ("-created_at", "-id")
    page_size = 20
    max_page_size = 100
    page_size_query_param = "page_size"

    def decode_cursor(self, request):
        try:
            return super().decode_cursor(request)
        except NotFound:
            raise InvalidCursor() from None
