"""``appliance events``: list the events JobRoutr sent, show one, retry, skip or accept them,
and answer the ones in review (questions for the operator)."""

from __future__ import annotations

import sys

import click

from appliance.cli.base import CliContext, admin, handles_errors, pass_ctx, refuse
from appliance.cli.cases import print_case, print_decided, print_review
from appliance.cli.rendering import (
    counted,
    print_action,
    print_event,
    print_events,
    print_json,
)
from appliance.core.admin import EVENT_STATUSES, EVENTS_MAX_LIMIT, EventActionReport
from appliance.core.admin_client import AdminClient
from appliance.core.review import CREATE, LINK, SKIP


@click.group(invoke_without_command=True)
@click.option(
    "--status",
    type=click.Choice(EVENT_STATUSES),
    default=None,
    help="Only events in this status.",
)
@click.option(
    "--limit",
    type=click.IntRange(1, EVENTS_MAX_LIMIT),
    default=50,
    show_default=True,
    help="How many events to show.",
)
@click.option("--before", metavar="ID", help="Only events older than this one (the next page).")
@click.option("--json", "as_json", is_flag=True, help="Print the events as JSON.")
@click.pass_context
def events(
    click_ctx: click.Context, status: str | None, limit: int, before: str | None, as_json: bool
) -> None:
    """List the events JobRoutr sent, newest first; show, retry, skip or accept them.

    A failed event shows QuickBooks' reason and what to do; fix the cause, then retry it. A
    waiting event says what it waits for and goes on by itself once that is there. A mismatch
    was written, but QuickBooks' totals differ from the bill: both are shown; fix the tax
    mapping and retry it, or accept QuickBooks' figures. An event in review is a question
    for you (a QuickBooks record of the same name, one made inactive there): `appliance events
    review` shows both records and how to answer.
    """
    if click_ctx.invoked_subcommand is None:
        _list_events(click_ctx.obj, status, limit, before, as_json)


@handles_errors
def _list_events(
    ctx: CliContext, status: str | None, limit: int, before: str | None, as_json: bool
) -> None:
    with admin(ctx.settings) as client:
        found = client.events(status, limit, before)
    if as_json:
        print_json(found)
        return
    print_events(found, status, limit)


@events.command("show")
@click.argument("event_id", metavar="ID")
@click.option("--json", "as_json", is_flag=True, help="Print the event as JSON.")
@pass_ctx
@handles_errors
def events_show(ctx: CliContext, event_id: str, as_json: bool) -> None:
    """Show one event and what became of it.

    Its status, attempts and QuickBooks id, and why it failed or what it waits for.
    """
    with admin(ctx.settings) as client:
        info = client.event(event_id)
    if as_json:
        print_json(info)
        return
    print_event(info)


def _chosen(ids: tuple[str, ...], all_failed: bool, action: str) -> list[str] | None:
    """The events to act on (``None``: every failed one); exactly one of the ids or
    --all-failed, else a sentence and exit 2."""
    if bool(ids) == all_failed:
        refuse(
            f"Give the ids of the events to {action}, or --all-failed, not both."
            if ids
            else f"Say which events to {action}: their ids, or --all-failed.",
            hint="`appliance events --status failed` lists the failed events with their ids.",
        )
    return None if all_failed else list(dict.fromkeys(ids))


@events.command("retry")
@click.argument("event_ids", nargs=-1, metavar="[ID]...")
@click.option("--all-failed", is_flag=True, help="Retry every failed event.")
@click.option("--json", "as_json", is_flag=True, help="Print the result as JSON.")
@pass_ctx
@handles_errors
def events_retry(
    ctx: CliContext, event_ids: tuple[str, ...], all_failed: bool, as_json: bool
) -> None:
    """Queue failed, waiting or mismatched events again.

    They go to QuickBooks in the order they were received. Give the ids of the events
    (`appliance events --status failed` lists them), or --all-failed. Fix what the error said
    first: a retry sends the same event again. A mismatched invoice is updated in QuickBooks,
    never written twice.
    """
    chosen = _chosen(event_ids, all_failed, "retry")
    with admin(ctx.settings) as client:
        report = client.retry_events(chosen)
    print_action(report, as_json, "Retried", "queued again")


