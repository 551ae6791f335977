"""One middleware for If-Match on SQL that Django writes itself: PUT,
PATCH and DELETE with an If-Match header register it with
rowversion.expect_match() for the table of the view's model, and the row
trigger checks it on the UPDATE or DELETE that save() or delete() sends
(README "expect_match").  Answers carrying a row_version get it as their ETag.

Django runs middleware outside the transaction that ATOMIC_REQUESTS opens
around the view, so the middleware opens the request's transaction itself;
the view's own atomic block nests in it.
"""

from django.conf import settings
from django.db import connection, transaction
from django.urls import Resolver404, resolve


def model_of(request):
    """The model of the DRF view that the request's path resolves to (none
    while the tests' control, RV_EXPECT_MATCH off, switches the hook off)."""
    if not settings.RV_EXPECT_MATCH:
        return None
    try:
        view = resolve(request.path_info).func
    except Resolver404:
        return None
    queryset = getattr(getattr(view, "cls", None), "queryset", None)
    return queryset.model if queryset is not None else None


class IfMatchMiddleware:
    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        header = request.headers.get("If-Match")
        model = model_of(request) if header is not None else None
        if request.method in ("PUT", "PATCH", "DELETE") and model is not None:
            with transaction.atomic():
                with connection.cursor() as cur:
                    cur.execute("SELECT rowversion.expect_match(%s, %s)",
                                [model._meta.db_table, header])
                response = self.get_response(request)
        else:
            response = self.get_response(request)
        version = getattr(response, "data", None)
        if isinstance(version, dict) and isinstance(version.get("row_version"), int):
            response["ETag"] = '"%d"' % version["row_version"]
        return response
