from django.apps import AppConfig
from django.contrib.auth.signals import user_logged_in
from django.db.models.signals import post_migrate


def _sync_roles(sender, **kwargs) -> None:
    from django.contrib.auth.models import Group, Permission

    from tfdash.roles import sync_roles

    sync_roles(Group, Permission)


def _update_last_login(sender, user, **kwargs) -> None:
    """Django's own handler saves the user, which would add an empty row to the user's history on every
    log-in; an UPDATE keeps the trail to real changes (axes logs the log-ins)."""
    from django.utils import timezone

    user.last_login = timezone.now()
    type(user)._default_manager.filter(pk=user.pk).update(last_login=user.last_login)


class TfdashConfig(AppConfig):
    name = "tfdash"
    verbose_name = "tfdash"

    def ready(self) -> None:
        # After every migrate, so that permissions added by later migrations reach the roles.
        post_migrate.connect(_sync_roles, dispatch_uid="tfdash.sync_roles")
        user_logged_in.disconnect(dispatch_uid="update_last_login")
        user_logged_in.connect(_update_last_login, dispatch_uid="tfdash.update_last_login")
        from tfdash import preferences  # noqa: F401  (connects the receiver that reads a person's time zone at login)
        from tfdash.authcache import connect_signals

        connect_signals()
