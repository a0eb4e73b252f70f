from django.db import migrations, models


class Migration(migrations.Migration):
    dependencies = [
        ("certificates", "0013_rollup_unclaimed_counters"),
    ]

    operations = [
        migrations.AddField(
            model_name="importrowerror",
            name="row",
            field=models.JSONField(blank=True, default=dict),
        ),
    ]
