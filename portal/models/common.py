"""What every resource's models share: text without NUL characters, the error body, pages.

Every request body forbids fields it does not know, so that a misspelt field is an error
rather than silently ignored.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime
from typing import Annotated, Any, Generic, TypeVar

from pydantic import (
    AfterValidator,
    AwareDatetime,
    BaseModel,
    ConfigDict,
    Field,
    StringConstraints,
    field_validator,
)

#: Text a database can hold: no NUL characters.
TEXT_PATTERN = r"^[^\x00]*$"
#: Identifiers of users, as members of events: plain, printable, short.
USER_PATTERN = r"^[A-Za-z0-9._@+-]{1,128}$"


def text(max_length: int, min_length: int = 0) -> object:
    """A string field's constraints: at most ``max_length`` characters, no NUL."""
    return StringConstraints(
        min_length=min_length, max_length=max_length, pattern=TEXT_PATTERN, strip_whitespace=False
    )


#: ``30d``, ``15m``, ``1h30m``: a whole number and a unit, repeated.
DURATION_PATTERN = r"^([0-9]{1,9}(ms|s|m|h|d|w)){1,6}$"
#: ``600/minute``, ``10/s``, ``1000/2h``.
RATE_PATTERN = r"^[0-9]{1,12} ?/ ?[0-9]{0,6} ?(second|minute|hour|day|s|m|h|d)$"
Duration = Annotated[str, StringConstraints(pattern=DURATION_PATTERN, max_length=64)]
RateText = Annotated[str, StringConstraints(pattern=RATE_PATTERN, max_length=64)]


def _in_utc(value: datetime) -> datetime:
    try:
        value.astimezone(UTC)
    except OverflowError:
        raise ValueError("the instant, read in UTC, falls outside the years 1 to 9999") from None
    return value


#: An instant with its UTC offset, that is still in the calendar once read in UTC
#: (``9999-12-31T23:59:59-23:59`` is not).
Instant = Annotated[AwareDatetime, AfterValidator(_in_utc)]

Name = Annotated[str, text(200, min_length=1)]
Description = Annotated[str, text(5000)]


class Body(BaseModel):
    """A request body: unknown fields are refused."""

    model_config = ConfigDict(extra="forbid")


class ErrorDetail(BaseModel):
    field: str = Field(description="Where the problem is: a field of the body, or a parameter.")
    message: str


class ErrorInfo(BaseModel):
    code: str = Field(description="A stable code, such as INSUFFICIENT_SCOPE or INVALID_REQUEST.")
    message: str = Field(description="What was wrong, in words.")
    request_id: str = Field(description="The request's X-Request-ID, to quote to support.")
    details: list[ErrorDetail] | None = Field(
        default=None, description="For INVALID_REQUEST: every field that did not validate."
    )


class ErrorBody(BaseModel):
    """Every error answer: the code, why, and the request id."""

    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "error": {
                        "code": "INSUFFICIENT_SCOPE",
                        "message": "the key's scopes do not grant write on events",
                        "request_id": "req_3f9a2c1b7d4e000000000000002a",
                    }
                }
            ]
        }
    )

    error: ErrorInfo


T = TypeVar("T")


class Page(BaseModel, Generic[T]):
    """A page of a list, newest first; pass ``next_cursor`` as ``cursor`` for the next."""

    data: list[T]
    next_cursor: str | None = Field(description="The next page's cursor; null on the last page.")


PageLimit = Annotated[int, Field(ge=1, le=100, description="How many items to return.")]


class Changes(Body):
    """A PATCH body: each field may be left out, but none may be null. The schema says
    so too (no ``null`` among a field's types)."""

    @field_validator("*", mode="before")
    @classmethod
    def _not_null(cls, value: object) -> object:
        if value is None:
            raise ValueError("leave the field out to keep it; it cannot be null")
        return value


def without_nulls(examples: list[Any]) -> Callable[[dict[str, Any]], None]:
    """``json_schema_extra`` for a :class:`Changes` model: its examples, and each field's
    schema without the ``null`` its Python type needs for "left out"."""

    def edit(schema: dict[str, Any]) -> None:
        for field in schema.get("properties", {}).values():
            kinds = field.get("anyOf")
            if isinstance(kinds, list):
                kept = [kind for kind in kinds if kind != {"type": "null"}]
                field.pop("anyOf")
                field.pop("default", None)
                if len(kept) == 1:
                    field.update(kept[0])
                else:
                    field["anyOf"] = kept
        schema["examples"] = examples

    return edit
