from django.db import migrations, models


class Migration(migrations.Migration):
    dependencies = [
        ("certificates", "0007_rollup_triggers"),
    ]

    operations = [
        migrations.AddField(
            model_name="importbatch",
            name="still_reading",
            field=models.BooleanField(default=False),
        ),
    ]
