"""The list's search box finds a certificate by the short id the list shows ("b84b6b03…")."""

import re

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse

from tests.factories import make_certificate, make_user

pytestmark = pytest.mark.django_db

LIST = reverse("certificates:list")
CERT = "https://cert.trustedform.com/"
WANTED_ID = "b84b6b03" + "5e" * 16
OTHER_ID = "b84b6c03" + "5e" * 16  # shares the first five characters only


@pytest.fixture
def certificates(client):
    client.force_login(make_user("viewer"))
    return make_certificate(CERT + WANTED_ID), make_certificate(CERT + OTHER_ID)


def shown(response, certificate) -> bool:
    return f'href="{certificate.get_absolute_url()}"' in response.content.decode()


def test_the_short_id_the_list_shows_finds_its_certificate(client, certificates):
    wanted, other = certificates
    page = client.get(LIST).content.decode()
    short_id = re.search(r">(b84b6b0[^<]*)<", page).group(1)
    assert short_id == "b84b6b03…"

    found = client.get(LIST, {"q": f" {short_id} "})

    assert shown(found, wanted)
    assert not shown(found, other)


@pytest.mark.parametrize("query", ["b84b6b", "B84B6B03", "b84b6b03...", WANTED_ID[:30]])
def test_a_hex_prefix_of_six_or_more_characters_finds_the_certificate(client, certificates, query):
    wanted, other = certificates

    found = client.get(LIST, {"q": query})

    assert shown(found, wanted)
    assert not shown(found, other)


@pytest.mark.parametrize("query", ["b84b6", "b84b6b0x", "b84b6b03…x", "…"])
def test_short_or_non_hex_text_is_not_taken_for_an_id_prefix(client, certificates, query):
    found = client.get(LIST, {"q": query})

    assert not any(shown(found, c) for c in certificates)


def test_a_prefix_is_an_index_range_not_a_substring_scan(client, certificates):
    with CaptureQueriesContext(connection) as queries:
        client.get(LIST, {"q": "b84b6b03…"})

    search = [q["sql"] for q in queries if "b84b6b03" in q["sql"]]
    assert search, "the search query ran"
    assert all("b84b6b03%" in sql and "%b84b6b03" not in sql for sql in search)
