from django.apps import AppConfig
from django.db.models.signals import post_migrate


def _sync_roles(sender, **kwargs) -> None:
    from django.contrib.auth.models import Group, Permission

    from tfdash.roles import sync_roles

    sync_roles(Group, Permission)


class TfdashConfig(AppConfig):
    name = "tfdash"
    verbose_name = "tfdash"

    def ready(self) -> None:
        # After every migrate, so that permissions added by later migrations reach the roles.
        post_migrate.connect(_sync_roles, dispatch_uid="tfdash.sync_roles")
