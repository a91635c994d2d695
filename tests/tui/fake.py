"""A stand-in for the service's admin API with fixed answers, for the console's SVG snapshots.

Snapshots must be the same at every run, so they cannot come from a live service (ports, realm
ids, timestamps). Everything else about the console is tested against the real service in
test_console.py; this only feeds the screens a plausible, fixed day of one company. Times are
set relative to now, far from the edges of the console's rounding (so "3m ago" stays "3m ago").
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

from appliance.core import review as cases
from appliance.core.admin import (
    AccountInfo,
    ActivityInfo,
    BooksInfo,
    ConnectAttempt,
    ConnectionInfo,
    ConnectStartReport,
    EventActionReport,
    EventError,
    EventInfo,
    EventList,
    EventMismatch,
    ImportReport,
    ImportSkipInfo,
    OnboardingInfo,
    OnboardingTask,
    QueueInfo,
    SettingsInfo,
    StatusReport,
    StoreInfo,
    TaxCodeRateInfo,
    TaxCodeView,
    TaxesInfo,
    TaxRateView,
    Totals,
)
from appliance.core.books import TaxModel
from appliance.errors import ServiceNotRunningError
from appliance.tui.api import Api
from appliance.tui.app import ConsoleApp

SOCKET = Path("/run/jobroutr-gateway/admin.sock")
REALM = "9341453050071776"
LINK = (
    "https://appcenter.intuit.com/connect/oauth2?client_id=ABkXZ3q0rPbR8bXvLm4Kd9sT2uYhGj"
    "&response_type=code&scope=com.intuit.quickbooks.accounting&redirect_uri=https%3A%2F%2F"
    "gateway.evergreen.example%2Foauth%2Fcallback&state=Z2V0LXJlYWR5LWZvci1h"
)


def _account(qbo_id: str, name: str, kind: str) -> AccountInfo:
    return AccountInfo(
        qbo_id=qbo_id,
        name=name.rsplit(":", 1)[-1],
        fully_qualified_name=name,
        account_type=kind,
        account_sub_type=None,
    )


INCOME = [
    _account("79", "Sales of Product Income", "Income"),
    _account("45", "Landscaping Services", "Income"),
    _account("46", "Landscaping Services:Job Materials", "Income"),
    _account("54", "Pest Control Services", "Income"),
    _account("83", "Services", "Income"),
    _account("82", "Interest Earned", "Other Income"),
]
EXPENSE = [
    _account("80", "Cost of Goods Sold", "Cost of Goods Sold"),
    _account("7", "Advertising", "Expense"),
    _account("55", "Automobile:Fuel", "Expense"),
    _account("60", "Job Expenses:Job Materials", "Expense"),
    _account("14", "Equipment Rental", "Expense"),
]
DEPOSIT = [
    _account("35", "Checking", "Bank"),
    _account("36", "Savings", "Bank"),
    AccountInfo(qbo_id="4", name="Undeposited Funds", fully_qualified_name="Undeposited Funds",
                account_type="Other Current Asset", account_sub_type="UndepositedFunds"),
]  # fmt: skip


def _code(qbo_id: str, name: str, percent: str | None) -> TaxCodeView:
    rates = [TaxCodeRateInfo(qbo_id=qbo_id, name=name, percent=percent)] if percent else []
    return TaxCodeView(qbo_id=qbo_id, name=name, percent=percent, rates=rates)


CODES = [
    _code("1", "20.0% S", "20"),
    _code("2", "5.0% R", "5"),
    _code("3", "0.0% Z", "0"),
    _code("4", "Exempt", None),
    _code("7", "20.0% ECG", "20"),
]
DISCOUNTS = [
    AccountInfo(
        qbo_id="86",
        name="Discounts given",
        fully_qualified_name="Discounts given",
        account_type="Income",
        account_sub_type="DiscountsRefundsGiven",
    ),
    *INCOME[:3],
]


def _taxes() -> TaxesInfo:
    rates = [
        TaxRateView(jobroutr_rate_id="vat20", name="VAT 20%", percent="20", mapped=CODES[0],
                    suggested=CODES[0], mapped_by="uid 1000 (pat)"),
        TaxRateView(jobroutr_rate_id="vat5", name="Reduced 5%", percent="5", suggested=CODES[1]),
        TaxRateView(jobroutr_rate_id="vat0", name="Zero-rated", percent="0", suggested=CODES[2]),
        TaxRateView(jobroutr_rate_id="levy", name="Tourist levy 2.5%", percent="2.5"),
    ]  # fmt: skip
    return TaxesInfo(
        realm_id=REALM,
        tax_model="per_line",
        tax_model_name="a tax code on every line (GST/HST, VAT)",
        needs_mapping=True,
        needs_untaxed_code=True,
        codes_imported=len(CODES),
        rates=rates,
        suggested_untaxed_tax_code=CODES[3],
        suggested_discount_account=DISCOUNTS[0],
        missing=[
            "JobRoutr tax rates not mapped yet: Reduced 5%, Zero-rated, Tourist levy 2.5%.",
            "No tax code chosen for untaxed lines.",
            "No discount account chosen.",
        ],
    )


NAME_CASE = cases.ReviewCase(
    kind="customer",
    reason=cases.NAME,
    message="QuickBooks has a customer named 'John Smith' (58), and nothing else agrees: "
    "not the email, the phone or the billing address.",
    jobroutr=cases.summary(
        "customer",
        {
            "display_name": "John Smith",
            "email": "john.smith@mailbox.example",
            "phone": "(503) 555-0148",
            "billing_address": {"line1": "12 Oak St", "city": "Salem", "region": "OR"},
        },
    ),
    candidate=cases.summary(
        "customer",
        {
            "display_name": "John Smith",
            "email": "jsmith@hartley-farms.example",
            "phone": "(541) 555-0190",
            "billing_address": {"line1": "4 Mill Rd", "city": "Bend", "region": "OR"},
            "balance": "1,240.00",
        },
        qbo_id="58",
    ),
    create_as="John Smith (2)",
    choices={
        cases.LINK: "Link to QuickBooks' John Smith (58): JobRoutr's record is written over it",
        cases.CREATE: "Create a new customer 'John Smith (2)'",
        cases.SKIP: "Skip: write nothing",
    },
)
INACTIVE_CASE = cases.ReviewCase(
    kind="customer",
    reason=cases.INACTIVE,
    message="The bookkeeper made 'Alder Creek HOA' (112) inactive in QuickBooks; updating it "
    "would make it active again.",
    jobroutr=cases.summary("customer", {"display_name": "Alder Creek HOA", "active": True}),
    candidate=cases.summary(
        "customer", {"display_name": "Alder Creek HOA", "active": False}, qbo_id="112"
    ),
    choices={cases.LINK: "Update it and make it active again", cases.SKIP: "Skip: write nothing"},
)


class FakeApi(Api):
    def __init__(
        self, *, running: bool = True, connected: bool = True, charted: bool = True
    ) -> None:
        super().__init__(SOCKET)
        self.charted = charted  # False: no chart of accounts imported yet
        self.now = datetime.now(UTC)
        self.running = running
        self.connected = connected
        income = INCOME[4] if charted else None
        self.saved = SettingsInfo(realm_id=REALM, income_account=income, expense_account=None)
        self.acted: list[tuple[str, list[str] | None]] = []  # (action, event ids) asked for

    def _at(self, **delta: float) -> datetime:
        return self.now + timedelta(**delta)

    def _check(self) -> None:
        if not self.running:
            raise ServiceNotRunningError(
                f"The appliance service is not running (nothing answers on {SOCKET})."
            )

    async def status(self) -> StatusReport:
        self._check()
        connection = (
            ConnectionInfo(
                realm_id=REALM,
                company_name="Evergreen Landscaping",
                environment="production",
                state="connected",
                connected_at=self._at(days=-3),
                access_token_expires_at=self._at(minutes=41, seconds=30),
                refresh_token_expires_at=self._at(days=99, hours=12),
            )
            if self.connected
            else None
        )
        return StatusReport(
            version="0.1.0",
            started_at=self._at(hours=-5),
            qbo_environment="production",
            public_url="https://gateway.evergreen.example",
            store=StoreInfo(
                backend="sqlite",
                location="/var/lib/jobroutr-gateway/appliance.db",
                schema_revision="0004",
                schema_current=True,
                key_version=1,
                key_rotation_pending=False,
            ),
            connection=connection,
            books=BooksInfo(
                country="US",
                tax_model="ast",
                tax_model_name=TaxModel.AST.describe,
                home_currency="USD",
                multicurrency=False,
                allow_discount=True,
                custom_txn_numbers=True,
                read_at=self._at(days=-3),
            )
            if self.connected
            else None,
            queue=QueueInfo(
                queued=3,
                running=1,
                waiting=1,
                failed=2,
                mismatch=1,
                review=2,
                oldest_queued_age_seconds=4,
            ),
            api_keys=1,
            webhook_secret_set=True,
            activity=ActivityInfo(
                window_seconds=3600,
                pushes_per_minute=4.2,
                pushed=212,
                push_failed=2,
                push_retried=3,
                qbo_calls=498,
                qbo_throttled=0,
                qbo_failed=5,
            ),
        )

    async def events(self, status: str | None = None, limit: int = 50) -> EventList:
        self._check()
        failed = [
            EventInfo(
                event_id="evt_2Yb7kQ9cX1",
                type="customer.created",
                record_kind="customer",
                record_id="cus_8812",
                status="failed",
                attempts=1,
                qbo_id=None,
                received_at=self._at(minutes=-3, seconds=-20),
                updated_at=self._at(minutes=-3, seconds=-19),
                error=EventError(
                    code="6240",
                    message="QuickBooks already has a vendor or employee named 'Summit Supply', "
                    "so this customer was held for you instead of being written under "
                    "another name.",
                    hint="Rename the customer in JobRoutr (or the vendor in QuickBooks), then "
                    "retry the event.",
                ),
            ),
            EventInfo(
                event_id="evt_2Yb7kR0aQ4",
                type="invoice.created",
                record_kind="invoice",
                record_id="inv_30417",
                status="failed",
                attempts=1,
                qbo_id=None,
                received_at=self._at(minutes=-2, seconds=-20),
                updated_at=self._at(minutes=-2, seconds=-19),
                error=EventError(
                    code="never-arrived",
                    message="Gave up waiting for customer cus_8812.",
                    hint="Fix and retry that record's event, then retry this one.",
                ),
            ),
        ]
        mismatched = [
            EventInfo(
                event_id="evt_2Yb7kQ2mT8",
                type="invoice.created",
                record_kind="invoice",
                record_id="inv_30415",
                status="mismatch",
                attempts=1,
                qbo_id="1187",
                received_at=self._at(minutes=-4, seconds=-20),
                updated_at=self._at(minutes=-4, seconds=-17),
                mismatch=EventMismatch(
                    qbo=Totals(total="236.86", tax="19.36"),
                    jobroutr=Totals(total="236.85", tax="19.35"),
                    hint="QuickBooks figured other totals than the bill. Check the tax mappings "
                    "of the invoice's rates, then retry the event; or accept QuickBooks' figures.",
                ),
            )
        ]
        done = [
            EventInfo(
                event_id=f"evt_2Yb7kP{n}",
                type=kind,
                record_kind=kind.split(".")[0],
                record_id=record,
                status="done",
                attempts=1,
                qbo_id=str(100 + n),
                received_at=self._at(minutes=-10 - n, seconds=-20),
                updated_at=self._at(minutes=-10 - n, seconds=-19),
            )
            for n, (kind, record) in enumerate(
                [
                    ("invoice.created", "inv_30416"),
                    ("customer.updated", "cus_8790"),
                    ("product.created", "prd_311"),
                ]
            )
        ]
        by_status = {"failed": failed, "mismatch": mismatched, "review": self._in_review()}
        items = by_status[status] if status else failed + mismatched + done
        return EventList(
            items=items[:limit],
            counts={
                "queued": 3,
                "running": 1,
                "waiting": 1,
                "done": 212,
                "mismatch": 1,
                "review": 2,
                "failed": 2,
            },
        )

    def _in_review(self) -> list[EventInfo]:
        """Two questions: a stranger of the same name, and a customer made inactive."""
        return [
            EventInfo(
                event_id="evt_2Yb7kS1rV5",
                type="customer.created",
                record_kind="customer",
                record_id="cus_8830",
                status="review",
                attempts=1,
                qbo_id=None,
                received_at=self._at(minutes=-6, seconds=-20),
                updated_at=self._at(minutes=-6, seconds=-19),
                review=NAME_CASE,
            ),
            EventInfo(
                event_id="evt_2Yb7kS4hW2",
                type="customer.updated",
                record_kind="customer",
                record_id="cus_8120",
                status="review",
                attempts=1,
                qbo_id=None,
                received_at=self._at(minutes=-8, seconds=-20),
                updated_at=self._at(minutes=-8, seconds=-19),
                review=INACTIVE_CASE,
            ),
        ]

    async def decide(self, event_id: str, action: str, qbo_id: str | None = None) -> EventInfo:
        self.acted.append((action, [event_id]))
        [found] = [e for e in self._in_review() if e.event_id == event_id]
        case = found.review
        assert case is not None
        linked = action == cases.LINK
        found.decision = cases.Decision(
            action=action,
            by="dana",
            at=self.now,
            qbo_id=(qbo_id or case.candidate_id) if linked else None,
            name=case.create_as if action == cases.CREATE else None,
        )
        found.status = "ignored" if action == cases.SKIP else "queued"
        return found

    async def retry(self, event_ids: list[str] | None) -> EventActionReport:
        self.acted.append(("retry", event_ids))
        return EventActionReport(action="retry", event_ids=event_ids or [], count=1)

    async def accept(self, event_ids: list[str]) -> EventActionReport:
        self.acted.append(("accept", event_ids))
        return EventActionReport(action="accept", event_ids=event_ids, count=len(event_ids))

    async def connect_start(self, allow_other_company: bool = False) -> ConnectStartReport:
        self._check()
        return ConnectStartReport(
            authorization_url=LINK,
            redirect_uri="https://gateway.evergreen.example/oauth/callback",
            environment="production",
            expires_at=self._at(minutes=10),
            attempt="a" * 64,
        )

    async def connect_attempt(self, attempt: str) -> ConnectAttempt:
        """Still waiting for the browser (the screen says so, and keeps asking)."""
        self._check()
        return ConnectAttempt(
            attempt=attempt,
            state="open",
            started_at=self._at(minutes=-5),
            expires_at=self._at(minutes=10),
        )

    async def import_latest(self, kind: str) -> ImportReport:
        self._check()
        if kind == "customers":
            return ImportReport(
                run_id=7,
                kind=kind,
                realm_id=REALM,
                state="running",
                total=20_000,
                done=11_980,
                skipped=20,
                qbo_calls=13,
                started_at=self._at(seconds=-24),
                rate_per_second=500.0,
                eta_seconds=16,
            )
        if kind == "tax_codes":
            return ImportReport(
                run_id=5,
                kind=kind,
                realm_id=REALM,
                state="done",
                total=4,
                done=4,
                skipped=0,
                qbo_calls=3,
                started_at=self._at(minutes=-21, seconds=-40),
                finished_at=self._at(minutes=-21, seconds=-39),
            )
        return ImportReport(
            run_id=6,
            kind=kind,
            realm_id=REALM,
            state="done",
            total=412,
            done=409,
            skipped=3,
            qbo_calls=2,
            started_at=self._at(minutes=-20, seconds=-40),
            finished_at=self._at(minutes=-20, seconds=-38),
            left_out={"inactive": 12, "categories": 6},
            skips=[
                ImportSkipInfo(qbo_id="31", name="Gift card", reason="no price"),
                ImportSkipInfo(qbo_id="57", name=None, reason="no name"),
                ImportSkipInfo(qbo_id="58", name="Misc. labour", reason="no price"),
            ],
        )

    async def accounts(self, kind: str) -> list[AccountInfo]:
        self._check()
        chart = {"income": INCOME, "expense": EXPENSE, "deposit": DEPOSIT}
        return chart[kind] if self.charted else []

    async def settings(self) -> SettingsInfo:
        self._check()
        return self.saved

    async def taxes(self) -> TaxesInfo:
        self._check()
        return _taxes()

    async def tax_codes(self) -> list[TaxCodeView]:
        self._check()
        return CODES

    async def discount_accounts(self) -> list[AccountInfo]:
        self._check()
        return DISCOUNTS

    async def onboarding(self) -> OnboardingInfo:
        self._check()
        names = {
            "connect": ("Connect to QuickBooks", True),
            "import_customers": ("Import customers", True),
            "default_accounts": ("Choose default accounts", False),
            "import_products": ("Import products", True),
            "taxes": ("Map tax rates", False),
            "discount_account": ("Choose a discount account", False),
        }
        return OnboardingInfo(
            realm_id=REALM,
            tasks=[OnboardingTask(task=t, name=n, done=d) for t, (n, d) in names.items()],
        )


def fake_console(**kwargs: bool) -> ConsoleApp:
    app = ConsoleApp(SOCKET)
    app.api = FakeApi(**kwargs)
    return app