@events.command("skip")
@click.argument("event_ids", nargs=-1, metavar="[ID]...")
@click.option("--all-failed", is_flag=True, help="Skip every failed event.")
@click.option("--yes", is_flag=True, help="Do not ask for confirmation.")
@click.option("--json", "as_json", is_flag=True, help="Print the result as JSON.")
@pass_ctx
@handles_errors
def events_skip(
    ctx: CliContext, event_ids: tuple[str, ...], all_failed: bool, yes: bool, as_json: bool
) -> None:
    """Give up on failed or waiting events for good.

    They are never written to QuickBooks: they end as ignored (code skipped). Asks first,
    unless --yes is given.
    """
    chosen = _chosen(event_ids, all_failed, "skip")
    if not yes and not sys.stdin.isatty():
        refuse(
            "Skipping events needs a confirmation, and there is no terminal to ask on.",
            hint="Add --yes to skip them without being asked.",
        )
    with admin(ctx.settings) as client:
        if not yes and not _confirm_skip(client, chosen):
            report = EventActionReport(action="skip", event_ids=[], count=0)
            print_action(report, as_json, "Skipped", "")
            return
        report = client.skip_events(chosen)
    print_action(report, as_json, "Skipped", "never written to QuickBooks")


def _confirm_skip(client: AdminClient, chosen: list[str] | None) -> bool:
    """Ask before skipping (no: abort); False, asking nothing, when --all-failed finds none."""
    if chosen is None:
        failed = client.events("failed", limit=1).counts.get("failed", 0)
        if not failed:
            return False
        what = f"all {counted(failed, 'failed event')}"
    else:
        what = ", ".join(chosen)
    click.confirm(f"Skip {what}? Skipped events are never written to QuickBooks.", abort=True)
    return True


@events.command("accept")
@click.argument("event_ids", nargs=-1, required=True, metavar="ID...")
@click.option("--json", "as_json", is_flag=True, help="Print the result as JSON.")
@pass_ctx
@handles_errors
def events_accept(ctx: CliContext, event_ids: tuple[str, ...], as_json: bool) -> None:
    """Accept mismatches: QuickBooks' totals stand.

    A mismatch is an invoice written to QuickBooks whose total or tax QuickBooks figured
    otherwise than the bill (`appliance events --status mismatch` lists them, with both).
    Accepted, it ends done; who accepted it and when is kept with the event and in the audit
    log. To correct it instead, fix the tax mapping and retry it.
    """
    with admin(ctx.settings) as client:
        report = client.accept_events(list(dict.fromkeys(event_ids)))
    print_action(report, as_json, "Accepted", "QuickBooks' figures stand")


@events.command("review")
@click.argument("event_id", metavar="[ID]", required=False)
@click.option("--link", is_flag=True, help="It is the QuickBooks record shown: link to it.")
@click.option("--qbo-id", metavar="QBO_ID", help="With --link: link to this QuickBooks id.")
@click.option("--create", is_flag=True, help="It is someone else: create a new record.")
@click.option("--skip", is_flag=True, help="Write nothing: the event ends ignored.")
@click.option("--json", "as_json", is_flag=True, help="Print the event(s) as JSON.")
@pass_ctx
@handles_errors
def events_review(
    ctx: CliContext,
    event_id: str | None,
    link: bool,
    qbo_id: str | None,
    create: bool,
    skip: bool,
    as_json: bool,
) -> None:
    """Questions for you: show the events in review, and answer them.

    The push does not write a JobRoutr record on its own when QuickBooks has a record of the
    same name that nothing else (email, phone, address) says is the same, or one that was made
    inactive in QuickBooks. Nothing is written until you decide, and later events of the same
    record wait behind it. Without ID, lists them all; with ID, shows one: both records side by
    side (the fields that differ marked), why it asks and the name a new record would get.
    With --link (optionally --qbo-id), --create or --skip, decides it; the decision is kept
    with the event and in the audit log.
    """
    action = _decision(event_id, {LINK: link, CREATE: create, SKIP: skip}, qbo_id)
    with admin(ctx.settings) as client:
        if event_id is None:
            found = client.events("review", limit=EVENTS_MAX_LIMIT)
            print_json(found) if as_json else print_review(found)
            return
        info = (
            client.event(event_id)
            if action is None
            else client.decide_event(event_id, action, qbo_id)
        )
    if as_json:
        print_json(info)
    elif action is not None:
        print_decided(info)
    elif info.status == "review":
        print_case(info)
    else:
        print_event(info)
        click.echo(f"\nEvent {event_id} is {info.status}: it waits for no decision.")


def _decision(event_id: str | None, flags: dict[str, bool], qbo_id: str | None) -> str | None:
    """The action asked (None: only show); one at most, with the event's id, and --qbo-id only
    with --link (else a sentence and exit 2)."""
    asked = [action for action, on in flags.items() if on]
    if len(asked) > 1:
        refuse(
            "Choose one answer: --link, --create or --skip.",
            hint="`appliance events review ID` shows what each would do.",
        )
    action = asked[0] if asked else None
    if action is not None and event_id is None:
        refuse(
            f"Say which event to {action}: give its id.",
            hint="`appliance events review` lists the events in review, with their ids.",
        )
    if qbo_id is not None and action != LINK:
        refuse(
            "--qbo-id goes with --link (link to this QuickBooks id).",
            hint="`appliance events review ID --link --qbo-id QBO_ID`.",
        )
    return action
