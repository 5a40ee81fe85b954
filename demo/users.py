"""Demo logins for `make run` (created only in DEBUG or when asked for explicitly)."""

from django.contrib.auth import get_user_model
from django.contrib.auth.models import Group

from core.roles import AGENTS, MANAGERS, ensure_roles

DEMO_USERS = [
    ("admin", "tack-admin", "superuser"),
    ("manager", "tack-manager", MANAGERS),
    ("agent", "tack-agent", AGENTS),
]


def ensure_demo_users() -> None:
    ensure_roles()
    User = get_user_model()
    for username, password, role in DEMO_USERS:
        user, _ = User.objects.get_or_create(username=username)
        user.is_staff = True
        user.is_superuser = role == "superuser"
        user.set_password(password)
        user.save()
        if role != "superuser":
            user.groups.set([Group.objects.get(name=role)])
