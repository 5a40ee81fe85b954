"""Demo logins for `make run` (created only in DEBUG or when asked for explicitly), and the
service agents the demo's phone cases and win-back calls are logged by."""

from django.contrib.auth import get_user_model
from django.contrib.auth.models import Group

from core.roles import AGENTS, MANAGERS, ensure_roles

DEMO_USERS = [
    ("admin", "tack-admin", "superuser"),
    ("manager", "tack-manager", MANAGERS),
    ("agent", "tack-agent", AGENTS),
]
# The demo login "agent" works the phones with colleagues who have no login.
DEMO_AGENTS = ["agent", "astrid", "mikkel", "ingrid", "johan", "sofie", "lars", "maja"]


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


def ensure_demo_agents() -> list[tuple[int, str]]:
    """The agents as (id, username); those created here cannot log in."""
    ensure_roles()
    User = get_user_model()
    agents = Group.objects.get(name=AGENTS)
    result = []
    for username in DEMO_AGENTS:
        user = User.objects.filter(username=username).first()
        if user is None:
            user = User(username=username, is_staff=True)
            user.set_unusable_password()
            user.save()
            user.groups.add(agents)
        result.append((user.pk, user.username))
    return result
