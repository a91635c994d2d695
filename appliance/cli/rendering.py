"""How the commands print: the status, a connection, an import, settings, events.

Text for a person on a terminal (colour only where click finds one), or the admin API's answer
as indented JSON with --json. Commands fetch; these functions only print.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime
from typing import Any

import click
import msgspec

from appliance.core.accounts import UNDEPOSITED_FUNDS
from appliance.core.activity import summary as activity_summary
from appliance.core.admin import (
    AccountInfo,
    BooksInfo,
    ConnectionInfo,
    ConnectStartReport,
    EventActionReport,
    EventInfo,
    EventList,
    EventMismatch,
    ImportReport,
    OnboardingInfo,
    QueueInfo,
    SettingsInfo,
    StatusReport,
)
from appliance.core.changes import feed_lines
from appliance.core.left_out import left_out_sentence
from appliance.core.onboarding import GO_ON, MARKED_COMPLETE
from appliance.core.tokens import state_words


def print_json(answer: Any) -> None:
    """An answer of the admin API as the API sent it, indented."""
    click.echo(json.dumps(msgspec.to_builtins(answer), indent=2))


def ago(when: datetime | None) -> str:
    if when is None:
        return "never"
    return when.astimezone(UTC).strftime("%Y-%m-%d %H:%M UTC")


def stamp(moment: datetime | None) -> str:
    return "-" if moment is None else moment.astimezone(UTC).strftime("%Y-%m-%d %H:%M:%S")


def counted(n: int, noun: str = "event") -> str:
    return f"{n} {noun}" + ("" if n == 1 else "s")


STATUS_COLOURS = {
    "failed": "red",
    "mismatch": "magenta",
    "waiting": "yellow",
    "done": "green",
    "running": "cyan",
    "review": "blue",
}


def _print_instances(report: StatusReport) -> None:
    """The cluster's live instances and the data key versions each holds (PostgreSQL)."""
    if len(report.instances) > 1:
        live = ", ".join(
            f"{i.name} (keys {', '.join(str(v) for v in i.key_versions)})" for i in report.instances
        )
        click.echo(f"  Live instances:   {live}")


def print_status(report: StatusReport) -> None:
    click.secho(f"JobRoutr QuickBooks Gateway {report.version}", bold=True)
    if report.instance:
        click.echo(f"  Instance:         {report.instance} (answering; the queue is every one's)")
    _print_instances(report)
    click.echo(f"  Running since:    {ago(report.started_at)}")
    click.echo(f"  Public URL:       {report.public_url}")
    click.echo(f"  QBO environment:  {report.qbo_environment}")
    conn = report.connection
    if conn is None:
        click.echo("  QuickBooks:       not connected (run `appliance connect`)")
    elif conn.state == "disconnected":  # no tokens, none to expire; the data is kept
        click.echo(
            f"  QuickBooks:       disconnected from {conn.company_name or 'the company'} "
            f"(realm {conn.realm_id}, {conn.environment}) since {ago(conn.disconnected_at)}; "
            "its imported data is kept (run `appliance connect` to connect again)"
        )
    else:
        click.echo(
            f"  QuickBooks:       {state_words(conn.state)}: "
            f"{conn.company_name or 'name not read'} "
            f"(realm {conn.realm_id}, {conn.environment})"
        )
        click.echo(f"  Access token:     expires {ago(conn.access_token_expires_at)}")
        click.echo(f"  Refresh token:    expires {ago(conn.refresh_token_expires_at)}")
        if conn.refresh_token_hard_expires_at:
            click.echo(f"  Authorization:    ends {ago(conn.refresh_token_hard_expires_at)}")
        for warning in conn.warnings:
            click.secho(f"  Warning: {warning}", fg="yellow")
        print_books(report.books)
        if report.feed is not None:
            for n, line in enumerate(feed_lines(report.feed, datetime.now(UTC))):
                click.echo(f"  {'Changes:' if n == 0 else '':<18}{line}")
    print_queue(report.queue)
    if report.activity is not None:
        click.echo(f"  Activity:         {activity_summary(report.activity)}")
    if report.checks:
        click.echo("  Readiness:")
        marks = {"ok": ("ok", "green"), "warn": ("WARN", "yellow"), "fail": ("FAIL", "red")}
        for check in report.checks:
            mark, colour = marks.get(check.state, ("?", "white"))
            click.echo("    " + click.style(f"{mark:<4}", fg=colour) + f" {check.name:<11} "
                       f"{check.detail}" + (f" {check.hint}" if check.hint else ""))  # fmt: skip
    s = report.store
    click.echo(
        f"  Store:            {s.backend} at {s.location}, schema {s.schema_revision}"
        + ("" if s.schema_current else " (NOT current)")
    )
    click.echo(
        f"  Data key:         version {s.key_version}"
        + (" (rotation unfinished: run `appliance rotate-key`)" if s.key_rotation_pending else "")
    )
    click.echo(
        f"  JobRoutr access:  {report.api_keys} API key(s), webhook secret "
        + ("set" if report.webhook_secret_set else "NOT set (run `appliance init`)")
    )


