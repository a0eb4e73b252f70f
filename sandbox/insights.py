"""Insights data of a certificate: derived deterministically from its id, unless given when minted.

The same id always yields the same visitor (place, browser, IP, time on page...), so tests and demos
are repeatable without storing any of it; only the minter's overrides are stored.
"""

import hashlib
from datetime import datetime
from typing import Any

from sandbox.clock import isoformat
from sandbox.models import Certificate

# The 20 properties v4 may request, plus `browser`, which the spec's enum omits but documents (§2.2).
PROPERTY_NAMES = (
    "age_seconds",
    "approx_ip_geo",
    "bot_detected",
    "browser",
    "confirmed_owner",
    "created_at",
    "domain",
    "expires_at",
    "form_input_kpm",
    "form_input_method",
    "form_input_wpm",
    "ip",
    "is_framed",
    "is_masked",
    "num_sensitive_content_elements",
    "num_sensitive_form_elements",
    "os",
    "page_url",
    "parent_page_url",
    "seconds_on_page",
)
# What each kind of certificate can report; the rest come back null (§3.1, SPEC4 Mobile/Meta results).
SUPPORTED = {
    Certificate.WEB: set(PROPERTY_NAMES),
    Certificate.MASKED: set(PROPERTY_NAMES),
    Certificate.MOBILE: {
        "age_seconds",
        "approx_ip_geo",
        "confirmed_owner",
        "created_at",
        "expires_at",
        "ip",
        "is_masked",
        "os",
        "seconds_on_page",
    },
    Certificate.META: {"age_seconds", "confirmed_owner", "created_at", "expires_at"},
}
# Stored overrides may also set these, which only the v3 `cert` block and ping show.
EXTRA_OVERRIDES = ("user_agent",)

_PLACES = [
    {"city": "Austin", "country_code": "US", "lat": 30.2627, "lon": -97.7467, "postal_code": "78713",
     "state": "Texas", "time_zone": "America/Chicago"},
    {"city": "Dallas", "country_code": "US", "lat": 32.7451, "lon": -96.8038, "postal_code": "75203",
     "state": "Texas", "time_zone": "America/Chicago"},
    {"city": "Columbus", "country_code": "US", "lat": 39.9612, "lon": -82.9988, "postal_code": "43215",
     "state": "Ohio", "time_zone": "America/New_York"},
    {"city": "Denver", "country_code": "US", "lat": 39.7392, "lon": -104.9903, "postal_code": "80202",
     "state": "Colorado", "time_zone": "America/Denver"},
    {"city": "Sacramento", "country_code": "US", "lat": 38.5816, "lon": -121.4944, "postal_code": "95814",
     "state": "California", "time_zone": "America/Los_Angeles"},
    {"city": "Tampa", "country_code": "US", "lat": 27.9506, "lon": -82.4572, "postal_code": "33602",
     "state": "Florida", "time_zone": "America/New_York"},
]  # fmt: skip
_DESKTOPS = [
    ("Firefox", "112.0.", "Mac OS X", "10.15", "Mozilla/5.0 (Macintosh; Intel Mac OS X 10.15; rv:112.0) Gecko/20100101 Firefox/112.0"),
    ("Chrome", "124.0.6367", "Windows", "10", "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/124.0.6367.91 Safari/537.36"),
    ("Edge", "123.0.2420", "Windows", "11", "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/123.0.0.0 Safari/537.36 Edg/123.0.2420.97"),
]  # fmt: skip
_PHONES = [
    ("Mobile Safari", "17.4.1", "iOS", "17.4.1", "Mozilla/5.0 (iPhone; CPU iPhone OS 17_4_1 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/17.4.1 Mobile/15E148 Safari/604.1"),
    ("Chrome Mobile", "124.0.6367", "Android", "14", "Mozilla/5.0 (Linux; Android 14; Pixel 8) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/124.0.6367.82 Mobile Safari/537.36"),
]  # fmt: skip
_DOMAINS = ["quotes.example-insure.com", "getrates.example-solar.com", "apply.example-loans.com"]
_PATHS = ["/", "/quote", "/get-rates", "/apply/step-2"]
_INPUT_METHODS = [["typing"], ["typing", "paste"], ["autofill"], ["typing", "autofill"], ["pre-populated"]]


def _version(full: str) -> dict[str, str | None]:
    """Split at the dots: a part after a trailing dot is "", an absent part null (readings, Insights)."""
    parts: list[str | None] = [*full.split("."), None, None]
    return {"full": full, "major": parts[0], "minor": parts[1], "patch": parts[2]}


def _seed(cert_id: str) -> bytes:
    return hashlib.sha256(cert_id.encode()).digest()


