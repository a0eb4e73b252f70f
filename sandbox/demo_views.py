"""A consumer-facing lead form: submitting it issues a web certificate, as TrustedForm Certify would."""

from django.http import HttpRequest, HttpResponse
from django.shortcuts import render
from django.views.decorators.http import require_http_methods

from sandbox import clock, ids, store
from sandbox import state as sandbox_state

COMPANY = "Acme Insurance Inc."
CONSENT_TEXT = (
    f"By clicking Get My Quote, I agree that {COMPANY} and its partners may contact me at the email address "
    "and telephone number provided, including by autodialed and prerecorded calls and text messages. "
    "Consent is not a condition of purchase."
)
HEADLINE = "Compare insurance quotes in minutes"
LABELS = ("Full name", "Email address", "Phone number")
BUTTON = "Get My Quote"


def visible_text() -> str:
    """The text a visitor sees on the form, which is what the certificate records for page scans."""
    return "\n".join([HEADLINE, *LABELS, CONSENT_TEXT, BUTTON])


@require_http_methods(["GET", "POST"])
def lead_form(request: HttpRequest) -> HttpResponse:
    context = {"headline": HEADLINE, "consent": CONSENT_TEXT, "button": BUTTON, "labels": LABELS}
    if request.method == "POST":
        email = request.POST.get("email", "").strip()
        phone = request.POST.get("phone", "").strip()
        if not email and not phone:
            context["error"] = "Please give an email address or a phone number."
        else:
            minted = store.MintRequest(
                emails=[email] if email else [],
                phones=[phone] if phone else [],
                page_text=visible_text(),
                form_submitted=True,
                verify={"languages": [CONSENT_TEXT], "tagged_consent": True, "advertisers": [COMPANY]},
            )
            cert = store.mint(minted, clock.now(sandbox_state.load()))[0]
            context.update(cert_url=ids.cert_url(cert.cert_id), expires_at=clock.isoformat(cert.expires_at))
    return render(request, "sandbox/demo.html", context)
