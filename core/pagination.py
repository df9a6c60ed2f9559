"""Cursor pagination for the wallet-app lists: newest first, stable under inserts.

The query is taken as the schema says: `page_size` is an integer from 1 to
`max_page_size` and `cursor` one the API handed out (a `next` or `previous` link);
anything else is a 400, never a silently different page.
"""

from rest_framework.exceptions import NotFound
from rest_framework.pagination import CursorPagination

from core.errors import ApplicationError


class InvalidCursor(ApplicationError):
    """A cursor we did not hand out: a bad query parameter, not a missing object."""

    code = "invalid_cursor"
    message = "The cursor is not valid: use the `next` or `previous` link of a page."


class InvalidPageSize(ApplicationError):
    code = "invalid_page_size"


class NewestFirstCursorPagination(CursorPagination):
    ordering = ("-created_at", "-id")
    page_size = 20
    max_page_size = 100
    page_size_query_param = "page_size"

    def get_page_size(self, request):
        values = request.query_params.getlist(self.page_size_query_param)
        if not values:
            return self.page_size
        value = values[0]
        if len(values) > 1 or not (value.isascii() and value.isdigit()) \
                or not 1 <= int(value) <= self.max_page_size:
            raise InvalidPageSize(f"page_size must be one integer from 1 to {self.max_page_size}.",
                                  details={"max_page_size": self.max_page_size})
        return int(value)

    def decode_cursor(self, request):
        if len(request.query_params.getlist(self.cursor_query_param)) > 1:
            raise InvalidCursor()
        try:
            return super().decode_cursor(request)
        except NotFound:
            raise InvalidCursor() from None

    def get_schema_operation_parameters(self, view):
        parameters = super().get_schema_operation_parameters(view)
        for parameter in parameters:
            if parameter["name"] == self.page_size_query_param:
                parameter["schema"].update(minimum=1, maximum=self.max_page_size)
            if parameter["name"] == self.cursor_query_param:
                parameter["description"] = ("Where the page starts: only a cursor from the "
                                            "`next` or `previous` link of an earlier page.")
        return parameters
