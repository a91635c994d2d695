"""Imports of the company's customers, products and accounts: start, follow, cancel."""

from __future__ import annotations

from litestar import Controller, get, post
from litestar.di import NamedDependency
from litestar.exceptions import NotFoundException
from litestar.params import FromPath

from appliance.core.admin import ImportReport
from appliance.gateway.admin.operator import OPERATOR
from appliance.gateway.problems import problems
from appliance.gateway.runtime import Runtime
from appliance.sync.imports import KINDS as IMPORT_KINDS
from appliance.sync.imports import report as import_report


class ImportsController(Controller):
    path = "/v1/imports"
    tags = ["admin"]  # noqa: RUF012 - Litestar reads it from the class
    dependencies = OPERATOR

    @post(
        "/{kind:str}",
        summary="Start an import",
        status_code=202,
        responses=problems(400, 404, 409),
    )
    async def admin_import_start(
        self, runtime: NamedDependency[Runtime], kind: FromPath[str]
    ) -> ImportReport:
        run = runtime.importer.start(_import_kind(kind))
        return import_report(runtime.store, run)

    @get(
        "/{kind:str}",
        summary="The latest import: progress or summary",
        responses=problems(400, 404, 409),
    )
    async def admin_import_latest(
        self, runtime: NamedDependency[Runtime], kind: FromPath[str]
    ) -> ImportReport:
        run = runtime.importer.latest(_import_kind(kind))
        return import_report(runtime.store, run, with_skips=run.state != "running")

    @post(
        "/{kind:str}/cancel",
        summary="Ask the running import to stop",
        status_code=200,
        responses=problems(400, 404, 409),
    )
    async def admin_import_cancel(
        self, runtime: NamedDependency[Runtime], kind: FromPath[str]
    ) -> ImportReport:
        return import_report(runtime.store, runtime.importer.cancel(_import_kind(kind)))


def _import_kind(kind: str) -> str:
    """An unknown kind names no resource: 404, as for a kind that has not run yet."""
    if kind not in IMPORT_KINDS:
        raise NotFoundException(
            detail=f"There is no import of {kind!r}.",
            extra={"hint": f"Choose one of {', '.join(IMPORT_KINDS)}."},
        )
    return kind
