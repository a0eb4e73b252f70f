"""Every API-call row has its place in the chain now (0004); make it unique and required.

A separate migration so that PostgreSQL alters the table in a transaction of its own, after the data
migration's updates.
"""

from django.db import migrations, models


class Migration(migrations.Migration):
    dependencies = [("certificates", "0004_api_log_chain")]

    operations = [
        migrations.AlterField(
            model_name="apicall",
            name="seq",
            field=models.BigIntegerField(editable=False, unique=True),
        ),
    ]
