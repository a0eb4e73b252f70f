import json
from typing import Any

from django.core.management.base import BaseCommand, CommandError

from sandbox import clock, ids, store
from sandbox import state as sandbox_state
from sandbox.bootstrap import prepare_store
from sandbox.demo import mint_demo


class Command(BaseCommand):
    help = "Issue certificates straight into the sandbox's store and print their URLs."

    def add_arguments(self, parser: Any) -> None:
        parser.add_argument("--count", type=int, default=1)
        parser.add_argument("--email", help='the consumer\'s email; "{n}" numbers bulk leads')
        parser.add_argument("--phone")
        parser.add_argument("--page-text", dest="page_text")
        parser.add_argument("--age-hours", dest="age_hours", type=float, default=0.0)
        parser.add_argument("--type", dest="type", choices=sorted(store.KINDS), default="web")
        parser.add_argument("--sandbox", action="store_true", help="a sandbox certificate (405 on claim)")
        parser.add_argument("--form-submitted", dest="form_submitted", action="store_true")
        parser.add_argument("--bot", action="store_true")
        parser.add_argument("--json", dest="as_json", action="store_true", help="print a JSON list")
        parser.add_argument(
            "--demo", action="store_true", help="mint the demo set, with the lead data to import"
        )

    def handle(self, *args: Any, **options: Any) -> None:
        prepare_store()
        if options["demo"]:
            self.stdout.write(json.dumps(mint_demo(), indent=2))
            return
        fields = {k: options[k] for k in ("count", "email", "phone", "page_text", "age_hours", "type", "sandbox",
                                          "form_submitted", "bot") if options[k] is not None}  # fmt: skip
        try:
            wanted = store.MintRequest.from_json(fields)
        except ValueError as exc:
            raise CommandError(str(exc)) from exc
        certs = store.mint(wanted, clock.now(sandbox_state.load()))
        if options["as_json"]:
            self.stdout.write(json.dumps([store.minted_view(c) for c in certs], indent=2))
        else:
            for cert in certs:
                self.stdout.write(ids.cert_url(cert.cert_id))
