"""The service's own errors, in the project's one hierarchy (``optimiser.errors.ItuError``).

``HTTP_STATUS`` is the single place where an error class becomes an HTTP status."""
from __future__ import annotations

from optimiser.errors import InputFormatError, ItuError, PlanCheckError, ProblemError, SolveCancelled, SolveFailed


class NotFound(ItuError):
    """No such resource, or it belongs to another API key (the two are not told apart)."""

    code = "not_found"


class AuthenticationRequired(ItuError):
    """The request carries no API key, or one that is unknown or revoked."""

    code = "authentication_required"


class Conflict(ItuError):
    """The request contradicts what is stored, e.g. an idempotency key reused for another request."""

    code = "conflict"


class PayloadTooLarge(ItuError):
    """The request body is larger than the configured limit."""

    code = "payload_too_large"


class NotReady(ItuError):
    """The job has not finished, so its results do not exist yet."""

    code = "not_ready"


class LimitExceeded(ItuError):
    """The request asks for more than this service allows one request (trips, vehicles, seconds,
    seeds, memory); the message gives the figure and the limit."""

    code = "limit_exceeded"


class TooManyRequests(ItuError):
    """The key has sent too many jobs too fast, or has too many waiting; try again after
    ``retry_after_s`` seconds (sent as the Retry-After header)."""

    code = "too_many_requests"

    def __init__(self, message: str, *, where: str | None = None, retry_after_s: int = 1):
        super().__init__(message, where=where)
        self.retry_after_s = max(1, int(retry_after_s))

    def to_dict(self) -> dict:
        return {**super().to_dict(), "retry_after_s": self.retry_after_s}


class ServiceUnavailable(ItuError):
    """The service cannot do its work now (the database refuses writes or cannot be reached);
    the request itself may be fine."""

    code = "service_unavailable"


class ConfigurationError(ItuError):
    """The service's configuration is unsafe or inconsistent; raised at start-up."""

    code = "configuration_error"


HTTP_STATUS: dict[type[ItuError], int] = {
    InputFormatError: 422,
    ProblemError: 422,
    NotFound: 404,
    AuthenticationRequired: 401,
    Conflict: 409,
    PayloadTooLarge: 413,
    LimitExceeded: 422,
    TooManyRequests: 429,
    ServiceUnavailable: 503,
    NotReady: 409,
    SolveFailed: 422,
    SolveCancelled: 409,
    PlanCheckError: 500,
    ConfigurationError: 500,
}


def relocated(error: ItuError, folder: str, where: str) -> ItuError:
    """``error`` from reading a file the service wrote under ``folder``, told in the request's
    terms: ``where`` names the request's field, and no message shows the server's folder."""
    if error.where is None or folder in error.where:
        error.where = where
    error.message = error.message.replace(f"{folder}/", "")
    error.args = (error.message,)
    return error


def headers_for(error: ItuError) -> dict[str, str]:
    """The headers an error's answer carries besides its JSON."""
    return {"Retry-After": str(error.retry_after_s)} if isinstance(error, TooManyRequests) else {}


def status_for(error: ItuError) -> int:
    for cls in type(error).__mro__:
        if cls in HTTP_STATUS:
            return HTTP_STATUS[cls]
    return 400
