"""QBO's error bodies, in every shape a client meets.

    QboFault                  a fault the API answers with (status, type, errors)
      - 400 ValidationFault   {"Fault": {"Error": [{Message, Detail, code, element}], type}, time}
      - 401 gateway shape     {"fault": {"error": [{message, detail, code}], "type": ...}, ...}
      - 429 ThrottleExceeded  XML (as Intuit has sent it even to JSON clients) or JSON
      - 5xx                   SystemFault JSON, the edge's HTML 503, an empty 502

Codes, messages and details follow ../shared/qbo/FACTS.md and the recordings it cites.
"""

from __future__ import annotations

import secrets
from dataclasses import dataclass, field
from typing import Any


@dataclass(frozen=True)
class ErrorItem:
    code: str
    message: str
    detail: str
    element: str | None = None

    def to_json(self) -> dict[str, Any]:
        item: dict[str, Any] = {"Message": self.message, "Detail": self.detail, "code": self.code}
        if self.element is not None:
            item["element"] = self.element
        return item


@dataclass
class QboFault(Exception):
    status: int
    errors: list[ErrorItem]
    type: str = "ValidationFault"
    headers: dict[str, str] = field(default_factory=dict)
    timed: bool = True  # a few faults come without the envelope's "time" (VCR error/500)

    def body(self, time: str) -> dict[str, Any]:
        if not self.timed:
            return {"Fault": self.fault()}
        return {"Fault": self.fault(), "time": time}

    def fault(self) -> dict[str, Any]:
        return {"Error": [e.to_json() for e in self.errors], "type": self.type}


def validation(
    code: str, message: str, detail: str, element: str | None = None, status: int = 400
) -> QboFault:
    return QboFault(status, [ErrorItem(code, message, detail, element)])


def not_found(_entity: str = "", _id: str = "") -> QboFault:
    return validation(
        "610",
        "Object Not Found",
        "Object Not Found : Something you're trying to use has been made inactive. Check the "
        "fields with accounts, customers, items, vendors or employees.",
        element="",
    )


def stale(who: str = "Emulator Admin") -> QboFault:
    return validation(
        "5010",
        "Stale Object Error",
        f"Stale Object Error : You and {who} were working on this at the same time. {who} "
        "finished before you did, so your work was not saved.",
        element="",
    )


def required(name: str, entity: str) -> QboFault:
    return validation(
        "2020",
        "Required param missing, need to supply the required value for the API",
        f"Required parameter {name} is missing in the request",
        element=name,
    )


def invalid_reference(ref: str, value: str) -> QboFault:
    return validation(
        "2500",
        "Invalid Reference Id",
        f"Invalid Reference Id : {ref} element id {value} not found",
        element=ref,
    )


def inactive_reference(ref: str, name: str) -> QboFault:
    return validation(
        "610",
        "Object Not Found",
        f"Object Not Found : Something you're trying to use has been made inactive. Check the "
        f"fields with accounts, customers, items, vendors or employees. ({ref} {name})",
    )


def duplicate_name(kind: str) -> QboFault:
    return validation(
        "6240",
        "Duplicate Name Exists Error",
        f"The name supplied already exists. : Another {kind} is already using this name. "
        "Please use a different name.",
    )


def unsupported_property(name: str, entity: str, known: list[str]) -> QboFault:
    listed = ", ".join(f'"{k}"' for k in known)
    return validation(
        "2010",
        "Request has invalid or unsupported property",
        f'Property Name:Unrecognized field "{name}" (class com.intuit.schema.finance.v3.{entity}),'
        f" not marked as ignorable ({len(known)} known properties: {listed})",
    )


def invalid_query(detail: str) -> QboFault:
    return QboFault(400, [ErrorItem("4001", "Invalid query", detail)])


def unsupported_operation(path: str, full: str) -> QboFault:
    return QboFault(
        400,
        [
            ErrorItem(
                "500",
                "Unsupported Operation",
                f"Operation Could not find resource for relative : {path} of full path: {full} "
                "is not supported.",
            )
        ],
    )


