"""The entities of QBO as tables: which the emulator models, their properties, references, the
names a URL or a query may use, which can be written, listed by name or queried by what.

Each record kind's rules live in a module of their own (``people``, ``items``, ``accounts``,
``invoices``, ``payments``), which ``company.RULES`` maps the writable entities to; these tables
are what those modules, ``Company`` and the API share.
"""

from __future__ import annotations

from typing import Any

Record = dict[str, Any]

COMMON = ("Id", "SyncToken", "MetaData", "domain", "sparse")
NAME_PARTS = ("Title", "GivenName", "MiddleName", "FamilyName", "Suffix")
CONTACT = (
    *NAME_PARTS, "DisplayName", "CompanyName", "PrintOnCheckName", "Active", "PrimaryPhone",
    "AlternatePhone", "Mobile", "Fax", "PrimaryEmailAddr", "WebAddr", "OtherContactInfo",
)  # fmt: skip

KNOWN: dict[str, tuple[str, ...]] = {
    "Customer": (
        *COMMON, *CONTACT, "FullyQualifiedName", "DefaultTaxCodeRef", "Taxable", "BillAddr",
        "ShipAddr", "OtherAddr", "Notes", "Job", "BillWithParent", "ParentRef", "Level",
        "SalesTermRef", "PaymentMethodRef", "Balance", "OpenBalanceDate", "BalanceWithJobs",
        "CurrencyRef", "PreferredDeliveryMethod", "ResaleNum", "ARAccountRef",
        "PrimaryTaxIdentifier", "TaxExemptionReasonId", "IsProject", "CustomerTypeRef",
        "ClientEntityId", "Source", "GSTIN", "BusinessNumber", "GSTRegistrationType",
        "SecondaryTaxIdentifier", "V4IDPseudonym",
    ),
    "Vendor": (
        *COMMON, *CONTACT, "BillAddr", "TaxIdentifier", "TermRef", "Balance", "AcctNum",
        "Vendor1099", "CurrencyRef", "APAccountRef", "BillRate", "CostRate", "GSTIN",
        "BusinessNumber", "GSTRegistrationType", "HasTPAR", "TaxReportingBasis", "Source",
        "V4IDPseudonym",
    ),
    "Employee": (
        *COMMON, *NAME_PARTS, "DisplayName", "PrintOnCheckName", "Active", "PrimaryPhone",
        "Mobile", "PrimaryEmailAddr", "PrimaryAddr", "EmployeeNumber", "SSN", "BillableTime",
        "BillRate", "CostRate", "BirthDate", "Gender", "HiredDate", "ReleasedDate",
        "Organization", "V4IDPseudonym",
    ),
    "Item": (
        *COMMON, "Name", "Sku", "Description", "Active", "SubItem", "ParentRef", "Level",
        "FullyQualifiedName", "Taxable", "SalesTaxIncluded", "UnitPrice", "RatePercent", "Type",
        "IncomeAccountRef", "PurchaseDesc", "PurchaseTaxIncluded", "PurchaseCost",
        "ExpenseAccountRef", "AssetAccountRef", "TrackQtyOnHand", "QtyOnHand", "InvStartDate",
        "SalesTaxCodeRef", "PurchaseTaxCodeRef", "PrefVendorRef", "ReorderPoint", "ClassRef",
        "DeferredRevenue", "Source", "ItemCategoryType", "TaxClassificationRef",
    ),
    "Account": (
        *COMMON, "Name", "SubAccount", "ParentRef", "Description", "FullyQualifiedName",
        "Active", "Classification", "AccountType", "AccountSubType", "AcctNum",
        "CurrentBalance", "CurrentBalanceWithSubAccounts", "CurrencyRef", "TaxCodeRef",
        "AccountAlias", "TxnLocationType", "OpeningBalance", "OpeningBalanceDate",
    ),
    "Invoice": (
        *COMMON, "CustomField", "DocNumber", "TxnDate", "DepartmentRef", "CurrencyRef",
        "ExchangeRate", "PrivateNote", "TxnStatus", "LinkedTxn", "Line", "TxnTaxDetail",
        "CustomerRef", "CustomerMemo", "BillAddr", "ShipAddr", "FreeFormAddress",
        "ShipFromAddr", "ClassRef", "SalesTermRef", "DueDate", "GlobalTaxCalculation",
        "ShipMethodRef", "ShipDate", "TrackingNum", "TotalAmt", "HomeTotalAmt", "PrintStatus",
        "EmailStatus", "BillEmail", "BillEmailCc", "BillEmailBcc", "Balance", "HomeBalance",
        "DeliveryInfo", "ApplyTaxAfterDiscount", "AllowIPNPayment", "AllowOnlinePayment",
        "AllowOnlineCreditCardPayment", "AllowOnlineACHPayment", "Deposit",
        "DepositToAccountRef", "InvoiceLink", "AutoDocNumber", "TxnSource", "ProjectRef",
        "TaxExemptionRef", "RecurDataRef", "EInvoiceStatus",
    ),
    "CompanyInfo": (
        *COMMON, "CompanyName", "LegalName", "CompanyAddr", "CustomerCommunicationAddr",
        "LegalAddr", "CustomerCommunicationEmailAddr", "PrimaryPhone", "CompanyStartDate",
        "FiscalYearStartMonth", "Country", "Email", "WebAddr", "SupportedLanguages",
        "NameValue",
    ),
    # Read-only here, as through QBO's API (FACTS §11): seeded per company kind (seed.KINDS).
    "Preferences": (
        *COMMON, "AccountingInfoPrefs", "ProductAndServicesPrefs", "SalesFormsPrefs",
        "EmailMessagesPrefs", "VendorAndPurchasesPrefs", "TimeTrackingPrefs", "TaxPrefs",
        "CurrencyPrefs", "ReportPrefs", "OtherPrefs",
    ),
    "TaxAgency": (
        *COMMON, "DisplayName", "TaxRegistrationNumber", "TaxTrackedOnSales",
        "TaxTrackedOnPurchases", "TaxAgencyConfig",
    ),
    "TaxRate": (
        *COMMON, "Name", "Description", "Active", "RateValue", "AgencyRef", "TaxReturnLineRef",
        "SpecialTaxType", "DisplayType", "EffectiveTaxRate",
    ),
    "TaxCode": (
        *COMMON, "Name", "Description", "Active", "Hidden", "Taxable", "TaxGroup",
        "SalesTaxRateList", "PurchaseTaxRateList", "TaxCodeConfigType",
    ),
    "Payment": (
        *COMMON, "TxnDate", "CurrencyRef", "ExchangeRate", "PrivateNote", "TxnStatus",
        "LinkedTxn", "Line", "TxnSource", "CustomerRef", "ARAccountRef", "DepositToAccountRef",
        "PaymentMethodRef", "PaymentRefNum", "CreditCardPayment", "TotalAmt", "UnappliedAmt",
        "ProcessPayment", "TransactionLocationType", "TaxExemptionRef", "ProjectRef",
        "DepartmentRef", "HomeTotalAmt",
    ),
    # Read-only here (seed.PAYMENT_METHODS), as Term.
    "PaymentMethod": (*COMMON, "Name", "Active", "Type"),
    # Read-only here (seed.TERMS): the sandbox's standard payment terms.
    "Term": (
        *COMMON, "Name", "Active", "Type", "DueDays", "DiscountDays", "DiscountPercent",
        "DayOfMonthDue", "DueNextMonthDays", "DiscountDayOfMonth",
    ),
}  # fmt: skip
#: The references a write is checked against (2500 when unknown, 610 when inactive), by entity:
#: top-level field -> the entity it names. Lines (``SalesItemLineDetail.TaxCodeRef``/``ClassRef``,
#: ``DiscountLineDetail.DiscountAccountRef``) and ``TxnTaxDetail.TxnTaxCodeRef`` are checked in
#: ``invoices``; a payment's ``DepositToAccountRef`` and ``LinkedTxn`` in payments.py.
#: Class and Department are not modelled: the emulator's companies have none, so any reference to
#: one is unknown.
REFERENCES: dict[str, dict[str, str]] = {
    "Customer": {
        "DefaultTaxCodeRef": "TaxCode", "SalesTermRef": "Term", "PaymentMethodRef": "PaymentMethod",
    },
    "Item": {"ClassRef": "Class", "SalesTaxCodeRef": "TaxCode", "PurchaseTaxCodeRef": "TaxCode"},
    "Invoice": {
        "SalesTermRef": "Term", "ClassRef": "Class", "DepartmentRef": "Department",
        "DepositToAccountRef": "Account",
    },
    "Payment": {
        "PaymentMethodRef": "PaymentMethod", "ARAccountRef": "Account",
        "DepartmentRef": "Department",
    },
}  # fmt: skip
#: Entities QBO's change data capture does not cover (FACTS §6, §11).
NOT_IN_CDC = frozenset({"CompanyInfo", "Preferences", "TaxAgency", "TaxRate", "TaxCode"})

