"""Create the four role groups with their permissions (tfdash/roles.py is the source of truth)."""

from django.contrib.auth.management import create_permissions
from django.db import migrations


def create_roles(apps, schema_editor) -> None:
    from tfdash.roles import sync_roles

    # Permissions are normally created after all migrations; create them now so the roles get them.
    for app_config in apps.get_app_configs():
        app_config.models_module = True
        create_permissions(app_config, apps=apps, verbosity=0)
        app_config.models_module = None
    sync_roles(apps.get_model("auth", "Group"), apps.get_model("auth", "Permission"))


def remove_roles(apps, schema_editor) -> None:
    from tfdash.roles import ROLES

    apps.get_model("auth", "Group").objects.filter(name__in=ROLES).delete()


class Migration(migrations.Migration):
    dependencies = [
        ("auth", "0012_alter_user_first_name_max_length"),
        ("contenttypes", "0002_remove_content_type_name"),
        ("certificates", "0001_initial"),
    ]

    operations = [migrations.RunPython(create_roles, remove_roles)]
