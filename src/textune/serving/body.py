"""A request's body as the HTTP routes read it: size-limited before and after gzip, decoded,
parsed as JSON; every failure an `ApiError` (400/413/415) naming what to send instead."""

import json
import zlib
from typing import Any

from .microbatch import ApiError


async def read_body(request, max_bytes: int) -> bytes:
    """The body, decoded per Content-Encoding, never more than `max_bytes` either way."""
    from starlette.requests import ClientDisconnect

    encoding = _content_encoding(request.headers.get("content-encoding"))
    length = request.headers.get("content-length")
    if length is not None and length.isdigit() and int(length) > max_bytes:
        raise ApiError(413, "body_too_large", f"request body is {length} bytes; the limit "
                       f"is {max_bytes}. Split the texts over several requests.")
    body = bytearray()
    try:
        async for chunk in request.stream():
            body += chunk
            if len(body) > max_bytes:
                raise ApiError(413, "body_too_large", f"request body exceeds {max_bytes} "
                               "bytes. Split the texts over several requests.")
    except ClientDisconnect:
        raise ApiError(400, "client_disconnected", "the client disconnected before "
                       "sending the whole body.", quiet=True) from None
    if encoding == "gzip":
        return _gunzip(bytes(body), max_bytes)
    return bytes(body)


def parse_json(raw: bytes, shape: str) -> Any:
    try:
        return json.loads(raw)
    except (json.JSONDecodeError, UnicodeDecodeError) as e:
        raise ApiError(400, "malformed_json", f"the body is not valid JSON ({e}). Send "
                       f"{shape}.") from None
    except RecursionError:
        raise ApiError(400, "malformed_json", "the body nests JSON arrays or objects too "
                       f"deeply. Send {shape}.") from None


def _content_encoding(header: str | None) -> str:
    """'identity' or 'gzip'; anything else is a 415 before the body is read."""
    value = (header or "identity").strip().lower()
    if value in ("", "identity"):
        return "identity"
    if value in ("gzip", "x-gzip"):
        return "gzip"
    raise ApiError(415, "unsupported_encoding", f"Content-Encoding '{header}' is not supported; "
                   "send the body uncompressed or with 'Content-Encoding: gzip'.")


def _gunzip(data: bytes, limit: int) -> bytes:
    """Decompress, stopping at `limit` bytes of output so a small zip bomb cannot fill memory."""
    out = b""
    while True:  # a gzip body may hold several members (RFC 1952), each decoded in turn
        d = zlib.decompressobj(wbits=16 + zlib.MAX_WBITS)
        try:
            out += d.decompress(data, limit + 1 - len(out))
        except zlib.error as e:
            raise ApiError(400, "bad_encoding", f"the body is not valid gzip ({e}).") from None
        if len(out) > limit or d.unconsumed_tail:
            raise ApiError(413, "body_too_large", f"the decompressed body exceeds {limit} "
                           "bytes. Split the texts over several requests.")
        if not d.eof:
            raise ApiError(400, "bad_encoding", "the gzip body is truncated.")
        data = d.unused_data
        if not data.strip(b"\0"):  # trailing zero padding after the last member is allowed
            return out
