"""The one HTML page the public listener shows: where the browser lands after Intuit."""

from __future__ import annotations

import html

from litestar.response import Response

_PAGE = """<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>{title}</title>
<meta name="viewport" content="width=device-width, initial-scale=1">
<style>body{{font-family:system-ui,sans-serif;max-width:36rem;margin:3rem auto;padding:0 1rem}}
h1{{font-size:1.4rem}} .ok{{color:#1a7f37}} .fail{{color:#b42318}} p{{line-height:1.5}}</style>
</head><body><h1 class="{css}">{title}</h1><p>{message}</p><p>{hint}</p>
<p style="color:#666;font-size:.9rem">JobRoutr QuickBooks Gateway</p></body></html>"""


def callback_page(*, ok: bool, message: str, hint: str) -> Response[str]:
    title = "Connected to QuickBooks" if ok else "QuickBooks was not connected"
    return Response(
        _PAGE.format(
            title=html.escape(title),
            css="ok" if ok else "fail",
            message=html.escape(message),
            hint=html.escape(hint),
        ),
        status_code=200 if ok else 400,
        media_type="text/html; charset=utf-8",
        headers={"cache-control": "no-store", "referrer-policy": "no-referrer"},
    )