def print_queue(q: QueueInfo) -> None:
    """The queue's counts; the events in review (questions for the operator) on their own line."""
    age = (
        ""
        if q.oldest_queued_age_seconds is None
        else f", oldest {q.oldest_queued_age_seconds:.0f}s"
    )
    mismatched = (
        f"; {q.mismatch} mismatched (`appliance events --status mismatch`)" if q.mismatch else ""
    )
    click.echo(
        f"  Queue:            {q.queued} queued, {q.running} running, {q.waiting} waiting, "
        f"{q.failed} failed{age}{mismatched}"
    )
    if len(q.running_by_instance) > 1:
        held = ", ".join(f"{name} {n}" for name, n in sorted(q.running_by_instance.items()))
        click.echo(f"  Running by:       {held}")
    if q.review:
        click.secho(
            f"  Review:           {counted(q.review, 'event')} "
            f"{'waits' if q.review == 1 else 'wait'} for your decision "
            "(`appliance events review`)",
            fg="blue",
        )


def print_books(books: BooksInfo | None) -> None:
    """The company's tax model, country and currencies (read at connect and accounts imports)."""
    if books is None:
        click.echo("  Sales tax:        not read yet (run `appliance import accounts`)")
        return
    currencies = "multi-currency on" if books.multicurrency else "multi-currency off"
    click.echo(f"  Sales tax:        {books.tax_model_name} [{books.tax_model}]")
    click.echo(
        f"  Books:            country {books.country or '?'}, home currency "
        f"{books.home_currency}, {currencies} (read {ago(books.read_at)})"
    )


def print_connect_link(started: ConnectStartReport) -> None:
    click.echo(
        "Open this address in a browser, sign in to QuickBooks as a company administrator "
        "and choose Connect:\n"
    )
    # Alone on its line, not indented: the terminal wraps it, so a triple-click selects it whole.
    click.secho(f"{started.authorization_url}\n", bold=True)
    click.echo(
        f"QuickBooks then sends the browser to {started.redirect_uri} (which must be listed "
        "as a Redirect URI of your app at Intuit). If that page does not open, copy the "
        "whole address from the browser's address bar and run:\n\n"
        "  appliance connect --redirect-url '<address>'\n\n"
        f"The link works once, until {ago(started.expires_at)}."
    )


def print_connected(info: ConnectionInfo) -> None:
    click.secho("Your QuickBooks Online account is connected.", fg="green", bold=True)
    click.echo(f"  Company:      {info.company_name or '?'} (realm {info.realm_id})")
    click.echo(f"  Environment:  {info.environment}")
    click.echo(f"  Access token: expires {ago(info.access_token_expires_at)}")
    click.echo(f"  Reconnect by: {ago(info.refresh_token_expires_at)} (renewed as it is used)")


def print_import_progress(report: ImportReport, tty: bool) -> None:
    """One line on stderr: rewritten in place on a terminal, one line a poll elsewhere."""
    total = report.total if report.total is not None else "?"
    seen = report.done + report.skipped
    line = f"  {seen} of {total}"
    if report.rate_per_second:
        line += f"  {report.rate_per_second:.0f}/s"
    if report.eta_seconds is not None and report.state == "running":
        line += f"  about {report.eta_seconds:.0f}s left"
    click.echo(("\r" + line + "   ") if tty else line, err=True, nl=not tty)


