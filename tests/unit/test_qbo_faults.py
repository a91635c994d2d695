"""Every error answer from QuickBooks Online becomes one typed error (FACTS §8, §10 items 3, 4, 10).

The bodies are small, hand-written literals in the shapes QBO really sends: the recorded
``{"Fault":{"Error":[...]}}`` envelope, the gateway's lower-case 401, XML ``IntuitResponse`` on
throttling, HTML or nothing at all from the edge. Responses are built directly; no network.
"""

from __future__ import annotations

import json
from typing import Any

import httpx
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from appliance.qbo.errors import (
    AuthenticationError,
    AuthorizationError,
    CompanyStatusError,
    ConnectionLostError,
    QboError,
    ServerError,
    ThrottledError,
    TransientError,
    ValidationError,
    is_transient,
)
from appliance.qbo.faults import parse_error

REQUEST = httpx.Request("GET", "https://x")
JSON = {"Content-Type": "application/json"}
TID = "1-5f733d9a-1d4e21aa217ba43177113df4"


def answer(
    status: int, content: bytes | str = b"", headers: dict[str, str] | None = None
) -> httpx.Response:
    body = content.encode() if isinstance(content, str) else content
    return httpx.Response(status, headers=headers or {}, content=body, request=REQUEST)


def fields(error: QboError) -> dict[str, Any]:
    """The error's kind and every field it carries."""
    return {
        "kind": type(error).__name__,
        "message": error.message,
        "status": error.status,
        "qbo_code": error.qbo_code,
        "detail": error.detail,
        "element": error.element,
        "intuit_tid": error.intuit_tid,
        "hint": error.hint,
    }


def fault(
    code: str, message: str, detail: str, fault_type: str = "ValidationFault", **extra: str
) -> str:
    error = {"Message": message, "Detail": detail, "code": code, **extra}
    return json.dumps(
        {"Fault": {"Error": [error], "type": fault_type}, "time": "2020-09-29T06:58:50.262-07:00"}
    )


def throttle_xml(status_in_message: int = 429) -> str:
    return (
        '<?xml version="1.0" encoding="UTF-8" standalone="yes"?>\n'
        '<IntuitResponse time="2017-07-30T22:45:22.933-07:00" '
        'xmlns="http://schema.intuit.com/finance/v3">\n'
        '  <Fault type="SERVICE">\n'
        '    <Error code="3001">\n'
        "      <Message>message=ThrottleExceeded; errorCode=003001; "
        f"statusCode={status_in_message}</Message>\n"
        "      <Detail>The request limit was reached.  Try again later</Detail>\n"
        "    </Error>\n"
        "  </Fault>\n"
        "</IntuitResponse>"
    )


GATEWAY_401 = json.dumps(
    {
        "warnings": None,
        "intuitObject": None,
        "fault": {
            "error": [
                {
                    "message": "message=AuthenticationFailed; errorCode=003200; statusCode=401",
                    "detail": "Token expired: AB0160",
                    "code": "3200",
                    "element": None,
                }
            ],
            "type": "AUTHENTICATION",
        },
        "report": None,
        "batchItemResponse": [],
        "time": 1601391072830,
        "status": None,
    }
)

NGINX_503 = (
    "<html>\r\n<head><title>503 Service Temporarily Unavailable</title></head>\r\n<body>\r\n"
    "<center><h1>503 Service Temporarily Unavailable</h1></center>\r\n"
    "<hr><center>nginx</center>\r\n</body>\r\n</html>\r\n"
)


# --------------------------------------------------------------------------------------------------
# The usual envelope


def test_validation_fault_becomes_validation_error_with_code_message_detail_and_element() -> None:
    body = fault(
        "2030", "Invalid ID", "Id should be a valid number. Supplied value:1.5", element="Id"
    )

    error = parse_error(answer(400, body, {**JSON, "Intuit-Tid": TID}))

    assert type(error) is ValidationError
    assert error.status == 400
    assert error.qbo_code == "2030"
    assert error.message == "Invalid ID"
    assert error.detail == "Id should be a valid number. Supplied value:1.5"
    assert error.element == "Id"
    assert error.intuit_tid == TID
    assert not is_transient(error)


def test_validation_fault_without_element_or_with_empty_element_has_element_none() -> None:
    absent = parse_error(answer(400, fault("6240", "Duplicate Name Exists Error", "x"), JSON))
    empty = parse_error(answer(400, fault("610", "Object Not Found", "y", element=""), JSON))

    assert absent.element is None
    assert empty.element is None


