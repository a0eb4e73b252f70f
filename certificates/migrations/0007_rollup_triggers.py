"""Database triggers that mark a vendor's day dirty whenever one of its certificates (or their claims) changes.

Why triggers and not a Python hook: bulk_create() and QuerySet.update() skip save() and the model signals,
and the code already uses both (bulk intake, the sweep's expiry, bulk reviews, batch cancel/retry). A hook
that every path must remember is a hook some path forgets; the database sees every write. The triggers do
the least work possible (one small insert into certificates_rollupdirty per touched row, OLD and NEW
bucket); certificates.rollups.refresh_dirty() recounts the marked buckets later.

Only the columns the rollups count are watched, so the frequent lease writes (lease_owner,
lease_expires_at) mark nothing. A new rollup counter on another column must add that column here.
"""

from django.db import migrations

WATCHED = (
    "vendor_id, received_at, state, outcome, outcome_reason, fingerprint_result, scan_success, "
    "is_masked, bot_detected, reused, review_status, checked_in_at"
)
CLAIM_WATCHED = "certificate_id, insights, scans"

SQLITE_MARK = (
    "INSERT OR IGNORE INTO certificates_rollupdirty (vendor_id, day, tx) VALUES ({row}.vendor_id, "
    "date({row}.received_at), 0);"
)
SQLITE_CLAIM_MARK = (
    "INSERT OR IGNORE INTO certificates_rollupdirty (vendor_id, day, tx) SELECT vendor_id, "
    "date(received_at), 0 FROM certificates_certificate WHERE id = {row}.certificate_id;"
)

SQLITE_CREATE = [
    f"""CREATE TRIGGER certificates_rollup_cert_insert AFTER INSERT ON certificates_certificate
    BEGIN {SQLITE_MARK.format(row="NEW")} END""",
    f"""CREATE TRIGGER certificates_rollup_cert_update AFTER UPDATE OF {WATCHED} ON certificates_certificate
    BEGIN {SQLITE_MARK.format(row="OLD")} {SQLITE_MARK.format(row="NEW")} END""",
    f"""CREATE TRIGGER certificates_rollup_cert_delete AFTER DELETE ON certificates_certificate
    BEGIN {SQLITE_MARK.format(row="OLD")} END""",
    f"""CREATE TRIGGER certificates_rollup_claim_insert AFTER INSERT ON certificates_claim
    BEGIN {SQLITE_CLAIM_MARK.format(row="NEW")} END""",
    f"""CREATE TRIGGER certificates_rollup_claim_update AFTER UPDATE OF {CLAIM_WATCHED} ON certificates_claim
    BEGIN {SQLITE_CLAIM_MARK.format(row="OLD")} {SQLITE_CLAIM_MARK.format(row="NEW")} END""",
    f"""CREATE TRIGGER certificates_rollup_claim_delete AFTER DELETE ON certificates_claim
    BEGIN {SQLITE_CLAIM_MARK.format(row="OLD")} END""",
]
SQLITE_DROP = [
    f"DROP TRIGGER IF EXISTS certificates_rollup_{name}"
    for name in ("cert_insert", "cert_update", "cert_delete", "claim_insert", "claim_update", "claim_delete")
]