def print_import(report: ImportReport) -> None:
    seconds = (
        (report.finished_at - report.started_at).total_seconds() if report.finished_at else None
    )
    took = f" in {seconds:.1f}s" if seconds is not None else ""
    click.secho(f"Import {report.run_id} of {report.kind}: {report.state}{took}", bold=True)
    click.echo(
        f"  Imported {report.done}, skipped {report.skipped} of {report.total}; "
        f"{report.qbo_calls} QuickBooks calls."
    )
    if left_out := left_out_sentence(report.left_out):
        click.echo(f"  {left_out}")
    if report.error:
        click.secho(f"  Error: {report.error}", fg="red")
    for skip in report.skips[:50]:
        click.echo(f"  Skipped {skip.name or '(no name)'} (QBO id {skip.qbo_id}): {skip.reason}")
    if len(report.skips) > 50:
        click.echo(f"  ... and {len(report.skips) - 50} more (see --json).")


def print_accounts(found: list[AccountInfo], kind: str) -> None:
    if not found:
        click.echo(f"No {kind} accounts. Run `appliance import accounts` first.")
        return
    for account in found:
        click.echo(
            f"  {account.qbo_id:>6}  {account.fully_qualified_name}  ({account.account_type})"
        )


def print_settings(info: SettingsInfo, as_json: bool) -> None:
    if as_json:
        print_json(info)
        return
    for label, account in (("income", info.income_account), ("expense", info.expense_account)):
        shown = f"{account.fully_qualified_name} (id {account.qbo_id})" if account else "not set"
        click.echo(f"  Default {label} account:  {shown}")
    deposit = info.deposit_account
    shown = (
        f"{deposit.fully_qualified_name} (id {deposit.qbo_id})"
        if deposit
        else f"{UNDEPOSITED_FUNDS} (QuickBooks' default)"
    )
    click.echo(f"  Payments deposited to:   {shown}")


def print_onboarding(info: OnboardingInfo, just_completed: bool = False) -> None:
    if not info.realm_id:
        click.echo("No QuickBooks company is connected yet (run `appliance connect`).")
    for task in info.tasks:
        click.echo(f"  [{'x' if task.done else ' '}] {task.name}")
    if info.completed_at:
        if just_completed:
            click.echo(MARKED_COMPLETE)
        else:
            click.echo(f"Marked complete {ago(info.completed_at)}; {GO_ON}.")
        if info.skipped:
            click.echo(f"  Left undone: {', '.join(info.skipped)}.")


def print_events(found: EventList, status: str | None, limit: int) -> None:
    if not found.items:
        click.echo(f"No {status} events." if status else "No events have been received yet.")
    else:
        header = ("RECEIVED (UTC)", "EVENT", "TYPE", "RECORD", "STATUS", "TRIES", "QBO ID")
        rows = [
            (
                stamp(e.received_at),
                e.event_id,
                e.type,
                e.record_id or "-",
                e.status,
                str(e.attempts),
                e.qbo_id or "-",
            )
            for e in found.items
        ]
        widths = [max(len(row[i]) for row in (header, *rows)) for i in range(len(header))]
        click.secho("  ".join(h.ljust(w) for h, w in zip(header, widths, strict=True)), bold=True)
        for info, row in zip(found.items, rows, strict=True):
            cells = [c.ljust(w) for c, w in zip(row, widths, strict=True)]
            cells[4] = click.style(cells[4], fg=STATUS_COLOURS.get(info.status))
            click.echo("  ".join(cells).rstrip())
            for line in event_notes(info):
                click.echo(f"    {line}")
    summary = ", ".join(f"{n} {s}" for s, n in found.counts.items() if n)
    total = sum(found.counts.values())
    if total:
        click.echo(f"\n{counted(total)} in all: {summary}.")
    if found.next_before:
        more = f"appliance events --before {found.next_before}"
        if status:
            more += f" --status {status}"
        if limit != 50:
            more += f" --limit {limit}"
        click.echo(f"Older events: `{more}`")


