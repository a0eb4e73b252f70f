"""Chain the API-call log: number every existing row, hash it, and record the head."""

import django.db.models.deletion
from django.conf import settings
from django.db import migrations, models


def chain_existing_rows(apps, schema_editor):
    # The hash definition is the log's protocol, shared with the code that writes new rows.
    from certificates.apilog.chain import GENESIS, body_digest, compute_row_hash

    ApiCall = apps.get_model("certificates", "ApiCall")
    ApiLogHead = apps.get_model("certificates", "ApiLogHead")
    prev, seq = GENESIS, 0
    for call in ApiCall.objects.order_by("created_at", "id").iterator(chunk_size=2000):
        seq += 1
        call.seq, call.prev_hash = seq, prev
        call.body_sha256 = body_digest(call.request_body, call.response_body)
        call.row_hash = compute_row_hash(call)
        ApiCall.objects.filter(pk=call.pk).update(
            seq=call.seq, prev_hash=call.prev_hash, body_sha256=call.body_sha256, row_hash=call.row_hash
        )
        prev = call.row_hash
    ApiLogHead.objects.update_or_create(pk=1, defaults={"last_seq": seq, "last_hash": "" if not seq else prev})


class Migration(migrations.Migration):
    dependencies = [
        ("certificates", "0003_workspace_indexes"),
        migrations.swappable_dependency(settings.AUTH_USER_MODEL),
    ]

    operations = [
        migrations.CreateModel(
            name="ApiLogHead",
            fields=[
                ("id", models.BigAutoField(auto_created=True, primary_key=True, serialize=False, verbose_name="ID")),
                ("last_seq", models.BigIntegerField(default=0)),
                ("last_hash", models.CharField(blank=True, max_length=64)),
            ],
        ),
        migrations.AddField(
            model_name="apicall",
            name="seq",
            field=models.BigIntegerField(editable=False, null=True),
        ),
        migrations.AddField(
            model_name="apicall",
            name="body_sha256",
            field=models.CharField(default="", editable=False, max_length=64),
            preserve_default=False,
        ),
        migrations.AddField(
            model_name="apicall",
            name="bodies_pruned_at",
            field=models.DateTimeField(blank=True, editable=False, null=True),
        ),
        migrations.AddField(
            model_name="apicall",
            name="prev_hash",
            field=models.CharField(default="", editable=False, max_length=64),
            preserve_default=False,
        ),
        migrations.AddField(
            model_name="apicall",
            name="row_hash",
            field=models.CharField(default="", editable=False, max_length=64),
            preserve_default=False,
        ),
        migrations.AlterField(
            model_name="apicall",
            name="triggered_by",
            field=models.ForeignKey(
                blank=True,
                null=True,
                on_delete=django.db.models.deletion.PROTECT,
                to=settings.AUTH_USER_MODEL,
            ),
        ),
        migrations.AlterField(
            model_name="apicall",
            name="certificate",
            field=models.ForeignKey(
                blank=True,
                null=True,
                on_delete=django.db.models.deletion.PROTECT,
                related_name="api_calls",
                to="certificates.certificate",
            ),
        ),
        migrations.RunPython(chain_existing_rows, migrations.RunPython.noop),
    ]
