"""The extension's errors as HTTP answers (README "Errors"), for DRF's
EXCEPTION_HANDLER setting."""

from django.db import DatabaseError
from rest_framework import status
from rest_framework.response import Response
from rest_framework.views import exception_handler as drf_exception_handler
from rest_framework.views import set_rollback

ANSWERS = {
    "RV001": (status.HTTP_409_CONFLICT, "row_version_conflict",
              "Someone else changed this record since you read it. "
              "Reload it and apply your change again."),
    "RV002": (status.HTTP_428_PRECONDITION_REQUIRED, "row_version_required",
              "Send the row_version you read."),
    "RV003": (status.HTTP_404_NOT_FOUND, "row_version_not_found", "Not found."),
}


def exception_handler(exc, context):
    """Maps SQLSTATE RV001/RV002/RV003 (on the driver's error that Django's
    DatabaseError wraps) to 409/428/404 with a JSON body -- RV001 to 412
    when the request carried If-Match; leaves the rest to DRF."""
    cause = exc.__cause__ if isinstance(exc, DatabaseError) else None
    answer = ANSWERS.get(getattr(cause, "pgcode", None))
    if answer is None:
        return drf_exception_handler(exc, context)
    set_rollback()
    http_status, code, detail = answer
    if code == "row_version_conflict" and "If-Match" in context["request"].headers:
        http_status = status.HTTP_412_PRECONDITION_FAILED
    return Response({"detail": detail, "code": code,
                     "database": cause.diag.message_primary,
                     "database_detail": cause.diag.message_detail},
                    status=http_status)