#: The entity names in URLs (``/v3/company/{realm}/customer``) and in query FROM clauses.
URL_NAMES = {name.lower(): name for name in KNOWN}

#: Every entity real QBO has: the ``IntuitObject`` elements of Intuit's schema
#: (../shared/qbo/samples/schemas/intuit_xsd/IntuitRestServiceDef.xsd). A name on this list that
#: the emulator does not model is answered "Unsupported Operation" (code 500), so that a client
#: is never told a real entity is misspelt; only a name that is on no list gets the recorded
#: misspelt-entity fault ("invalid context declaration", 4001).
QBO_ENTITIES = frozenset(
    {
        "Account", "Attachable", "Bill", "BillPayment", "BooleanTypeCustomFieldDefinition",
        "Budget", "ChangeOrder", "ChargeCredit", "Class", "Company", "CompanyCurrency",
        "CompanyInfo", "CreditCardPaymentTxn", "CreditMemo", "CustomFieldDefinition", "Customer",
        "CustomerType", "DateTypeCustomFieldDefinition", "Department", "Deposit",
        "EmailDeliveryInfo", "Employee", "Estimate", "ExchangeRate", "FixedAsset",
        "InventoryAdjustment", "InventorySite", "Invoice", "Item", "JournalCode", "JournalEntry",
        "MasterAccount", "NumberTypeCustomFieldDefinition", "OtherName", "Payment",
        "PaymentMethod", "Preferences", "PriceLevel", "Purchase", "PurchaseOrder",
        "QbdtEntityIdMapping", "RecurringTransaction", "RefundReceipt", "ReimburseCharge",
        "SalesOrder", "SalesReceipt", "SalesRep", "StatementCharge", "Status",
        "StringTypeCustomFieldDefinition", "SyncActivity", "Tag", "Task", "TaxAgency",
        "TaxClassification", "TaxCode", "TaxPayment", "TaxRate", "TaxReturn", "TDSMetadata",
        "Term", "TimeActivity", "Transfer", "UserAlert", "Vendor", "VendorCredit", "VendorType",
    }
)  # fmt: skip
#: Those real entities the emulator lacks, by lower-case name (URL and query names in any case).
UNMODELLED = {name.lower(): name for name in QBO_ENTITIES if name not in KNOWN}

