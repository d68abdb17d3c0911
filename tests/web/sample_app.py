"""A small application with an OpenAPI document of the kind the portal renders: tags,
path and query parameters, bodies with nested and union schemas, a required scope per
operation, error responses with codes. It stands for no real API: the reference and the
console must render whatever document they are given."""

from __future__ import annotations

from typing import Annotated, Any, Literal

from fastapi import FastAPI, Path, Query
from pydantic import BaseModel, Field

from portal.web import DocsSite, KeyType, PortalConfig, install

ERROR = {
    "description": "Denied",
    "content": {
        "application/json": {
            "examples": {
                "scope": {
                    "value": {
                        "error": {"code": "INSUFFICIENT_SCOPE", "message": "no", "request_id": "r1"}
                    }
                },
                "policy": {
                    "value": {
                        "error": {"code": "DENIED_BY_POLICY", "message": "no", "request_id": "r2"}
                    }
                },
            }
        }
    },
}


class Place(BaseModel):
    city: str = Field(description="Where it happens", examples=["Lyon"])
    room: str | None = None


class Widget(BaseModel):
    """A widget of the sample API."""

    name: str = Field(
        min_length=1, max_length=80, description="What it is called", examples=["Blue widget"]
    )
    size: int = Field(ge=1, le=10, description="How big")
    kind: Literal["round", "square"] = "round"
    place: Place | None = None
    tags: list[str] = []


class WidgetOut(Widget):
    id: str


def sample_app(docs: DocsSite | None = None) -> FastAPI:
    app = FastAPI(
        title="Sample API",
        version="0.9",
        docs_url=None,
        redoc_url=None,
        openapi_tags=[
            {"name": "widgets", "description": "Things with a size."},
            {"name": "gadgets", "description": "Other things."},
        ],
    )
    scope = lambda s: {"x-required-scope": s}  # noqa: E731

    @app.get(
        "/v1/widgets",
        tags=["widgets"],
        summary="List widgets",
        openapi_extra=scope("widgets:read"),
        responses={403: ERROR},
    )
    def list_widgets(
        limit: Annotated[int, Query(ge=1, le=100, description="How many")] = 20,
    ) -> dict[str, Any]:
        return {"data": [], "next_cursor": None}

    @app.post(
        "/v1/widgets",
        tags=["widgets"],
        summary="Create a widget",
        status_code=201,
        openapi_extra=scope("widgets:write"),
        responses={403: ERROR},
    )
    def create_widget(widget: Widget) -> WidgetOut:
        return WidgetOut(id="w1", **widget.model_dump())

    @app.get(
        "/v1/widgets/{id}",
        tags=["widgets"],
        summary="Get a widget",
        openapi_extra=scope("widgets:read"),
    )
    def get_widget(
        id: Annotated[str, Path(description="The widget's id", examples=["w1"])],
    ) -> WidgetOut:
        return WidgetOut(id=id, name="x", size=1)

    @app.delete(
        "/v1/gadgets/{id}",
        tags=["gadgets"],
        summary="Delete a gadget",
        status_code=204,
        openapi_extra=scope("gadgets:delete"),
    )
    def delete_gadget(id: str) -> None:
        return None

    config = PortalConfig(
        name="Sample",
        key_types=(
            KeyType("read-only", "Reads", ("widgets:read",)),
            KeyType("scoped", "Its own", ("widgets:*",), True),
        ),
        scopes=("widgets:read", "widgets:write", "gadgets:delete"),
    )
    install(app, config, docs)
    return app
