"""RFC 3161 timestamps for evidence manifests: a third party's signed word that the manifest existed then.

Without one, every date in a package is tfdash's own ("recorded by the party relying on it"). With
TIMESTAMP_AUTHORITY_URL set, each package's MANIFEST.sha256 is hashed (SHA-256) and sent to that
timestamp authority; its reply is stored beside the manifest as MANIFEST.sha256.tsr, which anyone can
check with `openssl ts -verify -in MANIFEST.sha256.tsr -data MANIFEST.sha256 -CAfile <the TSA's CA>`.

The ASN.1 is asn1crypto's (a maintained library), not hand-written DER. Nothing here needs Django.
"""

from __future__ import annotations

import hashlib
import secrets
import urllib.error
import urllib.parse
import urllib.request
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from asn1crypto import algos, cms, tsp

CONTENT_TYPE_QUERY = "application/timestamp-query"
CONTENT_TYPE_REPLY = "application/timestamp-reply"


class TimestampError(Exception):
    """The timestamp authority could not be reached, refused, or answered something that is not a
    timestamp of what was sent. The message says which, for the person who asked for the package."""


@dataclass(frozen=True)
class Timestamp:
    reply: bytes  # the whole TimeStampResp, DER: what `openssl ts -verify -in` reads
    time: datetime  # the authority's time (genTime)
    serial: int


def timestamp_request(data: bytes, nonce: int) -> bytes:
    """The DER TimeStampReq for SHA-256 of `data`, asking for the authority's certificate in the reply."""
    return tsp.TimeStampReq(
        {
            "version": "v1",
            "message_imprint": tsp.MessageImprint(
                {
                    "hash_algorithm": algos.DigestAlgorithm({"algorithm": "sha256"}),
                    "hashed_message": hashlib.sha256(data).digest(),
                }
            ),
            "nonce": nonce,
            "cert_req": True,
        }
    ).dump()


def read_reply(reply: bytes, *, data: bytes, nonce: int) -> Timestamp:
    """Check a TimeStampResp answers this request (granted, same digest, same nonce) and read it.
    The signature is the verifier's to check, against the authority's certificate (`openssl ts -verify`)."""
    try:
        response = tsp.TimeStampResp.load(reply)
        status = response["status"]["status"].native
        if status not in ("granted", "granted_with_mods"):
            said = response["status"]["status_string"].native if response["status"]["status_string"] else None
            raise TimestampError(
                f"The timestamp authority refused the request ({status}: {said or 'no reason'})."
            )
        signed = response["time_stamp_token"]["content"]
        if not isinstance(signed, cms.SignedData):
            raise TimestampError("The timestamp authority's reply holds no signed timestamp.")
        info = signed["encap_content_info"]["content"].parsed
        if not isinstance(info, tsp.TSTInfo):
            raise TimestampError("The timestamp authority's reply holds no timestamp information.")
        imprint = info["message_imprint"]
        if (
            imprint["hash_algorithm"]["algorithm"].native != "sha256"
            or imprint["hashed_message"].native != hashlib.sha256(data).digest()
        ):
            raise TimestampError("The timestamp authority stamped something other than this manifest.")
        if info["nonce"].native != nonce:
            raise TimestampError("The timestamp authority's reply is not an answer to this request (nonce).")
        return Timestamp(reply=reply, time=info["gen_time"].native, serial=info["serial_number"].native)
    except (ValueError, TypeError, KeyError) as exc:  # what asn1crypto raises on bad DER
        raise TimestampError(
            f"The timestamp authority's reply is not a valid RFC 3161 reply ({exc})."
        ) from None


class _NoRedirects(urllib.request.HTTPRedirectHandler):
    def redirect_request(self, *args: Any, **kwargs: Any) -> None:
        return None  # a redirect is answered as the error it is, never followed


# The standard library, not requests: the project keeps `requests` to its two HTTP doors (the TrustedForm
# client and the alert sender), and this is one small POST of a few bytes with a timeout.
_opener = urllib.request.build_opener(_NoRedirects)


def stamp(data: bytes, *, url: str, timeout: float = 15.0) -> Timestamp:
    """Ask the authority at `url` to timestamp `data`; raise TimestampError with the reason if it won't."""
    if urllib.parse.urlsplit(url).scheme not in ("http", "https"):
        raise TimestampError(f"TIMESTAMP_AUTHORITY_URL {url!r} is not an http(s) URL.")
    nonce = secrets.randbits(63)
    request = urllib.request.Request(  # noqa: S310 -- the scheme is checked above
        url,
        data=timestamp_request(data, nonce),
        headers={"Content-Type": CONTENT_TYPE_QUERY, "Accept": CONTENT_TYPE_REPLY},
        method="POST",
    )
    try:
        with _opener.open(request, timeout=timeout) as answer:
            reply = answer.read(1 << 20)  # a timestamp reply is a few KB
    except urllib.error.HTTPError as exc:
        raise TimestampError(f"The timestamp authority at {url} answered HTTP {exc.code}.") from None
    except (urllib.error.URLError, OSError) as exc:
        raise TimestampError(
            f"The timestamp authority at {url} could not be reached ({type(exc).__name__})."
        ) from None
    return read_reply(reply, data=data, nonce=nonce)