def test_validation_fault_str_carries_message_detail_and_qbo_code() -> None:
    body = fault("6240", "Duplicate Name Exists Error", "The name supplied already exists. : null")

    error = parse_error(answer(400, body, JSON))

    assert str(error) == (
        "Duplicate Name Exists Error: The name supplied already exists. : null (QBO code 6240)"
    )


def test_str_does_not_repeat_a_detail_equal_to_the_message() -> None:
    error = parse_error(
        answer(400, fault("6000", "Business Validation Error", "Business Validation Error"), JSON)
    )

    assert str(error) == "Business Validation Error (QBO code 6000)"


def test_json_envelope_is_read_even_without_a_json_content_type() -> None:
    error = parse_error(answer(400, fault("2020", "Required param missing", "Line")))

    assert type(error) is ValidationError
    assert error.qbo_code == "2020"


def test_numeric_code_is_kept_as_a_string() -> None:
    body = json.dumps({"Fault": {"Error": [{"Message": "Invalid query", "code": 4001}]}})

    error = parse_error(answer(400, body, JSON))

    assert error.qbo_code == "4001"


def test_a_fault_fills_the_kind_and_every_field_of_its_error() -> None:
    error = parse_error(answer(400, fault("2030", "Invalid ID", "bad", element="Id"), JSON))

    assert fields(error) == {
        "kind": "ValidationError",
        "message": "Invalid ID",
        "status": 400,
        "qbo_code": "2030",
        "detail": "bad",
        "element": "Id",
        "intuit_tid": None,
        "hint": "",
    }


# --------------------------------------------------------------------------------------------------
# 401 from the API gateway (lower-case shape)


def test_gateway_401_lower_case_shape_becomes_authentication_error() -> None:
    headers = {
        **JSON,
        "Intuit-Tid": TID,
        "WWW-Authenticate": 'Bearer realm="Intuit", error="invalid_token"',
    }

    error = parse_error(answer(401, GATEWAY_401, headers))

    assert type(error) is AuthenticationError
    assert error.status == 401
    assert error.qbo_code == "3200"
    assert error.message == "message=AuthenticationFailed; errorCode=003200; statusCode=401"
    assert error.detail == "Token expired: AB0160"
    assert error.element is None
    assert error.intuit_tid == TID
    assert not is_transient(error)
    assert "Token expired: AB0160" in str(error)
    assert "(QBO code 3200)" in str(error)


def test_401_without_a_body_still_becomes_authentication_error() -> None:
    error = parse_error(answer(401))

    assert type(error) is AuthenticationError
    assert error.message == "QuickBooks did not accept the access token"


# --------------------------------------------------------------------------------------------------
# Throttling


def test_429_xml_intuit_response_becomes_transient_throttled_error() -> None:
    headers = {"Content-Type": "application/xml", "Intuit-Tid": TID}

    error = parse_error(answer(429, throttle_xml(), headers))

    assert type(error) is ThrottledError
    assert is_transient(error)
    assert error.status == 429
    assert error.qbo_code == "3001"
    assert error.detail == "The request limit was reached.  Try again later"
    assert error.intuit_tid == TID
    assert error.retry_after is None
    assert "ThrottleExceeded" in str(error)
    assert "The request limit was reached." in str(error)
    assert "(QBO code 3001)" in str(error)


def test_429_xml_is_read_without_any_content_type() -> None:
    error = parse_error(answer(429, throttle_xml()))

    assert type(error) is ThrottledError
    assert error.qbo_code == "3001"


@pytest.mark.parametrize(("header", "expected"), [("7", 7.0), ("2.5", 2.5), ("0", 0.0)])
def test_429_retry_after_header_in_seconds_is_kept(header: str, expected: float) -> None:
    headers = {"Content-Type": "application/xml", "Retry-After": header}

    error = parse_error(answer(429, throttle_xml(), headers))

    assert isinstance(error, ThrottledError)
    assert error.retry_after == expected


def test_429_retry_after_that_is_not_a_number_of_seconds_is_ignored() -> None:
    headers = {"Retry-After": "Wed, 21 Oct 2015 07:28:00 GMT"}

    error = parse_error(answer(429, throttle_xml(), headers))

    assert isinstance(error, ThrottledError)
    assert error.retry_after is None


def test_429_negative_retry_after_is_clamped_to_zero() -> None:
    error = parse_error(answer(429, throttle_xml(), {"Retry-After": "-3"}))

    assert isinstance(error, ThrottledError)
    assert error.retry_after == 0.0


