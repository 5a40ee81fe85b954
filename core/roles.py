"""The two staff roles and what each may do in the admin.

Service agents work with customers, subscriptions, cancellation cases and the callback
queue. Retention managers may do everything in Tack, configuration, webhooks and data rights
(export and erasure) included.
"""

import contextlib
import functools
import operator

from django.apps import apps as global_apps
from django.db.models import Q

AGENTS = "Service agents"
MANAGERS = "Retention managers"

TACK_APPS = ("core", "subscriptions", "desk", "cancellations", "winback", "privacy", "retention")

AGENT_PERMISSIONS = {
    "subscriptions": [
        "view_customer",
        "change_customer",
        "view_plan",
        "view_subscription",
        # Unlocks only "Create cancel links" (logged, with a reason); the page stays read-only.
        "change_subscription",
        "view_subscriptionevent",
    ],
    "cancellations": [
        "view_cancellationcase",
        "add_cancellationcase",
        "change_cancellationcase",
        "view_offer",
        "log_exit_interview",
    ],
    "desk": ["view_callbackrequest", "change_callbackrequest"],
    "winback": ["view_lostcustomer", "view_outreach", "log_winback_call", "view_comeback"],
}


MANAGER_AXES = [
    "view_accessattempt",
    "delete_accessattempt",
    "view_accessfailurelog",
    "view_accesslog",
]


def ensure_roles(apps=global_apps) -> None:
    """Create both groups and give them their permissions (idempotent): per group, one query
    for the permissions it should have and one for those it has, then one insert of the
    missing ones, if any."""
    Group = apps.get_model("auth", "Group")
    Permission = apps.get_model("auth", "Permission")

    # The lockout page tells a locked-out colleague to ask a manager: managers see the
    # failed sign-ins and unlock an account by deleting its access attempt.
    manager_permissions = Q(content_type__app_label__in=TACK_APPS) | Q(
        content_type__app_label="axes", codename__in=MANAGER_AXES
    )
    agent_permissions = functools.reduce(
        operator.or_,
        (
            Q(content_type__app_label=app_label, codename__in=codenames)
            for app_label, codenames in AGENT_PERMISSIONS.items()
        ),
    )

    for name, permissions in ((MANAGERS, manager_permissions), (AGENTS, agent_permissions)):
        group, _ = Group.objects.get_or_create(name=name)
        group.permissions.add(*Permission.objects.filter(permissions).values_list("pk", flat=True))


def sync_roles_after_migrate(sender, apps=global_apps, **kwargs) -> None:
    if sender.name == "core" or sender.name in TACK_APPS:
        with contextlib.suppress(LookupError):  # auth is not migrated yet in this plan
            ensure_roles(apps)
