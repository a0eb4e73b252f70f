"""The demo set `make run` starts with: a mix of leads that show what tfdash does with each."""

from typing import Any

from sandbox import clock, store
from sandbox import state as sandbox_state

CONSENT = (
    "By clicking Get My Quote, I agree that Acme Insurance and its partners may contact me at the number "
    "provided, including by autodialer and prerecorded messages. Consent is not a condition of purchase."
)

# (how many, mint fields, the lead data the buyer will send, what it shows)
DEMO_LEADS: list[tuple[int, dict[str, Any], str]] = [
    (12, {"form_submitted": True}, "a clean lead: fingerprints match"),
    (3, {}, "the buyer's email differs from what the consumer typed"),
    (2, {"bot": True}, "a bot filled the form"),
    (1, {"type": "masked"}, "a masked certificate: matching always fails"),
    (1, {"sandbox": True}, "a sandbox certificate: not claimable"),
    (2, {"age_hours": 66}, "close to its 72-hour deadline"),
    (1, {"age_hours": 80}, "already expired"),
]


def mint_demo() -> list[dict[str, Any]]:
    """Mint the demo set; each entry has the lead data to import beside the certificate URL."""
    now = clock.now(sandbox_state.load())
    leads, n = [], 0
    for count, fields, note in DEMO_LEADS:
        for _ in range(count):
            n += 1
            email, phone = f"lead{n:02d}@example.com", f"51255501{n:02d}"
            request = store.MintRequest.from_json(
                {"email": email, "phone": phone, "page_text": CONSENT, **fields}
            )
            [cert] = store.mint(request, now)
            sent_email = f"someone.else{n:02d}@example.com" if "differs" in note else email
            leads.append({**store.minted_view(cert), "email": sent_email, "phone": phone, "note": note})
    return leads
