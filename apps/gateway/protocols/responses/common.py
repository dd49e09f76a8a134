"""Small checks every part of the Responses translation uses (ids, and the 400s that name the
field at fault)."""

import uuid

from ...errors import bad_request


def new_id(prefix: str) -> str:
    return f"{prefix}_{uuid.uuid4().hex}"


def _is_int(value) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def _is_number(value) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool)


def _invalid(where: str, what: str):
    return bad_request(f"'{where}' must be {what}.", param=where, code="invalid_type")


def _missing(where: str, what: str):
    return bad_request(f"'{where}' is required: {what}.", param=where, code="missing_field")


def _string(item: dict, key: str, where: str) -> str:
    value = item.get(key)
    if value is None:
        raise _missing(f"{where}.{key}", "a string")
    if not isinstance(value, str) or not value:
        raise _invalid(f"{where}.{key}", "a non-empty string")
    return value