LIST_ENTITIES = frozenset({"Customer", "Vendor", "Employee", "Item", "Account"})
WRITABLE = frozenset(
    {"Customer", "Vendor", "Employee", "Item", "Account", "Invoice", "Payment", "PaymentMethod"}
)
PEOPLE = ("Customer", "Vendor", "Employee")  # one DisplayName namespace
SERVER_FIELDS = frozenset({"Id", "SyncToken", "MetaData", "domain", "sparse"})
_SCALAR_SKIP = frozenset(
    {"Line", "CustomField", "LinkedTxn", "MetaData", "NameValue", "SalesTaxRateList",
     "PurchaseTaxRateList"}
)  # fmt: skip

_TIMES = ("MetaData.CreateTime", "MetaData.LastUpdatedTime")
#: Where QBO is known to refuse some properties in WHERE and ORDERBY (4001 "property 'X' is not
#: queryable"), the ones it allows. Vendor: ruckus/quickbooks-ruby issue #403 lists the rest as
#: refused; Customer and Account: Intuit's API reference ("filterable"), and PrimaryEmailAddr on
#: Customer per FACTS §3. The same set serves WHERE and ORDERBY ([unverified]: a few properties
#: may be filterable but not sortable or the other way round).
FILTERABLE: dict[str, tuple[str, ...]] = {
    "Customer": (
        "Id", *_TIMES, "DisplayName", "GivenName", "MiddleName", "FamilyName", "CompanyName",
        "FullyQualifiedName", "PrimaryEmailAddr", "Active", "Job", "ParentRef", "Balance",
    ),
    "Vendor": (
        "Id", *_TIMES, "DisplayName", "GivenName", "MiddleName", "FamilyName", "Suffix",
        "CompanyName", "PrintOnCheckName", "Active",
    ),
    "Account": (
        "Id", *_TIMES, "Name", "SubAccount", "ParentRef", "Description", "FullyQualifiedName",
        "Active", "Classification", "AccountType", "AccountSubType", "CurrentBalance",
        "CurrentBalanceWithSubAccounts",
    ),
}  # fmt: skip

#: Properties a query may filter or sort by: the FILTERABLE ones where they are known, else every
#: known top-level one and the metadata times.
QUERYABLE: dict[str, frozenset[str]] = {
    entity: frozenset(
        FILTERABLE.get(entity, [p for p in props if p not in _SCALAR_SKIP] + list(_TIMES))
    )
    for entity, props in KNOWN.items()
}

LIST_ORDER = {
    "Customer": "FullyQualifiedName",
    "Vendor": "DisplayName",
    "Employee": "DisplayName",
    "Item": "Name",
    "Account": "Name",
    "PaymentMethod": "Name",
}