# PostgreSQL: the day is the UTC date of received_at; `tx` is the writing transaction, so a concurrent
# writer never relies on a mark that a refresh is about to delete (see RollupDirty).
POSTGRES_CREATE = [
    """CREATE FUNCTION certificates_rollup_mark_certificate() RETURNS trigger LANGUAGE plpgsql AS $$
    BEGIN
        IF TG_OP IN ('UPDATE', 'DELETE') THEN
            INSERT INTO certificates_rollupdirty (vendor_id, day, tx)
            VALUES (OLD.vendor_id, (OLD.received_at AT TIME ZONE 'UTC')::date, txid_current())
            ON CONFLICT DO NOTHING;
        END IF;
        IF TG_OP IN ('INSERT', 'UPDATE') THEN
            INSERT INTO certificates_rollupdirty (vendor_id, day, tx)
            VALUES (NEW.vendor_id, (NEW.received_at AT TIME ZONE 'UTC')::date, txid_current())
            ON CONFLICT DO NOTHING;
        END IF;
        RETURN NULL;
    END $$""",
    """CREATE FUNCTION certificates_rollup_mark_claim() RETURNS trigger LANGUAGE plpgsql AS $$
    BEGIN
        IF TG_OP IN ('UPDATE', 'DELETE') THEN
            INSERT INTO certificates_rollupdirty (vendor_id, day, tx)
            SELECT vendor_id, (received_at AT TIME ZONE 'UTC')::date, txid_current()
            FROM certificates_certificate WHERE id = OLD.certificate_id
            ON CONFLICT DO NOTHING;
        END IF;
        IF TG_OP IN ('INSERT', 'UPDATE') THEN
            INSERT INTO certificates_rollupdirty (vendor_id, day, tx)
            SELECT vendor_id, (received_at AT TIME ZONE 'UTC')::date, txid_current()
            FROM certificates_certificate WHERE id = NEW.certificate_id
            ON CONFLICT DO NOTHING;
        END IF;
        RETURN NULL;
    END $$""",
    """CREATE TRIGGER certificates_rollup_cert_insert_delete AFTER INSERT OR DELETE
    ON certificates_certificate FOR EACH ROW EXECUTE FUNCTION certificates_rollup_mark_certificate()""",
    f"""CREATE TRIGGER certificates_rollup_cert_update AFTER UPDATE OF {WATCHED}
    ON certificates_certificate FOR EACH ROW EXECUTE FUNCTION certificates_rollup_mark_certificate()""",
    """CREATE TRIGGER certificates_rollup_claim_insert_delete AFTER INSERT OR DELETE
    ON certificates_claim FOR EACH ROW EXECUTE FUNCTION certificates_rollup_mark_claim()""",
    f"""CREATE TRIGGER certificates_rollup_claim_update AFTER UPDATE OF {CLAIM_WATCHED}
    ON certificates_claim FOR EACH ROW EXECUTE FUNCTION certificates_rollup_mark_claim()""",
]
POSTGRES_DROP = [
    "DROP TRIGGER IF EXISTS certificates_rollup_cert_insert_delete ON certificates_certificate",
    "DROP TRIGGER IF EXISTS certificates_rollup_cert_update ON certificates_certificate",
    "DROP TRIGGER IF EXISTS certificates_rollup_claim_insert_delete ON certificates_claim",
    "DROP TRIGGER IF EXISTS certificates_rollup_claim_update ON certificates_claim",
    "DROP FUNCTION IF EXISTS certificates_rollup_mark_certificate()",
    "DROP FUNCTION IF EXISTS certificates_rollup_mark_claim()",
]

STATEMENTS = {
    "sqlite": (SQLITE_CREATE, SQLITE_DROP),
    "postgresql": (POSTGRES_CREATE, POSTGRES_DROP),
}


def _run(schema_editor, index: int) -> None:
    vendor = schema_editor.connection.vendor
    if vendor not in STATEMENTS:
        raise NotImplementedError(f"Rollup triggers are written for SQLite and PostgreSQL, not {vendor}.")
    for sql in STATEMENTS[vendor][index]:
        schema_editor.execute(sql)


def create_triggers(apps, schema_editor) -> None:
    _run(schema_editor, 0)


def drop_triggers(apps, schema_editor) -> None:
    _run(schema_editor, 1)


def mark_existing(apps, schema_editor) -> None:
    """Rows written before the triggers existed: mark their buckets so the first refresh counts them."""
    schema_editor.execute(
        "INSERT INTO certificates_rollupdirty (vendor_id, day, tx) "
        "SELECT DISTINCT vendor_id, "
        + ("date(received_at)" if schema_editor.connection.vendor == "sqlite" else "(received_at AT TIME ZONE 'UTC')::date")
        + ", 0 FROM certificates_certificate"
    )


class Migration(migrations.Migration):
    dependencies = [
        ("certificates", "0006_vendor_rollups"),
    ]

    operations = [
        migrations.RunPython(create_triggers, drop_triggers),
        migrations.RunPython(mark_existing, migrations.RunPython.noop),
    ]