def test_429_json_fault_becomes_throttled_error() -> None:
    body = fault(
        "3001",
        "message=ThrottleExceeded; errorCode=003001; statusCode=429",
        "The request limit was reached.  Try again later",
        fault_type="SERVICE",
    )

    error = parse_error(answer(429, body, {**JSON, "Retry-After": "30"}))

    assert type(error) is ThrottledError
    assert error.qbo_code == "3001"
    assert error.retry_after == 30.0
    assert is_transient(error)


def test_429_without_a_body_is_still_throttled() -> None:
    error = parse_error(answer(429))

    assert type(error) is ThrottledError
    assert error.qbo_code is None


def test_403_carrying_throttle_exceeded_xml_is_throttled_not_authorization() -> None:
    error = parse_error(answer(403, throttle_xml(403), {"Content-Type": "application/xml"}))

    assert type(error) is ThrottledError
    assert error.status == 403
    assert error.qbo_code == "3001"
    assert is_transient(error)


def test_403_json_whose_message_says_throttle_exceeded_is_throttled() -> None:
    body = fault(
        "3001", "message=ThrottleExceeded; errorCode=003001; statusCode=403", "limit", "SERVICE"
    )

    assert type(parse_error(answer(403, body, JSON))) is ThrottledError


def test_throttle_exceeded_message_without_code_is_throttled() -> None:
    body = json.dumps({"Fault": {"Error": [{"Message": "ThrottleExceeded"}], "type": "SERVICE"}})

    assert type(parse_error(answer(403, body, JSON))) is ThrottledError


# --------------------------------------------------------------------------------------------------
# Server trouble


def test_nginx_html_503_becomes_transient_server_error() -> None:
    headers = {"Content-Type": "text/html", "intuit_tid": TID}

    error = parse_error(answer(503, NGINX_503, headers))

    assert type(error) is ServerError
    assert is_transient(error)
    assert error.status == 503
    assert error.qbo_code is None
    assert error.message == "QuickBooks answered HTTP 503"
    assert error.intuit_tid == TID


def test_empty_502_becomes_transient_server_error() -> None:
    error = parse_error(answer(502))

    assert type(error) is ServerError
    assert is_transient(error)
    assert error.message == "QuickBooks answered HTTP 502"
    assert error.detail is None


def test_500_system_fault_becomes_server_error_with_qbo_words() -> None:
    body = fault(
        "10000",
        "An application error has occurred while processing your request",
        "System Failure Error: null",
        fault_type="SystemFault",
    )

    error = parse_error(answer(500, body, JSON))

    assert type(error) is ServerError
    assert is_transient(error)
    assert error.qbo_code == "10000"
    assert str(error) == (
        "An application error has occurred while processing your request: "
        "System Failure Error: null (QBO code 10000)"
    )


def test_500_internal_server_error_with_code_3100_is_server_error_not_authorization() -> None:
    body = fault(
        "3100", "message=InternalServerError; errorCode=003100; statusCode=500", "", "SERVICE"
    )

    error = parse_error(answer(500, body, JSON))

    assert type(error) is ServerError


def test_system_fault_code_10000_under_a_400_is_still_a_server_error() -> None:
    body = fault("10000", "An application error has occurred", "System Failure", "SystemFault")

    assert type(parse_error(answer(400, body, JSON))) is ServerError


def test_code_500_unsupported_operation_under_400_is_a_permanent_validation_error() -> None:
    body = fault("500", "Unsupported Operation", "Operation ... is not supported.")

    error = parse_error(answer(400, body, JSON))

    assert type(error) is ValidationError
    assert not is_transient(error)


# --------------------------------------------------------------------------------------------------
# Authorization and company status


@pytest.mark.parametrize(
    ("status", "code", "message"),
    [
        (403, "3100", "message=ApplicationAuthorizationFailed; errorCode=003100; statusCode=403"),
        (400, "120", "Authorization Failure"),
    ],
)
def test_authorization_codes_become_authorization_error_with_a_hint(
    status: int, code: str, message: str
) -> None:
    body = fault(code, message, "not allowed", fault_type="AuthorizationFault")

    error = parse_error(answer(status, body, JSON))

    assert type(error) is AuthorizationError
    assert error.qbo_code == code
    assert error.message == message
    assert "administrator" in error.hint
    assert not is_transient(error)