def _visitor(cert: Certificate) -> dict[str, Any]:
    """Everything about the visit that does not depend on the clock."""
    seed = _seed(cert.cert_id)
    place = _PLACES[seed[0] % len(_PLACES)]
    on_phone = cert.kind == Certificate.MOBILE or seed[1] % 3 == 0
    browser_name, browser_version, os_name, os_version, user_agent = (
        _PHONES[seed[2] % len(_PHONES)] if on_phone else _DESKTOPS[seed[2] % len(_DESKTOPS)]
    )
    domain = _DOMAINS[seed[3] % len(_DOMAINS)]
    kpm = round(120 + (seed[4] * 256 + seed[5]) / 65535 * 200, 3)
    masked = cert.kind == Certificate.MASKED
    if masked:
        # A masked certificate hides its source; its domain is a pseudo-domain (§4).
        domain = f"masked-{cert.cert_id[:12]}.trustedform.com"
    return {
        "approx_ip_geo": dict(place),
        "bot_detected": False,
        "browser": {"full": f"{browser_name} {browser_version}", "name": browser_name,
                    "version": _version(browser_version)},
        "confirmed_owner": "No Verified ActiveProspect Account Identified",
        "domain": domain,
        "form_input_kpm": kpm,
        "form_input_method": _INPUT_METHODS[seed[6] % len(_INPUT_METHODS)],
        "form_input_wpm": round(kpm / 5, 3),
        "ip": f"{24 + seed[7] % 180}.{seed[8]}.{seed[9]}.{1 + seed[10] % 254}",
        "is_framed": seed[11] % 5 == 0,
        "is_masked": masked,
        "num_sensitive_content_elements": 0,
        "num_sensitive_form_elements": seed[12] % 2,
        "os": {"full": f"{os_name} {os_version}", "is_mobile": on_phone, "name": os_name,
               "version": _version(os_version)},
        "page_url": None if masked else f"https://{domain}{_PATHS[seed[13] % len(_PATHS)]}",
        "parent_page_url": None,
        "seconds_on_page": 20 + seed[14] % 400,
        "user_agent": user_agent,
    }  # fmt: skip


def visitor(cert: Certificate) -> dict[str, Any]:
    """The clock-independent visit data with the minter's overrides applied."""
    data = _visitor(cert)
    data.update(cert.insights_overrides)
    if data["is_framed"] and data.get("parent_page_url") is None and not data["is_masked"]:
        data["parent_page_url"] = f"https://www.{data['domain'].split('.', 1)[-1]}/offers"
    return data


def age_seconds(cert: Certificate, visit: dict[str, Any], now: datetime) -> int:
    """Seconds since the last recorded event: creation plus the time spent on the page (§3.1)."""
    return max(0, int((now - cert.created_at).total_seconds()) - int(visit["seconds_on_page"]))


def all_properties(cert: Certificate, now: datetime) -> dict[str, Any]:
    """All 20 properties (+ browser) of a certificate at `now`; unsupported ones for its kind are null."""
    visit = visitor(cert)
    values = {name: visit.get(name) for name in PROPERTY_NAMES}
    values["age_seconds"] = age_seconds(cert, visit, now)
    values["created_at"] = isoformat(cert.created_at)
    values["expires_at"] = isoformat(cert.expires_at)
    supported = SUPPORTED[cert.kind]
    return {name: (value if name in supported else None) for name, value in values.items()}


def requested_properties(cert: Certificate, names: list[str], now: datetime) -> dict[str, Any]:
    """Only the properties asked for (v4 bills per property returned)."""
    values = all_properties(cert, now)
    return {name: values[name] for name in names}


def v3_cert_block(cert: Certificate, now: datetime) -> dict[str, Any]:
    """The `cert` object of a v3 Consent+Insights answer (§3.7)."""
    visit = visitor(cert)
    values = all_properties(cert, now)
    return {
        "age_seconds": values["age_seconds"],
        "approx_ip_geo": values["approx_ip_geo"],
        "browser": values["browser"],
        "cert_id": cert.cert_id,
        "created_at": values["created_at"],
        "domain": values["domain"],
        "event_duration_ms": int(visit["seconds_on_page"]) * 1000,
        "expires_at": values["expires_at"],
        "form_input_method": values["form_input_method"],
        "ip": values["ip"],
        "is_framed": values["is_framed"],
        "is_mobile": bool((values["os"] or visit["os"])["is_mobile"]),
        "kpm": values["form_input_kpm"],
        "operating_system": {k: v for k, v in (values["os"] or visit["os"]).items() if k != "is_mobile"},
        "page_id": hashlib.sha1(cert.cert_id.encode(), usedforsecurity=False).hexdigest()[:24],
        "page_url": values["page_url"],
        "parent_page_url": values["parent_page_url"],
        "user_agent": visit["user_agent"] if cert.kind != Certificate.META else None,
        "wpm": values["form_input_wpm"],
    }


def legacy_ping(cert: Certificate, now: datetime) -> dict[str, Any]:
    """The legacy `GET /<id>/ping` body; `age` and `time_on_page` are in milliseconds (§3.9)."""
    visit = visitor(cert)
    geo = visit["approx_ip_geo"] or {}
    kind = {Certificate.MASKED: "masked", Certificate.META: "facebook"}.get(cert.kind, "standard")
    return {
        "age": age_seconds(cert, visit, now) * 1000,
        "client": {
            "ip": visit["ip"],
            "user_agent": visit["user_agent"],
            "dimensions": {"screen": {"width": 1920, "height": 1080}, "window": {"width": 1440, "height": 900}},
            "geo": {"city": geo.get("city"), "country": geo.get("country_code"),
                    "postal_code": geo.get("postal_code"), "subdivisions": [geo.get("state")]},
        },
        "created_at": isoformat(cert.created_at),
        "location": {"framed": visit["is_framed"], "parent_url": visit["parent_page_url"], "url": visit["page_url"]},
        "time_on_page": int(visit["seconds_on_page"]) * 1000,
        "type": kind,
    }  # fmt: skip