def event_notes(info: EventInfo) -> list[str]:
    """The lines under an event's row: why it failed and what to do, or what it waits for."""
    notes = []
    if info.error is not None:
        notes.append(click.style(f"{info.error.code}: {info.error.message}", fg="red"))
        if info.error.hint:
            notes.append(f"Hint: {info.error.hint}")
    if info.mismatch is not None:
        notes.extend(mismatch_lines(info.mismatch))
    if info.status == "waiting" and info.waiting_for:
        notes.append(f"Waiting for {info.waiting_for}")
    if info.status == "review":
        asks = info.review.message if info.review else "A question for you."
        notes.append(click.style(asks, fg="blue"))
        notes.append(f"Answer: `appliance events review {info.event_id}`")
    if info.status == "queued" and info.last_error:
        notes.append(
            f"Last attempt: {info.last_error} (next attempt {stamp(info.next_attempt_at)} UTC)"
        )
    return notes


def mismatch_lines(found: EventMismatch) -> list[str]:
    """QuickBooks' totals beside the bill's, and what to do (or who accepted QBO's)."""
    qbo, bill = found.qbo, found.jobroutr
    lines = [
        click.style(
            f"QuickBooks: total {qbo.total or '?'}, tax {qbo.tax or '?'}; "
            f"JobRoutr: total {bill.total or '?'}, tax {bill.tax or '?'}",
            fg="magenta" if found.accepted_at is None else None,
        )
    ]
    if found.accepted_at is not None:
        lines.append(f"Accepted by {found.accepted_by or '?'} at {stamp(found.accepted_at)} UTC")
    else:
        lines.append(f"Hint: {found.hint}")
    return lines


def print_event(info: EventInfo) -> None:
    """One event in full, and how to retry or skip it when it failed or waits."""
    click.secho(f"Event {info.event_id} ({info.type})", bold=True)
    record = " ".join(p for p in (info.record_kind, info.record_id) if p) or "-"
    status = click.style(info.status, fg=STATUS_COLOURS.get(info.status))
    lines = [
        ("Record", record),
        ("Status", status),
        ("Waiting for", info.waiting_for),
        ("Next attempt", f"{stamp(info.next_attempt_at)} UTC" if info.next_attempt_at else None),
        ("Attempts", str(info.attempts)),
        ("QuickBooks id", info.qbo_id or "-"),
        ("Occurred", f"{stamp(info.occurred_at)} UTC" if info.occurred_at else None),
        ("Received", f"{stamp(info.received_at)} UTC"),
        ("Updated", f"{stamp(info.updated_at)} UTC"),
        ("Last error", info.last_error),
        ("Decided", decided(info)),
    ]
    if info.error is not None:
        lines.append(("Error", click.style(f"{info.error.code}: {info.error.message}", fg="red")))
        lines.append(("Hint", info.error.hint))
    for label, value in lines:
        if value:
            click.echo(f"  {label + ':':<15}{value}")
    for line in mismatch_lines(info.mismatch) if info.mismatch is not None else []:
        click.echo(f"  {line}")
    if info.status == "review":
        click.echo(
            f"\nIt is a question for you: `appliance events review {info.event_id}` shows both "
            "records and how to answer."
        )
    if info.status in ("failed", "waiting"):
        click.echo(
            f"\nRetry it with `appliance events retry {info.event_id}`, or give up on it with "
            f"`appliance events skip {info.event_id}`."
        )


def decided(info: EventInfo) -> str | None:
    """The operator's answer to the event's question, who and when; None if none."""
    found = info.decision
    if found is None:
        return None
    what = {
        "link": f"link to QuickBooks id {found.qbo_id}",
        "create": f"create new as {found.name!r}",
    }.get(found.action, found.action)
    return f"{what}, by {found.by} at {stamp(found.at)} UTC"


def print_action(report: EventActionReport, as_json: bool, done: str, then: str) -> None:
    if as_json:
        print_json(report)
    elif not report.count:
        click.echo(f"{done} 0 events: none had failed.")
    else:
        click.echo(f"{done} {counted(report.count)} ({then}):")
        for event_id in report.event_ids:
            click.echo(f"  {event_id}")
