"""What a document is, judged from its bytes (a declared type is a claim; the content is the fact).

Accepted: PDF, PNG and JPEG by their magic numbers, and JSON that parses (an object or an array).
"""

import json

PDF, PNG, JPEG, JSON = "application/pdf", "image/png", "image/jpeg", "application/json"
MAGIC_NUMBERS = ((PDF, b"%PDF-"), (PNG, b"\x89PNG\r\n\x1a\n"), (JPEG, b"\xff\xd8\xff"))
ACCEPTED = (PDF, PNG, JPEG, JSON)
SNIFF_BYTES = max(len(magic) for _, magic in MAGIC_NUMBERS)
JSON_WHITESPACE = b" \t\r\n"
NAMES = {PDF: "a PDF", PNG: "a PNG image", JPEG: "a JPEG image", JSON: "JSON"}


class Refused(Exception):
    """The content is not a document this service keeps; the message says what it is instead."""


class Sniffer:
    """Decides the media type from the first bytes as they stream in; JSON, which can only be judged
    whole, is kept (bounded by the upload's size limit) and parsed at the end."""

    def __init__(self) -> None:
        self._head = bytearray()
        self.media_type: str | None = None
        self._json: bytearray | None = None

    def feed(self, chunk: bytes) -> None:
        if self._json is not None:
            self._json += chunk
            return
        if self.media_type is not None:
            return
        self._head += chunk
        if len(self._head) >= SNIFF_BYTES:
            self._decide()

    def result(self, declared: str | None = None) -> str:
        """The media type of the complete content; Refused if it is none of the accepted ones, or not
        the one the uploader declared."""
        if self.media_type is None and self._json is None:
            if not self._head:
                raise Refused("the file is empty")
            self._decide()
        if self._json is not None:
            try:
                value = json.loads(bytes(self._json).decode("utf-8"))
            except UnicodeDecodeError as exc:
                raise Refused(f"not a PDF, PNG or JPEG, and not UTF-8 JSON ({exc.reason})") from None
            except json.JSONDecodeError as exc:
                raise Refused(
                    f"not a PDF, PNG or JPEG, and not valid JSON ({exc.msg} at line {exc.lineno} "
                    f"column {exc.colno})"
                ) from None
            if not isinstance(value, dict | list):
                raise Refused("JSON documents must be an object or an array")
            self.media_type, self._json = JSON, None
        assert self.media_type is not None
        if declared and declared in ACCEPTED and declared != self.media_type:
            raise Refused(f"declared {declared}, but the content is {NAMES[self.media_type]}")
        return self.media_type

    def _decide(self) -> None:
        head = bytes(self._head)
        for media_type, magic in MAGIC_NUMBERS:
            if head.startswith(magic):
                self.media_type = media_type
                return
        start = head.lstrip(JSON_WHITESPACE)
        if start and start[:1] not in (b"{", b"["):
            raise Refused(
                "not a PDF, PNG, JPEG or JSON document: it starts with no PDF, PNG or JPEG signature, "
                "nor with a JSON object or array"
            )
        self._json = bytearray(head)