def unmodelled_entity(entity: str, operation: str) -> QboFault:
    """A real QBO entity the emulator does not model: the recorded 500 shape, saying so."""
    return QboFault(
        400,
        [
            ErrorItem(
                "500",
                "Unsupported Operation",
                f"Operation {operation} {entity} is not supported. : the QBO emulator does not "
                f"model {entity} (real QuickBooks Online does)",
            )
        ],
    )


def open_balance() -> QboFault:
    """Making a customer who owes money inactive (Message and Detail as quoted in
    ruckus/quickbooks-ruby issue #390; the code is unverified, 6000 is the emulator's choice)."""
    return validation(
        "6000",
        "Delete List Has Balance Error",
        "The entity you are trying to delete has an open balance. : This customer cannot be "
        "deleted because it has a non-zero balance",
        element="",
    )


def business(detail: str, element: str | None = "") -> QboFault:
    return validation(
        "6000",
        "A business validation error has occurred while processing your request",
        f"Business Validation Error: {detail}",
        element,
    )


def invalid_id(value: str) -> QboFault:
    fault = validation(
        "2030", "Invalid ID", f"Id should be a valid number. Supplied value:{value}", "Id"
    )
    fault.timed = False
    return fault


def auth_body(detail: str, time_ms: int) -> dict[str, Any]:
    """The API gateway's 401 body: lower-case keys, nulls, epoch-millis time (VCR error/401)."""
    return {
        "warnings": None,
        "intuitObject": None,
        "fault": {
            "error": [
                {
                    "message": "message=AuthenticationFailed; errorCode=003200; statusCode=401",
                    "detail": detail,
                    "code": "3200",
                    "element": None,
                }
            ],
            "type": "AUTHENTICATION",
        },
        "report": None,
        "queryResponse": None,
        "batchItemResponse": [],
        "attachableResponse": [],
        "syncErrorResponse": None,
        "requestId": None,
        "time": time_ms,
        "status": None,
        "cdcresponse": [],
    }


AUTHENTICATE = 'Bearer realm="Intuit", error="invalid_token"'

THROTTLE_MESSAGE = "message=ThrottleExceeded; errorCode=003001; statusCode=429"
THROTTLE_DETAIL = "The request limit was reached.  Try again later"


def throttle_xml(time: str) -> str:
    return (
        '<?xml version="1.0" encoding="UTF-8" standalone="yes"?>\n'
        f'<IntuitResponse xmlns="http://schema.intuit.com/finance/v3" time="{time}">'
        '<Fault type="SERVICE"><Error code="3001">'
        f"<Message>{THROTTLE_MESSAGE}</Message><Detail>{THROTTLE_DETAIL}</Detail>"
        "</Error></Fault></IntuitResponse>"
    )


def throttle_json(time: str) -> dict[str, Any]:
    return {
        "Fault": {
            "Error": [{"Message": THROTTLE_MESSAGE, "Detail": THROTTLE_DETAIL, "code": "3001"}],
            "type": "SERVICE",
        },
        "time": time,
    }


def server_error_json(time: str) -> dict[str, Any]:
    return {
        "Fault": {
            "Error": [
                {
                    "Message": "message=InternalServerError; errorCode=003100; statusCode=500",
                    "Detail": "An application error has occurred while processing your request",
                    "code": "3100",
                }
            ],
            "type": "SERVICE",
        },
        "time": time,
    }


HTML_503 = (
    "<html>\r\n<head><title>503 Service Temporarily Unavailable</title></head>\r\n<body>\r\n"
    "<center><h1>503 Service Temporarily Unavailable</h1></center>\r\n<hr><center>nginx</center>"
    "\r\n</body>\r\n</html>\r\n"
)


def intuit_tid() -> str:
    """Shaped like the AWS trace root QBO echoes: ``1-5f7349e0-0fd2bee86a8a83c67a77fbb2``."""
    return f"1-{secrets.token_hex(4)}-{secrets.token_hex(12)}"
