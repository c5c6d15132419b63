"""Case files and reports as JSON, and back: what an evidence bundle carries and the verifier reads.

The encoding is driven by the dataclasses' own type hints, so a field added to a record is carried without
a change here. Datetimes are ISO 8601 in UTC; frozensets are sorted lists; tuples are lists. Decoding is
strict: an unknown or missing field raises BundleFormatError naming the record and the field.
"""

import dataclasses
import types
import typing
from datetime import datetime
from enum import Enum
from typing import Any, TypeVar

from compliance.casefile import CaseFile
from compliance.verdicts import Report

T = TypeVar("T")


class BundleFormatError(ValueError):
    """A JSON value does not fit the record it should encode."""


def encode(value: Any) -> Any:
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        return {
            f.name: encode(getattr(value, f.name))
            for f in dataclasses.fields(value)
            if not f.name.startswith("_")
        }
    if isinstance(value, Enum):
        return value.value
    if isinstance(value, datetime):
        return value.isoformat()
    if isinstance(value, frozenset):
        return sorted(encode(v) for v in value)
    if isinstance(value, tuple | list):
        return [encode(v) for v in value]
    return value


def decode(cls: type[T], data: Any, where: str = "") -> T:
    return typing.cast(T, _decode(cls, data, where or cls.__name__))


def _decode(tp: Any, data: Any, where: str) -> Any:
    origin = typing.get_origin(tp)
    if origin in (typing.Union, types.UnionType):
        options = typing.get_args(tp)
        if data is None and type(None) in options:
            return None
        for option in options:
            if option is type(None):
                continue
            try:
                return _decode(option, data, where)
            except BundleFormatError:
                continue
        raise BundleFormatError(f"{where}: {data!r} fits none of {tp}")
    if origin is tuple:
        args = typing.get_args(tp)
        if not isinstance(data, list):
            raise BundleFormatError(f"{where}: expected a list, got {type(data).__name__}")
        if len(args) == 2 and args[1] is Ellipsis:
            return tuple(_decode(args[0], v, f"{where}[{i}]") for i, v in enumerate(data))
        if len(args) != len(data):
            raise BundleFormatError(f"{where}: expected {len(args)} items, got {len(data)}")
        return tuple(_decode(a, v, f"{where}[{i}]") for i, (a, v) in enumerate(zip(args, data, strict=True)))
    if origin is frozenset:
        (arg,) = typing.get_args(tp)
        if not isinstance(data, list):
            raise BundleFormatError(f"{where}: expected a list, got {type(data).__name__}")
        return frozenset(_decode(arg, v, f"{where}[{i}]") for i, v in enumerate(data))
    if isinstance(tp, type) and dataclasses.is_dataclass(tp):
        if not isinstance(data, dict):
            raise BundleFormatError(f"{where}: expected an object, got {type(data).__name__}")
        hints = typing.get_type_hints(tp)
        fields = {f.name: f for f in dataclasses.fields(tp) if not f.name.startswith("_")}
        unknown = sorted(set(data) - set(fields))
        if unknown:
            raise BundleFormatError(f"{where}: unknown field {unknown[0]}")
        values = {}
        for name, f in fields.items():
            if name not in data:
                if f.default is dataclasses.MISSING and f.default_factory is dataclasses.MISSING:
                    raise BundleFormatError(f"{where}: field {name} is missing")
                continue
            values[name] = _decode(hints[name], data[name], f"{where}.{name}")
        return tp(**values)
    if isinstance(tp, type) and issubclass(tp, Enum):
        try:
            return tp(data)
        except ValueError as error:
            raise BundleFormatError(f"{where}: {data!r} is not a {tp.__name__}") from error
    if tp is datetime:
        if not isinstance(data, str):
            raise BundleFormatError(f"{where}: expected an ISO 8601 time, got {data!r}")
        try:
            parsed = datetime.fromisoformat(data)
        except ValueError as error:
            raise BundleFormatError(f"{where}: {data!r} is not an ISO 8601 time") from error
        if parsed.tzinfo is None:
            raise BundleFormatError(f"{where}: {data!r} has no time zone")
        return parsed
    if tp is Any:
        return data
    if tp in (int, str, bool):
        # bool is an int in Python: keep them apart so that a flipped flag never decodes as a number.
        if type(data) is not tp:
            raise BundleFormatError(f"{where}: expected {tp.__name__}, got {data!r}")
        return data
    raise BundleFormatError(f"{where}: cannot decode type {tp}")


def case_file(data: Any) -> CaseFile:
    return decode(CaseFile, data, "case")


def report(data: Any) -> Report:
    return decode(Report, data, "report")