def test_403_without_a_body_becomes_authorization_error_with_a_hint() -> None:
    error = parse_error(answer(403))

    assert type(error) is AuthorizationError
    assert error.hint


def test_invalid_company_status_6190_becomes_company_status_error_with_a_hint() -> None:
    body = fault("6190", "Invalid Company Status", "Subscription period has ended")

    error = parse_error(answer(400, body, JSON))

    assert type(error) is CompanyStatusError
    assert error.qbo_code == "6190"
    assert error.message == "Invalid Company Status"
    assert "subscription" in error.hint
    assert not is_transient(error)
    assert str(error) == "Invalid Company Status: Subscription period has ended (QBO code 6190)"


# --------------------------------------------------------------------------------------------------
# intuit_tid


@pytest.mark.parametrize("name", ["intuit_tid", "Intuit-Tid", "intuit-tid", "INTUIT_TID"])
def test_intuit_tid_is_read_from_either_spelling_in_any_case(name: str) -> None:
    error = parse_error(answer(400, fault("6000", "x", "y"), {**JSON, name: TID}))

    assert error.intuit_tid == TID


def test_intuit_tid_is_none_when_absent() -> None:
    assert parse_error(answer(400, fault("6000", "x", "y"), JSON)).intuit_tid is None


# --------------------------------------------------------------------------------------------------
# Garbage


@pytest.mark.parametrize(
    ("content", "headers"),
    [
        (b'{"Fault": {"Error": [', JSON),
        (b"{not json at all", {}),
        (b"null", JSON),
        (b"[]", JSON),
        (b'{"Fault": "nope"}', JSON),
        (b'{"Fault": {"Error": []}}', JSON),
        (b'{"Fault": {"Error": ["a string"]}}', JSON),
        (b'{"a": 1' + b"0" * 5000 + b"}", JSON),
        (b'<?xml version="1.0"?><IntuitResponse><Fault type="SERVICE"><Error code=', {}),
        (b"<IntuitResponse><Fault>", {"Content-Type": "application/xml"}),
        (b'<?xml version="1.0" encoding="bogus"?><a/>', {}),
        (b"\x00\xff\xfe\x89PNG\r\n\x1a\n\x00\x00", {}),
        (b"\xff\xfe\x00garbage", JSON),
        (b"\x89PNG\r\n\x1a\n", {"Content-Type": "application/xml"}),
    ],
)
def test_garbage_bodies_become_a_typed_error_instead_of_raising(
    content: bytes, headers: dict[str, str]
) -> None:
    error = parse_error(answer(400, content, headers))

    assert type(error) is ValidationError
    assert error.status == 400
    assert error.message == "QuickBooks refused the request (HTTP 400)"
    assert error.qbo_code is None


def test_deeply_nested_json_garbage_becomes_a_typed_error_instead_of_raising() -> None:
    content = b'{"Fault":' + b"[" * 60_000

    error = parse_error(answer(400, content, JSON))

    assert type(error) is ValidationError


@settings(max_examples=300, deadline=None)
@given(
    status=st.integers(min_value=400, max_value=599),
    prefix=st.sampled_from(
        [b"", b"{", b'{"Fault":{"Error":[{', b'{"fault":{"error":[{', b"<?xml ", b"<IntuitResponse"]
    ),
    content=st.binary(max_size=512),
    media=st.sampled_from([None, "application/json", "application/xml", "text/html"]),
)
def test_parse_error_returns_a_qbo_error_for_any_bytes_and_status(
    status: int, prefix: bytes, content: bytes, media: str | None
) -> None:
    headers = {"Content-Type": media} if media else {}

    error = parse_error(answer(status, prefix + content, headers))

    assert isinstance(error, QboError)
    assert error.status == status
    assert str(error)
    assert fields(error)["kind"] == type(error).__name__
    if status >= 500 or status == 429:
        assert is_transient(error)


# --------------------------------------------------------------------------------------------------
# is_transient


@pytest.mark.parametrize(
    ("error", "transient"),
    [
        (ThrottledError("t"), True),
        (ServerError("s"), True),
        (ConnectionLostError("c"), True),
        (TransientError("x"), True),
        (AuthenticationError("a"), False),
        (AuthorizationError("z"), False),
        (CompanyStatusError("c"), False),
        (ValidationError("v"), False),
        (QboError("q"), False),
        (ValueError("not ours"), False),
    ],
)
def test_is_transient_is_true_exactly_for_throttled_server_and_connection_errors(
    error: BaseException, transient: bool
) -> None:
    assert is_transient(error) is transient
